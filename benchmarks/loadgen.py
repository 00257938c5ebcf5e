"""The two measurement protocols on the quickstart's front: their figures and what they cost.

    .venv/bin/python benchmarks/loadgen.py [--rounds 2]

Runs `request-dse tune studies/quickstart.yaml` from an empty cache, then measures every
candidate of its confirmed front again from the bundle's artifact, through the local
executor (worker processes on the measurement core), with

* the request-dse protocol: the quickstart's settings (10 warm-up runs, >= 64 runs and 0.1 s per
  session), 3 sessions;
* MLPerf LoadGen, SingleStream, 1 s runs (`min_duration_ms: 1000`), 3 sessions (the first also
  runs LoadGen's accuracy mode);

alternating the two protocols, `--rounds` times per candidate (the machine's load drifts; both
see the same drift). Reports the p50 and p90 of each protocol with their 95% intervals (medians
over the rounds), LoadGen's early-stopping p90 estimate, and the measurement wall time of each.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from _util import REPO, fresh_env, machine, tempdir, write_section  # noqa: I001

RESULTS = REPO / "benchmarks" / "results" / "loadgen.md"


def quickstart(tmp: Path, env: dict[str, str]) -> tuple[Path, list[Path]]:
    study = tmp / "quickstart.yaml"
    study.write_text((REPO / "studies" / "quickstart.yaml").read_text()
                     + f"\nwork_dir: {tmp / 'work'}\ntracking: {{enabled: false}}\n")
    shutil.copytree(REPO / "search_spaces", tmp / "search_spaces")
    run = subprocess.run([sys.executable, "-m", "request_dse", "tune", str(study), "-q"], env=env, cwd=tmp,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    return study, sorted(p for p in (tmp / "submissions" / "quickstart").iterdir() if p.is_dir())


def measure(plan: Any, bundle: Path, protocol: Any, trial_dir: Path, runtime: Any) -> dict[str, float]:
    from request_dse.backends import BuildResult
    from request_dse.evaluate import loadgen_intervals, make_job, metric_intervals, run_trial
    from request_dse.results import load_samples
    from request_dse.space import Candidate

    doc = json.loads((bundle / "submission.json").read_text())
    candidate = Candidate.of(doc["candidate"])
    prepared = plan.workload.prepare(candidate, plan.cache_dir / "prepared")
    job = make_job(plan, 0, candidate)
    trial_dir.mkdir(parents=True)
    session = dataclasses.replace(job.session, protocol=protocol, log_dir=trial_dir / "loadgen")
    job = dataclasses.replace(job, trial_dir=trial_dir, session=session, build=None,
                              reuse=BuildResult("ok", bundle / "artifact", prepared))
    result = run_trial(job, runtime)
    if result.status != "ok":
        raise SystemExit(f"{bundle.name}: {result.status}: {result.error}")
    intervals = {**metric_intervals(load_samples(result.samples_path), result.metrics, 1),
                 **loadgen_intervals(trial_dir)}
    out = {k: v for k, v in result.metrics.items()}
    for name, (low, high, _) in intervals.items():
        out[f"{name}:low"], out[f"{name}:high"] = low, high
    out["wall_s"] = result.timings["measure"]
    return out


def cell(rounds: list[dict[str, float]], name: str) -> str:
    if not all(name in r for r in rounds):
        return "-"
    value = np.median([r[name] for r in rounds]) * 1e3
    low = np.median([r.get(f"{name}:low", r[name]) for r in rounds]) * 1e3
    high = np.median([r.get(f"{name}:high", r[name]) for r in rounds]) * 1e3
    return f"{value:.1f} [{low:.1f}, {high:.1f}]"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    from request_dse.execute import LocalRuntime, ProcessRunner
    from request_dse.protocol import LoadGenConfig
    from request_dse.study import load_plan

    started = time.perf_counter()
    with tempdir() as tmp_name:
        tmp = Path(tmp_name)
        env = fresh_env(tmp)
        os.environ["REQUEST_DSE_CACHE"] = env["REQUEST_DSE_CACHE"]  # this process prepares models too
        study, bundles = quickstart(tmp, env)
        plan = load_plan(study)
        measure_plain = dataclasses.replace(plan.study.measure, repeats=3)
        protocols = {"request-dse": measure_plain,
                     "loadgen": dataclasses.replace(measure_plain, protocol="loadgen", scenario="single_stream",
                                                    loadgen=LoadGenConfig(min_duration_ms=1000))}
        runtime = LocalRuntime(ProcessRunner(plan.preload()), 1, ())
        rows, ratios, costs = [], [], []
        for i, bundle in enumerate(bundles):
            found: dict[str, list[dict[str, float]]] = {name: [] for name in protocols}
            order = list(protocols) if i % 2 == 0 else list(reversed(protocols))
            for r in range(args.rounds):
                for name in order:
                    found[name].append(measure(plan, bundle, protocols[name], tmp / "m" / f"{i}-{r}-{name}", runtime))
            rd, lg = found["request-dse"], found["loadgen"]
            label = json.loads((bundle / "submission.json").read_text())["label"]
            ratio = float(np.median([x["loadgen_p90_ms"] for x in lg]) / np.median([x["latency_p90_ms"] for x in rd]))
            cost = float(np.median([x["wall_s"] for x in lg]) / np.median([x["wall_s"] for x in rd]))
            ratios.append(ratio)
            costs.append(cost)
            rows.append(f"| {label} | {cell(rd, 'latency_p50_ms')} | {cell(rd, 'latency_p90_ms')} | "
                        f"{cell(lg, 'loadgen_p50_ms')} | {cell(lg, 'loadgen_p90_ms')} | "
                        f"{cell(lg, 'loadgen_p90_estimate_ms').split(' [')[0]} | "
                        f"{sum(int(x['loadgen_valid']) for x in lg)}/{len(lg)} | {ratio:.2f} | "
                        f"{np.median([x['wall_s'] for x in rd]):.1f} | {np.median([x['wall_s'] for x in lg]):.1f} |")
    lines = ["## LoadGen and the request-dse protocol", "",
             f"The quickstart's confirmed front measured again by both protocols ({args.rounds} alternating rounds per "
             f"candidate, 3 sessions each), {time.strftime('%Y-%m-%d')} on {machine()}, in "
             f"{time.perf_counter() - started:.0f} s, with:", "", "    .venv/bin/python benchmarks/loadgen.py"
             + (f" --rounds {args.rounds}" if args.rounds != 2 else ""), "",
             "Latencies in us, medians over the rounds with their 95% intervals. LoadGen's latencies count its "
             "response path (the output read back, its top-1 class, LoadGen's bookkeeping) on top of the run "
             "the request-dse protocol times; its wall time includes its accuracy run (every held-out sample) "
             "and 1 s runs.", "",
             "| candidate | request-dse p50 | request-dse p90 | LoadGen p50 | LoadGen p90 | LoadGen p90 estimate "
             "| LoadGen valid | p90 ratio | request-dse wall (s) | LoadGen wall (s) |",
             "|---|---|---|---|---|---|---|---|---|---|", *rows, "",
             f"Median over the front: LoadGen's p90 / the request-dse protocol's p90 = {np.median(ratios):.2f}; "
             f"measurement cost ratio (LoadGen / request-dse) = {np.median(costs):.1f}x.", ""]
    write_section(RESULTS, lines)


if __name__ == "__main__":
    main()
