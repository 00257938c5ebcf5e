"""What MLflow tracking costs a study: the same study with tracking off and on.

    .venv/bin/python benchmarks/tracking_overhead.py [--trials 8] [--uri http://127.0.0.1:5000]

Without ``--uri`` a local `mlflow server` (SQLite store in a temporary folder) is started on
127.0.0.1 for the run. The study uses the ``faults`` backend with no fault (ONNX Runtime on
the smallest digits models) and a short measurement protocol, so per-trial costs of tracking
are not hidden behind long measurements. Prints a Markdown table: wall time per trial with
tracking off and on, time tracking spent on the search's thread per trial (what could slow the
search), and how long the end of the study waited for the last writes.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import yaml
from _util import machine, tempdir

SPACE = {"model.family": ["mobilenet"], "model.width": [0.25, 0.5], "model.resolution": [4, 6, 8, 16],
         "model.precision": ["fp32"]}


def study(name: str, work: Path, uri: str, tracked: bool, trials: int) -> Path:
    doc = {"name": name, "workload": "digits", "frameworks": {"faults": {"fault": ["none"], "stage": ["measure"]}},
           "space": {"dimensions": SPACE}, "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
           "budget": {"trials": trials}, "sampler": {"name": "grid", "seed": 0},
           "measure": {"warmup_runs": 1, "min_runs": 10, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1},
           "tracking": {"enabled": tracked, "uri": uri, "experiment": "request-dse-benchmark"},
           "confirm": {"enabled": False}, "cache": False, "work_dir": str(work / name)}
    path = work / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def run(path: Path) -> dict[str, float]:
    from request_dse.execute import make_executor
    from request_dse.search import Search
    from request_dse.study import load_plan
    from request_dse.tracking import tracking_observer

    plan = load_plan(path)
    tracker = tracking_observer(plan) if plan.study.tracking.enabled else None
    runner = make_executor(plan, "local")
    search = Search(plan, runner, [tracker] if tracker else [])
    ended = {}
    if tracker is not None:
        original = tracker.on_end

        def on_end(s: Search) -> None:
            t0 = time.perf_counter()
            original(s)
            ended["flush_s"] = time.perf_counter() - t0

        tracker.on_end = on_end  # type: ignore[method-assign]
    t0 = time.perf_counter()
    try:
        search.run()
    finally:
        runner.shutdown()
    wall = time.perf_counter() - t0
    n = search.counters.measured
    return {"trials": n, "wall_s": wall, "per_trial_s": wall / n, "callback_ms": (tracker.callback_s if tracker else 0) / n * 1e3,
            "flush_s": ended.get("flush_s", 0.0), "left": len(tracker.outbox) if tracker else 0}


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    exe = Path(sys.executable).with_name("mlflow")
    proc = subprocess.Popen([str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
                             "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
                             "--artifacts-destination", str(root / "artifacts")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"))
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise SystemExit("mlflow server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--uri", help="tracking server to use (default: start one)")
    args = parser.parse_args()
    with tempdir() as tmp:
        work = Path(tmp)
        os.environ["REQUEST_DSE_CACHE"] = str(work / "cache")
        proc, uri = (None, args.uri) if args.uri else start_server(work)
        try:
            run(study("warm-up", work, uri, True, 1))  # prepare the models, import mlflow, create the experiment
            off = run(study("off", work, uri, False, args.trials))
            on = run(study("on", work, uri, True, args.trials))
        finally:
            if proc is not None:
                os.killpg(proc.pid, signal.SIGTERM)
    print(f"Machine: {machine()}; {args.trials} trials (faults backend, no fault, short protocol), "
          f"tracking to a local `mlflow server`.\n")
    print("| tracking | wall per trial (s) | on the search's thread per trial (ms) | end-of-study flush (s) | writes left |")
    print("|---|---:|---:|---:|---:|")
    for name, r in (("off", off), ("on", on)):
        print(f"| {name} | {r['per_trial_s']:.3f} | {r['callback_ms']:.2f} | {r['flush_s']:.2f} | {r['left']:.0f} |")
    print(f"\nWall time per trial, on / off: {on['per_trial_s'] / off['per_trial_s']:.3f}")


if __name__ == "__main__":
    main()
