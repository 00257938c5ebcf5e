"""What MLflow tracking costs the search over a long study: tracking off and on, alternately.

    .venv/bin/python benchmarks/tracking_scale.py [--trials 10000] [--rounds 1] [--uri URI]

Runs the long study of ``benchmarks/profile_search.py`` (the zero-cost ``noop`` backend on a
100,000-candidate space, NSGA-II, JournalStorage, inline executor: every step of the search in
this process's main thread) without a profiler, once with tracking off and once with tracking
into a fresh MLflow store (a SQLite file, or ``--uri``), alternating for ``--rounds`` rounds, each
configuration in a process of its own. For each it reads, on the search's thread: the wall time
and the CPU time from the start to the last trial's completion (the end-of-study flush apart),
the cost per trial over the first and the last 100 trials, and the time of the tracking
callbacks; then how long the end of the study waited for the sending process and how many
writes were still waiting. Writes ``benchmarks/results/tracking_scale.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402
from _util import REPO, machine, write_section  # noqa: E402
from overhead import write_study, write_target  # noqa: E402
from profile_search import completions, run_inline, window_ms  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "tracking_scale.md"
COMMAND = ".venv/bin/python benchmarks/tracking_scale.py"


def one(trials: int, tracking: bool, uri: str | None, cpu_share: float | None = None) -> dict[str, float]:
    """One study in this process (``--one``): the figures of :func:`main`'s table."""
    from request_dse.execute import make_executor
    from request_dse.search import Search, records
    from request_dse.study import load_plan

    with tempfile.TemporaryDirectory(prefix="request-dse-bench-", ignore_cleanup_errors=True) as name:
        tmp = Path(name)
        write_target(tmp)
        uri = uri or f"sqlite:///{tmp / 'mlflow.db'}"
        warm = load_plan(write_study(tmp, "warm", 3, None, "inline"))  # prepares the model once
        run_inline(warm, make_executor, Search, [])
        study = write_study(tmp, f"scale-{'on' if tracking else 'off'}-{os.getpid()}", trials,
                            uri if tracking else None, "inline")
        doc = yaml.safe_load(study.read_text())
        doc["frameworks"]["noop"].update({"c": "*", "d": "*"})
        if cpu_share is not None:
            doc["tracking"]["cpu_share"] = cpu_share
        study.write_text(yaml.safe_dump(doc, sort_keys=False))
        plan = load_plan(study)
        observers = []
        if tracking:
            from request_dse.tracking import tracking_observer

            observers.append(tracking_observer(plan))
        ended: dict[str, float] = {}
        for observer in observers:
            original = observer.on_end

            def on_end(search, original=original) -> None:  # type: ignore[no-untyped-def]
                ended["at"], ended["cpu"], t0 = time.time(), time.thread_time(), time.perf_counter()
                original(search)
                ended["flush_s"] = time.perf_counter() - t0

            observer.on_end = on_end  # type: ignore[method-assign]
        started, cpu0 = time.time(), time.thread_time()
        search = run_inline(plan, make_executor, Search, observers)
        cpu = ended.get("cpu", time.thread_time()) - cpu0  # the end-of-study summary apart
        stamps = completions(records(search.study))
        return {"trials": len(stamps), "wall_s": stamps[-1] - started, "cpu_s": cpu,
                "first_ms": window_ms(stamps, True), "last_ms": window_ms(stamps, False),
                "callback_ms": sum(o.callback_s for o in observers) / len(stamps) * 1e3,
                "flush_s": ended.get("flush_s", 0.0), "left": sum(len(o.outbox) for o in observers)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--uri", help="tracking store or server (default: a fresh SQLite file per study)")
    parser.add_argument("--cpu-share", type=float, help="tracking.cpu_share of the study with tracking on "
                        "(default: the study file's default)")
    parser.add_argument("--one", choices=("on", "off"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.trials, args.one == "on", args.uri, args.cpu_share)))
        return
    began = time.perf_counter()
    runs: dict[str, list[dict[str, float]]] = {"off": [], "on": []}
    for _ in range(args.rounds):
        for config in ("off", "on"):
            cmd = [sys.executable, __file__, "--one", config, "--trials", str(args.trials),
                   *(["--uri", args.uri] if args.uri else []),
                   *(["--cpu-share", str(args.cpu_share)] if args.cpu_share is not None else [])]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=REPO)
            runs[config].append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(config, runs[config][-1], file=sys.stderr)

    def med(config: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[config])

    on, off = ({k: med(c, k) for k in runs[c][0]} for c in ("on", "off"))
    walls = [a["wall_s"] / b["wall_s"] for a, b in zip(runs["on"], runs["off"])]
    cpus = [a["cpu_s"] / b["cpu_s"] for a, b in zip(runs["on"], runs["off"])]
    wall, cpu = statistics.median(walls), statistics.median(cpus)
    store = args.uri or "a fresh MLflow SQLite store per study"
    lines = [
        "## Tracking over a long study (search thread)",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}, load average {os.getloadavg()[0]:.1f}; command: "
        f"`{COMMAND} --trials {args.trials} --rounds {args.rounds}"
        f"{f' --cpu-share {args.cpu_share}' if args.cpu_share is not None else ''}`",
        "",
        f"{args.trials} trials of the `noop` backend (NSGA-II, JournalStorage, inline executor: the whole search "
        f"in the main thread), tracking off and into {store}, alternately, each in a process of its own; "
        f"medians of {args.rounds} round(s); {time.perf_counter() - began:.0f} s in all. Wall and CPU: from the "
        "start to the last trial's completion, on the search's thread. MLflow is sent by a process of its own.",
        "",
        "| tracking | wall (s) | search-thread CPU (s) | ms per trial, first 100 | last 100 | last / first "
        "| callbacks per trial (ms) | end-of-study wait (s) | writes left |",
        "|---|---|---|---|---|---|---|---|---|",
        *(f"| {name} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['first_ms']:.1f} | {r['last_ms']:.1f} | "
          f"{r['last_ms'] / r['first_ms']:.2f}x | {r['callback_ms']:.2f} | {r['flush_s']:.1f} | {r['left']:.0f} |"
          for name, r in (("off", off), ("on", on))),
        "",
        f"- tracking on / off, wall to the last trial, median of the {args.rounds} rounds' ratios (each round: "
        f"off, then on): **{wall:.2f}x** (range {min(walls):.2f}-{max(walls):.2f}; goal <= 1.1x: "
        f"{'met' if wall <= 1.1 else 'not met'}); search-thread CPU: {cpu:.2f}x ({min(cpus):.2f}-{max(cpus):.2f})",
        f"- tracking's own code on the search's thread (its callbacks: the payload, the front, the outbox append): "
        f"{on['callback_ms']:.2f} ms per trial, {on['callback_ms'] * args.trials / 10 / off['wall_s']:.1f}% of the "
        "study without tracking; the rest of the difference is time the search's own code took longer",
        f"- per-trial cost with tracking, last / first 100: **{on['last_ms'] / on['first_ms']:.2f}x** (goal <= 1.2x: "
        f"{'met' if on['last_ms'] / on['first_ms'] <= 1.2 else 'not met'})",
        "",
    ]
    write_section(RESULTS, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
