"""Tuned vs baseline on the quickstart workload: how much faster the search's best is.

    .venv/bin/python benchmarks/tuned_vs_baseline.py

One run: ``request-dse tune`` on the quickstart (confirm phase and Pareto bundles on, results
cache off), then ``request-dse baseline`` on the quickstart's models and precisions for each of
its backends with default flags (the same measurement protocol as the quickstart). Reports
the best (lowest) p90 latency among the confirmed Pareto points whose accuracy is within 0.5
points of the most accurate baseline, and, for each backend, its best baseline p90 latency at
that same accuracy bar divided by it (the speed-up). Writes
``benchmarks/results/tuned_vs_baseline.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import time
from pathlib import Path

import yaml
from _util import REPO, machine, request_dse, tempdir, write_section

RESULTS = REPO / "benchmarks" / "results" / "tuned_vs_baseline.md"
COMMAND = ".venv/bin/python benchmarks/tuned_vs_baseline.py"
ACCURACY = "accuracy_top1"
LATENCY = "latency_p90_ms"
WITHIN = 0.005  # 0.5 accuracy points


def run(*args: str, cwd: Path) -> float:
    started = time.perf_counter()
    done = request_dse(*args, env=dict(os.environ), cwd=cwd)
    if done.returncode != 0:
        raise SystemExit(f"request-dse {' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n"
                         f"{done.stderr[-3000:]}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tuned-study", type=Path, help="a finished run of the quickstart study to use (its "
                        "confirmed Pareto set is exported) instead of tuning afresh")
    parser.add_argument("--slack", type=float, default=0.01,
                        help="baselines only for models whose recorded test accuracy is within 0.5 points plus "
                             "this of the best one (the others cannot reach the bar)")
    args = parser.parse_args()
    from request_dse.study import load_plan
    from request_dse.submission import load_bundles

    with tempdir() as tmp_name:
        tmp = Path(tmp_name)
        if args.tuned_study:
            study = args.tuned_study.resolve()
            plan = load_plan(study)
            tune_s = run("export", str(study), "--out", str(tmp / "tuned"), cwd=tmp)
        else:
            shutil.copytree(REPO / "search_spaces", tmp / "search_spaces")
            doc = yaml.safe_load((REPO / "studies" / "quickstart.yaml").read_text())
            doc.update({"work_dir": str(tmp / "work"), "tracking": {"enabled": False}, "cache": False,
                        "submissions": {"dir": str(tmp / "tuned")}})
            study = tmp / "quickstart.yaml"
            study.write_text(yaml.safe_dump(doc, sort_keys=False))
            plan = load_plan(study)
            tune_s = run("tune", str(study), "--quiet", cwd=tmp)

        # the quickstart's models and precisions, per backend (its space constraints included),
        # leaving out models whose recorded accuracy cannot reach the bar
        entries = [(c, plan.workload.entry(c)) for c in plan.space.enumerate()]
        top = max(float(e.get("test_accuracy", 1.0)) for _, e in entries)
        wanted: dict[str, dict[str, set[str]]] = {}
        for c, entry in entries:
            if float(entry.get("test_accuracy", 1.0)) < top - WITHIN - args.slack:
                continue
            per = wanted.setdefault(c["framework"], {})
            per.setdefault(c.get("model.precision", "fp32"), set()).add(entry["id"])
        measure = plan.study.measure
        baseline_s = 0.0
        for backend, precisions in sorted(wanted.items()):
            for precision, models in sorted(precisions.items()):
                cmd = ["baseline", "--workload", plan.study.workload.name, "--target", plan.target_spec.name,
                        "--backend", backend, "--precision", precision, "--repeats", str(measure.repeats),
                        "--min-runs", str(measure.min_runs), "--min-time-s", str(measure.min_time_s),
                        "--out", str(tmp / "baseline" / f"{backend}-{precision}")]
                for m in sorted(models):
                    cmd += ["--model", m]
                baseline_s += run(*cmd, cwd=tmp)

        tuned, errors = load_bundles([tmp / "tuned"])
        baselines, errors_b = load_bundles([tmp / "baseline"])
        if errors or errors_b:
            raise SystemExit(f"unreadable bundles: {[str(e) for e in (*errors, *errors_b)]}")
        tuned = [b for b in tuned if not b.is_baseline]
        if not baselines or not tuned:
            raise SystemExit(f"nothing to compare: {len(tuned)} tuned and {len(baselines)} baseline bundles")

    best_accuracy = max(b.metrics[ACCURACY] for b in baselines)
    bar = best_accuracy - WITHIN
    eligible = [b for b in tuned if b.metrics[ACCURACY] >= bar]
    lines = [
        "## Tuned vs baseline (quickstart workload)",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}; command: `{COMMAND}`"
        + (f" `--tuned-study {args.tuned_study}` (export and confirm {tune_s:.0f} s" if args.tuned_study
           else f" (tune {tune_s:.0f} s") + f", baselines {baseline_s:.0f} s)",
        "",
        f"Baselines: {', '.join(sorted(wanted))} with default flags on the quickstart's models and precisions "
        f"whose recorded test accuracy is within {(WITHIN + args.slack) * 100:.1f} points of the best "
        f"({len(baselines)} measured); tuned: the confirmed Pareto set of one `request-dse tune` of "
        f"`studies/quickstart.yaml` ({len(tuned)} points). Accuracy bar: the most accurate baseline "
        f"({best_accuracy:.4f}) minus 0.5 points = {bar:.4f}. Latency: p90 of one batch, same protocol.",
        "",
    ]
    if not eligible:
        top = max(tuned, key=lambda b: b.metrics[ACCURACY])
        lines.append(f"No Pareto point reaches the bar: the most accurate one has {top.metrics[ACCURACY]:.4f} "
                     f"({top.label}).")
    else:
        best = min(eligible, key=lambda b: b.metrics[LATENCY])
        t = best.metrics[LATENCY]
        lines += [f"Best tuned point at the bar: **{t * 1e3:.1f} µs** p90, accuracy {best.metrics[ACCURACY]:.4f}: "
                  f"{best.label}", "",
                  "| backend | best baseline p90 at the bar | its model | baseline / tuned |",
                  "|---|---|---|---|"]
        for backend in sorted({b.framework for b in baselines}):
            mine = [b for b in baselines if b.framework == backend and b.metrics[ACCURACY] >= bar]
            if not mine:
                lines.append(f"| {backend} | none reaches the bar | | |")
                continue
            fastest = min(mine, key=lambda b: b.metrics[LATENCY])
            lines.append(f"| {backend} | {fastest.metrics[LATENCY] * 1e3:.1f} µs | {fastest.label} | "
                         f"**{fastest.metrics[LATENCY] / t:.2f}x** |")
    lines.append("")
    write_section(RESULTS, lines)


if __name__ == "__main__":
    main()
