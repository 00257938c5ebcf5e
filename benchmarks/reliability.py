"""Reliability table: injected faults, kills, bad and hostile inputs and a full disk, and what was lost.

    .venv/bin/python benchmarks/reliability.py          # about 12 minutes on 2 cores

Every figure comes from real runs of ``request-dse`` as a separate process: a study over every
fault of the ``faults`` backend at both stages; a study killed with SIGKILL at random moments and
resumed; every malformed input of ``tests/data/bad/``; every hostile input made at run time
(``request_dse/testing/hostile.py`` and ``bundle_cases.py``: bombs, deep documents, unsafe
bundle settings, fake names, a self-written badge, bad settings); a study whose disk fills up
(when a small tmpfs can be mounted). Writes ``benchmarks/results/reliability.md``.
"""

from __future__ import annotations

import json
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


def report(path: Path, env: dict[str, str]) -> dict | None:  # type: ignore[type-arg]
    done = run("report", str(path), "--json", env=env)
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
    rep = report(path, env)
    if rep is None:
        return [f"SIGKILL at {n} random moments, then resume", landed, "?", 1]
    done = [t for t in rep["trials"] if t["status"] != "interrupted"]
    twice = sum(c - 1 for c in Counter(t["hash"] for t in done).values())
    return [f"SIGKILL at {n} random moments ({landed} mid-study), then resume",
            f"{len(done)} of {budget} finished, {twice} measured twice", budget - len(done), 0]


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
        tried, handled = bad_inputs(env)
        h_tried, h_handled, h_problems, slowest, largest = hostile_inputs(tmp)
        disk_row = full_disk(tmp, env)
    lost = sum(int(r[3]) for r in fault_rows) + int(kill_row[2]) + (int(disk_row[2]) if disk_row else 0)
    corrupted = int(kill_row[3]) + (int(disk_row[3]) if disk_row else 0) + sum(int(r[4]) for r in fault_rows[:1])
    lines = ["## Reliability", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, in {time.time() - started:.0f} s, with:", "",
             "    .venv/bin/python benchmarks/reliability.py", "",
             "| fault injected (stage) | expected status | status recorded | trials lost |", "|---|---|---|---|"]
    lines += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in fault_rows]
    lines += ["", "| event | outcome | trials lost | studies corrupted |", "|---|---|---|---|",
              f"| {kill_row[0]} | {kill_row[1]} | {kill_row[2]} | {kill_row[3]} |"]
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
