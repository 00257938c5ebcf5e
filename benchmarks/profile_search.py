"""Profile of a long study: what the engine pays per trial as the study grows.

    .venv/bin/python benchmarks/profile_search.py [--trials 10000] [--sampler nsga2] [--tracking]

Runs a study of the zero-cost ``noop`` backend (the space of ``benchmarks/overhead.py`` widened by
the flags ``c`` and ``d`` to 100,000 candidates; NSGA-II, JournalStorage, inline executor) in this
process under cProfile, then reads the storage back: the cost per trial over the first 100 and
the last 100 measured trials (the time between their completions, skipped proposals included),
the proposals skipped, and the functions with the most cumulative time. With ``--tracking`` the
study is tracked into a fresh MLflow SQLite store (only the search's thread is profiled;
tracking sends from its own thread).
Writes ``benchmarks/results/profile.md`` (``profile_tracking.md`` with ``--tracking``) and the
full profile to ``--out`` (a ``.prof`` file for ``python -m pstats`` or snakeviz).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import io
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml  # noqa: E402
from _util import REPO, machine, write_section  # noqa: E402
from overhead import write_study, write_target  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "profile.md"
COMMAND = ".venv/bin/python benchmarks/profile_search.py"


def window_ms(stamps: list[float], first: bool, size: int = 100) -> float:
    """Milliseconds per trial between the completions of ``size`` consecutive trials."""
    if len(stamps) <= size:
        return float("nan")
    part = stamps[:size + 1] if first else stamps[-size - 1:]
    return (part[-1] - part[0]) / size * 1e3


def completions(study_records: list) -> list[float]:  # type: ignore[type-arg]
    return sorted(r.finished.timestamp() for r in study_records if r.measured and r.finished is not None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--sampler", default="nsga2")
    parser.add_argument("--tracking", action="store_true", help="track into a fresh MLflow SQLite store")
    parser.add_argument("--top", type=int, default=25, help="functions listed")
    parser.add_argument("--out", type=Path, help="write the full profile here")
    parser.add_argument("--no-write", action="store_true", help="print, do not write benchmarks/results/profile.md")
    args = parser.parse_args()

    from request_dse.execute import make_executor
    from request_dse.search import Search, records
    from request_dse.study import load_plan

    # the tracking thread may still be sending when the study ends: leave its files to it
    with tempfile.TemporaryDirectory(prefix="request-dse-bench-", ignore_cleanup_errors=True) as name:
        tmp = Path(name)
        write_target(tmp)
        uri = f"sqlite:///{tmp / 'mlflow.db'}" if args.tracking else None
        warm = load_plan(write_study(tmp, "warm", 3, None, "inline"))  # prepares the model once
        run_inline(warm, make_executor, Search)
        study = write_study(tmp, "profiled", args.trials, uri, "inline")
        doc = yaml.safe_load(study.read_text())
        doc["sampler"]["name"] = args.sampler
        doc["frameworks"]["noop"].update({"c": "*", "d": "*"})  # 100,000 candidates: room for long studies
        study.write_text(yaml.safe_dump(doc, sort_keys=False))
        plan = load_plan(study)
        observers = []
        if args.tracking:
            from request_dse.tracking import tracking_observer

            observers.append(tracking_observer(plan))
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        search = run_inline(plan, make_executor, Search, observers)
        profiler.disable()
        wall = time.perf_counter() - started
        recs = records(search.study)
        callback_s = sum(o.callback_s for o in observers)
        waiting = sum(len(o.outbox) for o in observers)
    stamps = completions(recs)
    skipped = sum(1 for r in recs if r.skip is not None)
    if args.out:
        profiler.dump_stats(str(args.out))
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("cumulative").print_stats(args.top)
    rows = [line for line in text.getvalue().splitlines() if line.strip()]
    start = next(i for i, line in enumerate(rows) if line.lstrip().startswith("ncalls"))
    first, last = window_ms(stamps, True), window_ms(stamps, False)
    lines = [
        f"## Profile of a long study ({args.sampler}, tracking {'on' if args.tracking else 'off'})",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}, load average {os.getloadavg()[0]:.1f}; command: "
        f"`{COMMAND} --trials {args.trials} --sampler {args.sampler}{' --tracking' if args.tracking else ''}`",
        "",
        f"{len(stamps)} trials measured of the `noop` backend in {wall:.0f} s under cProfile (which slows "
        f"Python code about 2x), {skipped} proposals skipped ({search.stop_reason or 'done'}).",
        "",
        "| | ms per trial (under cProfile) |",
        "|---|---|",
        f"| first 100 trials | {first:.1f} |",
        f"| last 100 trials | {last:.1f} |",
        f"| last / first | **{last / first:.2f}x** |",
        "",
        *([f"Tracking: {callback_s / max(1, len(stamps)) * 1e3:.2f} ms per trial on the search's thread (the "
           f"observer's callbacks, under cProfile); {waiting} writes still in the outbox when the study ended "
           "(sent by the next run of the study or `request-dse sync`).", ""] if args.tracking else []),
        "Most cumulative time:",
        "",
        "```",
        *rows[start:start + args.top + 1],
        "```",
        "",
    ]
    if args.no_write:
        print("\n".join(lines))
    else:
        write_section(RESULTS.with_name("profile_tracking.md") if args.tracking else RESULTS, lines)


def run_inline(plan, make_executor, search_cls, observers=()):  # type: ignore[no-untyped-def]
    executor = make_executor(plan, "inline")
    search = search_cls(plan, executor, list(observers))
    try:
        search.run()
    finally:
        executor.shutdown()
    return search


if __name__ == "__main__":
    main()
