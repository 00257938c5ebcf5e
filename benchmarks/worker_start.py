"""What a fresh worker process costs its driver, from a script and from no script at all.

    .venv/bin/python benchmarks/worker_start.py [--workers 40] [--rounds 3]

Every build and every measurement session runs in a fresh worker forked from the forkserver
(request_dse.execute.process). multiprocessing prepares each worker by running the driver's
main script again, as ``__mp_main__``: for the ``request-dse`` console script that means
importing the CLI in every worker. The forkserver now runs the script once itself, so a
worker from a script should cost what a worker from ``python -c`` costs (no script to run).

Each round starts three drivers, alternating: one is a script that imports ``request_dse.cli``
(as the console script does), one the same code given to ``python -c``; each runs
``--workers`` trivial workers one after another through a ProcessRunner whose server preloads
what the quickstart's does (ONNX Runtime, TVM), and reports the
median wall time of ``ProcessRunner.run`` (fork, run, result back, worker gone). The third is
the script again with measurement workers, which the runner forks ahead of their job
(``request_dse.execute.ahead``): each job finds its worker waiting, forked while the job before
it ran.
Writes ``benchmarks/results/worker_start.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

from _util import REPO, machine, tempdir, write_section

RESULTS = REPO / "benchmarks" / "results" / "worker_start.md"
COMMAND = ".venv/bin/python benchmarks/worker_start.py"

DRIVER = '''
import json, os, sys, time
import request_dse.cli  # what the request-dse console script imports

if __name__ == "__main__":
    from request_dse.execute import ProcessRunner

    runner = ProcessRunner(preload={preload!r})  # the quickstart's backends, as `tune` preloads them
    runner.start()
    runner.run(len, (), timeout_s=60, label={label!r})  # the server's own start is not a worker's cost
    walls = []
    for _ in range({workers}):
        t = time.perf_counter()
        out = runner.run(len, (), timeout_s=60, label={label!r})
        walls.append(time.perf_counter() - t)
        assert out.status == "ok", out.error
    runner.close()
    print(json.dumps(walls))
'''


def run(code: str, as_script: Path | None) -> list[float]:
    argv = [sys.executable, str(as_script)] if as_script else [sys.executable, "-c", code]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from request_dse.study import load_plan

    preload = load_plan(REPO / "studies" / "quickstart.yaml").preload()
    code = DRIVER.format(workers=args.workers, preload=tuple(preload), label="worker")
    ahead_code = DRIVER.format(workers=args.workers, preload=tuple(preload), label="measure")
    script_ms: list[float] = []
    bare_ms: list[float] = []
    ahead_ms: list[float] = []
    with tempdir() as tmp:
        script = Path(tmp) / "driver.py"
        script.write_text(code)
        ahead_script = Path(tmp) / "driver_ahead.py"
        ahead_script.write_text(ahead_code)
        for _ in range(args.rounds):
            script_ms += [1e3 * w for w in run(code, script)]
            bare_ms += [1e3 * w for w in run(code, None)]
            ahead_ms += [1e3 * w for w in run(ahead_code, ahead_script)]
    s, b, a = statistics.median(script_ms), statistics.median(bare_ms), statistics.median(ahead_ms)
    lines = [
        "## Worker start (fresh process per build and measurement session)",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}, load average {os.getloadavg()[0]:.1f}; "
        f"command: `{COMMAND}` ({args.rounds} rounds of {args.workers} workers per driver, alternating)",
        "",
        "| driver | median wall per worker (ms) | vs no script |",
        "|---|---:|---:|",
        f"| a script importing the CLI (as `request-dse` is) | {s:.1f} | {s / b:.2f}x |",
        f"| `python -c` (no main script to run again) | {b:.1f} | 1.00x |",
        f"| the script, measurement workers (forked ahead of their job) | {a:.1f} | {a / b:.2f}x |",
        "",
    ]
    write_section(RESULTS, lines)


if __name__ == "__main__":
    main()
