"""The README's tour, command by command as written, in a fresh copy of the repository's data.

What differs from a user's first run, and why (everything else is the README's text):

- ``studies/quickstart.yaml`` and ``studies/quickstart-ort.yaml`` are replaced by small, fast
  studies of the same names, space and objectives (4 and 3 trials, a short measurement
  protocol) -- the real ones take minutes;
- ``request-dse ui`` gets ``--port <free port>`` (5000 may be taken on a shared machine) and is
  stopped with Ctrl-C once it serves, as a user would;
- ``request-dse baseline`` gets ``--backend onnxruntime --model mobilenet-w0.25-r4 --precision
  fp32`` and a short protocol: as written it measures 175 candidates (about 12 minutes);
- the leading ``source .venv/bin/activate`` is this interpreter's environment.

Every command runs, even after one fails, and the test lists every step that did not do what
the README says. The copy is a git checkout, as a fresh clone is: at the end, everything the
tour wrote must be ignored by git.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST_MEASURE, REPO

DATA = ("backends", "targets", "search_spaces", "studies", "mlflow", ".gitignore")
SMALL = {"quickstart": 4, "quickstart-ort": 3}
BASELINE = ("--backend", "onnxruntime", "--model", "mobilenet-w0.25-r4", "--precision", "fp32",
            "--repeats", "1", "--min-runs", "10", "--min-time-s", "0")


def tour() -> list[str]:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## A short tour"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the tour has no sh block"
    return [line.split("  #")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _fresh_copy(dest: Path) -> None:
    """The tracked files of the data folders, committed in a new git repository (a fresh clone)."""
    files = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", *DATA], capture_output=True, check=True)
    for name in files.stdout.decode().split("\0"):
        if name:
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).write_bytes((REPO / name).read_bytes())
    for study, trials in SMALL.items():
        path = dest / "studies" / f"{study}.yaml"
        doc = yaml.safe_load(path.read_text())
        doc.update(budget={"trials": trials}, measure=dict(FAST_MEASURE), confirm={"enabled": True, "repeats": 2})
        path.write_text(yaml.safe_dump(doc))
    git = ["git", "-C", str(dest), "-c", "user.name=tour", "-c", "user.email=tour@localhost"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "fresh clone"], check=True)


def _env() -> dict[str, str]:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("REQUEST_DSE_PLUGINS", None)  # a user's environment: no test backends
    env.pop("MLFLOW_TRACKING_URI", None)
    return env


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ui(command: str, cwd: Path) -> str | None:
    """Run the UI until it serves, then press Ctrl-C; what went wrong, or None."""
    port = _free_port()
    proc = subprocess.Popen([*shlex.split(command), "--port", str(port)], cwd=cwd, env=_env(), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    url = f"http://127.0.0.1:{port}"
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if url in line:
            break
    else:
        return f"exit {proc.wait()} without printing {url}: {''.join(lines)[-500:]}"
    try:
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
    except OSError as exc:
        proc.kill()
        return f"printed {url} but does not serve it ({exc})"
    proc.send_signal(signal.SIGINT)
    code = proc.wait(timeout=60)
    proc.stdout.close()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return None if code == 0 else f"exit {code} after Ctrl-C"
        time.sleep(0.2)
    return f"{url} still served after Ctrl-C"


def _validated(result: subprocess.CompletedProcess[str], cwd: Path) -> str | None:
    """Several bundles: a verdict for each; exit 0 exactly when every one is reproduced."""
    bundles = sorted(p.name for p in (cwd / "submissions" / "quickstart").iterdir() if p.is_dir())
    verdicts = {name: re.search(rf"{re.escape(name)}/?: (\w+) \(badges:", result.stdout) for name in bundles}
    missing = [name for name, found in verdicts.items() if found is None]
    if missing or not bundles:
        return f"exit {result.returncode}; no verdict for {missing or 'any bundle'}: {(result.stdout + result.stderr)[-800:]}"
    every = all(found.group(1) == "reproduced" for found in verdicts.values() if found is not None)
    if (result.returncode == 0) != every:
        return f"exit {result.returncode} with verdicts {[f.group(1) for f in verdicts.values() if f]}"
    return None


EXPECT = {  # what each command's output says when it did what the README says
    "space": "distinct candidates", "report": "Pareto front:", "compare": "MLflow UI:",
    "baseline": "1 baseline bundle in", "doctor": "energy counters",
}


@pytest.mark.slow
def test_the_readme_tour_runs_as_written(tmp_path: Path) -> None:
    commands = tour()
    assert commands[0] == "source .venv/bin/activate"
    assert len(commands) == 11 and all(c.startswith("request-dse ") for c in commands[1:]), commands
    _fresh_copy(tmp_path)
    problems = []
    for command in commands[1:]:
        verb = command.split()[1]
        if verb == "ui":
            problem = _ui(command, tmp_path)
        else:
            line = command + (" " + shlex.join(BASELINE) if verb == "baseline" else "")
            result = subprocess.run(line, shell=True, cwd=tmp_path, env=_env(), capture_output=True, text=True,
                                    timeout=900)
            if verb == "validate":
                problem = _validated(result, tmp_path)
            elif result.returncode != 0:
                problem = f"exit {result.returncode}: {(result.stdout + result.stderr)[-800:]}"
            elif verb in EXPECT and EXPECT[verb] not in result.stdout:
                problem = f"no {EXPECT[verb]!r} in: {result.stdout[-800:]}"
            else:
                problem = None
        if problem:
            problems.append(f"{command}: {problem}")
    page = tmp_path / "scoreboard.html"
    if not (page.is_file() and "quickstart-ort" in page.read_text()):
        problems.append("scoreboard.html does not show both studies")
    status = subprocess.run(["git", "-C", str(tmp_path), "status", "--porcelain", "--untracked-files=all"],
                            capture_output=True, text=True, check=True).stdout
    if status:
        problems.append(f"not ignored by git in a fresh clone:\n{status}")
    assert not problems, "\n".join(problems)
