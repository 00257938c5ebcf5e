"""Reliability table: injected faults, kills, bad and hostile inputs and a full disk, and what was lost.

    .venv/bin/python benchmarks/reliability.py          # about 12 minutes on 2 cores

Every figure comes from real runs of ``request-dse`` as a separate process: a study over every
fault of the ``faults`` backend at both stages; a study killed with SIGKILL at random moments and
resumed (every interrupted candidate must be measured again); SIGTERM and Ctrl-C during a build
(how long until the process ends, what stays running) and SIGKILL of ``tune`` alone (what
outlives it); three ``tune`` processes sharing one study; every malformed input of
``tests/data/bad/``; every hostile input made at run time (``request_dse/testing/hostile.py`` and
``bundle_cases.py``: bombs, deep documents, unsafe bundle settings, fake names, a self-written
badge, bad settings); a study whose disk fills up (when a small tmpfs can be mounted). Writes
``benchmarks/results/reliability.md``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import REPO, fresh_env, machine, tempdir, write_section  # noqa: E402

EXE = str(Path(sys.executable).with_name("request-dse"))
BAD = REPO / "tests" / "data" / "bad"
FAST = {"warmup_runs": 2, "min_runs": 20, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1, "timeout_s": 15,
        "memory_limit_mb": 1500}


def study(path: Path, name: str, **fields: object) -> Path:
    doc = {"name": name, "workload": "digits", "target": "local-cpu",
           "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                    "model.resolution": [4, 8], "model.precision": ["fp32"]}},
           "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
           "measure": FAST, "build": {"timeout_s": 15, "memory_limit_mb": 1500},
           "tracking": {"enabled": False}, "confirm": {"enabled": False}, "cache": False, **fields}
    path.write_text(yaml.safe_dump(doc))
    return path


def run(*args: str, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def report(path: Path, env: dict[str, str], *extra: str) -> dict | None:  # type: ignore[type-arg]
    done = run("report", str(path), "--json", *extra, env=env)
    try:
        return json.loads(done.stdout)
    except ValueError:
        return None  # the study could not be read back: corrupted


def faults(tmp: Path, env: dict[str, str]) -> list[list[object]]:
    from request_dse.testing.faults import EXPECTED_STATUS

    kinds = sorted({k for k, _ in EXPECTED_STATUS})
    # prepare the model once (a fresh cache's first build also prepares it: not what is measured here)
    warm = study(tmp / "warm.yaml", "warm", frameworks={"faults": {"fault": ["none"]}}, build={"timeout_s": 600},
                 space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                       "model.resolution": [4], "model.precision": ["fp32"]}}, budget={"trials": 1})
    run("tune", str(warm), "-q", "--no-export", env=env)
    path = study(tmp / "faults.yaml", "faults", frameworks={"faults": {"fault": kinds, "stage": ["build", "measure"]}},
                 space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                       "model.resolution": [4], "model.precision": ["fp32"]}},
                 sampler={"name": "grid"}, budget={"trials": 2 * len(kinds)})
    run("tune", str(path), "-q", "--no-export", env=env)
    rep = report(path, env) or {"trials": []}
    rows = []
    for kind in kinds:
        for stage in ("build", "measure"):
            got = [t for t in rep["trials"] if t["candidate"].get("faults.fault") == kind
                   and t["candidate"].get("faults.stage") == stage]
            expected = EXPECTED_STATUS[(kind, stage)]
            rows.append([f"{kind} ({stage})", expected, got[0]["status"] if got else "(lost)",
                         1 - len(got), "0" if rep["trials"] else "1"])
    return rows


def kills(tmp: Path, env: dict[str, str], n: int = 5, budget: int = 8) -> list[object]:
    path = study(tmp / "killed.yaml", "killed", frameworks={"onnxruntime": {"graph_optimization_level":
                                                                             ["basic", "extended", "all"]}},
                 sampler={"name": "random", "seed": 7}, budget={"trials": budget})
    rng = random.Random(7)
    landed = 0
    for _ in range(n):
        proc = subprocess.Popen([EXE, "tune", str(path), "-q", "--no-export"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(1.0, 6.0))
        landed += proc.poll() is None
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run("tune", str(path), "-q", "--no-export", env=env)
    rep = report(path, env, "--all")
    if rep is None:
        return [f"SIGKILL at {n} random moments, then resume", landed, "?", 1]
    trials = [t for t in rep["trials"] if "skip" not in t]
    done = [t for t in trials if t["status"] not in ("interrupted", "running")]
    twice = sum(c - 1 for c in Counter(t["hash"] for t in done).values())
    interrupted = {t["hash"] for t in trials if t["status"] == "interrupted" and t.get("hash")}
    never = len(interrupted - {t["hash"] for t in done})
    return [f"SIGKILL at {n} random moments ({landed} mid-study), then resume",
            f"{len(done)} of {budget} finished, {twice} measured twice; {len(interrupted)} candidates interrupted, "
            f"{never} never measured again", budget - len(done) + never, 0]


MARK = "REQUEST_DSE_BENCH_MARK"


def _marked(mark: str) -> list[object]:
    import psutil

    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK) == mark:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def _hanging_build(tmp: Path, name: str, env: dict[str, str]) -> tuple[Path, subprocess.Popen[str], str]:
    """A study whose builds hang (a generous timeout), started; returns once a build is under way."""
    import uuid

    def as_in_a_terminal() -> None:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.signal(signal.SIGINT, signal.SIG_DFL)

    path = study(tmp / f"{name}.yaml", name, frameworks={"faults": {"fault": ["hang"], "stage": ["build"]}},
                 sampler={"name": "grid"}, budget={"trials": 4}, build={"timeout_s": 600, "memory_limit_mb": 1500})
    mark = uuid.uuid4().hex
    proc = subprocess.Popen([EXE, "tune", str(path), "-q", "--no-export"], env={**env, MARK: mark},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True, start_new_session=True,
                            preexec_fn=as_in_a_terminal)
    deadline = time.monotonic() + 300
    while not any((tmp / ".request-dse" / name / "trials").glob("*/build.log")) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    return path, proc, mark


def stops(tmp: Path, env: dict[str, str]) -> list[list[object]]:
    """SIGTERM and SIGINT (to the group, as Ctrl-C) during a build; SIGKILL of tune alone."""
    rows: list[list[object]] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        path, proc, mark = _hanging_build(tmp, f"stop-{sig.name.lower()}", env)
        sent = time.monotonic()
        os.killpg(proc.pid, sig)
        proc.wait(120)
        took = time.monotonic() - sent
        time.sleep(1.0)
        alive = len(_marked(mark))
        rep = report(path, env, "--all")
        statuses = Counter(t["status"] for t in (rep or {}).get("trials", []) if "skip" not in t)
        rows.append([f"{sig.name} during a build", f"exit {proc.returncode} after {took:.1f} s; {alive} processes "
                     f"alive 1 s later; {statuses['interrupted']} trials interrupted", statuses["running"], 0])
    path, proc, mark = _hanging_build(tmp, "sigkill-alone", env)
    helpers = len(_marked(mark)) - 1
    proc.kill()
    proc.wait()
    time.sleep(1.0)
    rows.append(["SIGKILL of tune alone during a build", f"{len(_marked(mark))} of its {helpers} helper processes "
                 "alive 1 s later", 0, 0])
    return rows


def concurrent(tmp: Path, env: dict[str, str], budget: int = 10) -> list[object]:
    """Three tune processes on one study with the grid sampler."""
    import optuna

    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    path = study(tmp / "shared.yaml", "shared", frameworks={"onnxruntime": {"graph_optimization_level":
                                                                             ["basic", "extended", "all"]}},
                 sampler={"name": "grid"}, budget={"trials": budget})
    procs = [subprocess.Popen([EXE, "tune", str(path), "-q", "--no-export"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL) for _ in range(3)]
    codes = [p.wait(900) for p in procs]
    shared = load_existing(load_plan(path).storage_url, "shared")
    measured = [r.hash for r in records(shared) if r.measured]
    waiting = len(shared.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
    twice = len(measured) - len(set(measured))
    return [f"3 tune processes on one study (grid, budget {budget})",
            f"exit codes {codes}; {len(measured)} measured, {twice} twice, {waiting} trials left waiting",
            max(0, budget - len(measured)), 0]


def bad_inputs(env: dict[str, str]) -> list[object]:
    cases = [c for c in sorted(BAD.iterdir()) if c.name != "expected.tsv"]
    handled = 0
    for case in cases:
        target = case / "study.yaml" if case.is_dir() else case
        done = run("space", str(target), env=env)
        lines = done.stderr.strip().splitlines()
        handled += done.returncode == 2 and len(lines) == 1 and "Traceback" not in done.stderr
    return [len(cases), handled]


def hostile_inputs(tmp: Path) -> tuple[int, int, list[str], float, float]:
    """(tried, handled, problems, slowest refusal in s, largest peak memory in MiB) of every hostile case."""
    from request_dse.testing import bundle_cases, hostile
    from request_dse.testing.bundles import Kit

    kit = Kit(tmp / "kit")
    tried = handled = 0
    problems: list[str] = []
    slowest = largest = 0.0
    for case in (*hostile.CASES, *bundle_cases.CASES):
        if case.available():
            problems.append(f"{case.name}: not run here ({case.available()})")
            continue
        tried += 1
        folder = tmp / "hostile" / case.name
        outcome = hostile.run(case, folder, kit)
        found = outcome.problems(case, folder)
        handled += not found
        problems += [f"{case.name}: {p}" for p in found]
        slowest, largest = max(slowest, outcome.wall_s), max(largest, outcome.peak_rss_mb)
    return tried, handled, problems, slowest, largest


def full_disk(tmp: Path, env: dict[str, str]) -> list[object] | None:
    disk = tmp / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True).returncode:
        return None
    try:
        path = study(tmp / "full.yaml", "full", frameworks=["onnxruntime"], work_dir=str(disk / "work"),
                     sampler={"name": "grid"}, budget={"trials": 2})
        run("tune", str(path), "-q", "--no-export", env=env)
        before = (report(path, env) or {"trials": []})["trials"]
        with open(disk / "filler", "wb") as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 16))
                    f.flush()
            except OSError:
                pass
        refused = run("tune", str(path), "-q", "--no-export", "--trials", "4", env=env)
        (disk / "filler").unlink()
        after = report(path, env)
        kept = after is not None and after["trials"][:len(before)] == before
        return [f"disk full during a study (exit {refused.returncode}: "
                f"{refused.stderr.strip().splitlines()[-1][:60] if refused.stderr.strip() else ''}...)",
                "one-line error", 0 if kept else len(before), 0 if after is not None else 1]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def main() -> None:
    started = time.time()
    with tempdir() as name:
        tmp = Path(name)
        env = fresh_env(tmp)
        fault_rows = faults(tmp, env)
        kill_row = kills(tmp, env)
        stop_rows = stops(tmp, env)
        shared_row = concurrent(tmp, env)
        tried, handled = bad_inputs(env)
        h_tried, h_handled, h_problems, slowest, largest = hostile_inputs(tmp)
        disk_row = full_disk(tmp, env)
    events = [kill_row, *stop_rows, shared_row]
    lost = sum(int(r[3]) for r in fault_rows) + sum(int(r[2]) for r in events) + (int(disk_row[2]) if disk_row else 0)
    corrupted = int(kill_row[3]) + (int(disk_row[3]) if disk_row else 0) + sum(int(r[4]) for r in fault_rows[:1])
    lines = ["## Reliability", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, in {time.time() - started:.0f} s, with:", "",
             "    .venv/bin/python benchmarks/reliability.py", "",
             "| fault injected (stage) | expected status | status recorded | trials lost |", "|---|---|---|---|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in fault_rows]
    lines += ["", "| event | outcome | trials lost | studies corrupted |", "|---|---|---|---|",
              *(f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in events)]
    if disk_row:
        lines.append(f"| {disk_row[0]} | {disk_row[1]} | {disk_row[2]} | {disk_row[3]} |")
    lines += ["", f"Bad inputs tried (tests/data/bad/): **{tried}**, handled with exit code 2 and a one-line error: "
              f"**{handled}**.",
              f"Hostile inputs made at run time (bundles, archives, settings, names): **{h_tried}**, handled as they "
              f"must be (refused in one escaped line, nothing written where they chose; a scoreboard still written): "
              f"**{h_handled}**; slowest refusal {slowest:.1f} s, largest peak memory {largest:.0f} MiB "
              "(per case: benchmarks/results/untrusted.md).",
              *[f"- {p}" for p in h_problems],
              f"Faults injected: **{len(fault_rows)}**; trials lost in all: **{lost}**; studies corrupted: "
              f"**{corrupted}**.", ""]
    write_section(REPO / "benchmarks" / "results" / "reliability.md", lines)


if __name__ == "__main__":
    main()
