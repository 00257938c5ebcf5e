"""MetaSchedule tuning as a dimension: tuned vs untuned TVM per model, and the reused database.

    .venv/bin/python benchmarks/tvm_tuning.py [--trials 64] [--frameworks onnxruntime,tvm,torch] [--widths 0.25,1.0]

Runs ``studies/full-stack.yaml`` (grid sampler: every candidate) from an empty cache, then runs
it again as a second study (new work dir, same cache, no results cache: every candidate is
built again). Prints a Markdown section: per model,
the best untuned and tuned TVM p50 latency (from the second study, whose measurements do not
share the machine with a tuning run), the speedup, the time spent tuning in each study
(the second must be zero: the database is reused) and the other backends' best for scale,
and writes it to benchmarks/results/tvm_tuning.md.
"""

from __future__ import annotations

import argparse
import contextlib
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from _util import REPO, fresh_env, machine, request_dse, tempdir, write_section  # noqa: I001

RESULTS = REPO / "benchmarks" / "results" / "tvm_tuning.md"


def _model(params: Any) -> str:
    size = f"w{params['model.width']:g}" if params["model.family"] == "mobilenet" else f"{params['model.depth']}"
    return f"{params['model.family']}-{size}-r{params['model.resolution']}"


def _study(tmp: Path, name: str, trials: int, frameworks: list[str], widths: list[float]) -> Path:
    path = tmp / f"{name}.yaml"
    if path.exists():  # a re-run with --work continues the study as it was written
        return path
    doc = yaml.safe_load((REPO / "studies" / "full-stack.yaml").read_text())
    doc["name"] = name
    doc["work_dir"] = str(tmp / name)
    doc["frameworks"] = {k: v for k, v in doc["frameworks"].items() if k in frameworks}
    doc["frameworks"]["tvm"]["tuning_trials"] = [0, trials]
    doc["space"]["dimensions"]["model.width"] = widths
    doc["tracking"] = {"enabled": False}
    # The second study must build every candidate again (not reuse the first one's results)
    # to show that its builds find the tuned databases.
    doc["cache"] = name == "first"
    doc["confirm"] = {"enabled": False}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _records(study: Path) -> list[Any]:
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    plan = load_plan(study)
    return [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--frameworks", default="onnxruntime,tvm,torch")
    parser.add_argument("--widths", default="0.25,1.0", help="MobileNet widths (the study's: 0.25,1.0)")
    parser.add_argument("--work", type=Path, help="keep the studies and the cache here (a re-run continues them)")
    args = parser.parse_args()
    frameworks = args.frameworks.split(",")
    with contextlib.nullcontext(str(args.work)) if args.work else tempdir() as name:
        tmp = Path(name)
        tmp.mkdir(parents=True, exist_ok=True)
        env = fresh_env(tmp)
        runs = {}
        for study_name in ("first", "second"):
            study = _study(tmp, study_name, args.trials, frameworks, [float(w) for w in args.widths.split(",")])
            started = time.perf_counter()
            run = request_dse("tune", str(study), "-q", env=env, cwd=tmp)
            if run.returncode != 0:
                raise SystemExit(run.stderr[-3000:])
            runs[study_name] = (time.perf_counter() - started, _records(study))
    best: dict[tuple[str, str], float] = {}
    tuning: dict[tuple[str, str], float] = defaultdict(float)
    statuses: dict[str, int] = defaultdict(int)
    for study_name, (_, recs) in runs.items():
        for r in recs:
            statuses[f"{study_name}:{r.status}"] += 1
            model = _model(r.params)
            if r.params["framework"] == "tvm":
                tuning[(study_name, model)] += r.metrics.get("tuning_time_s", 0.0)
            # latencies from the second study: same builds, measured while no tuning runs on the other core
            if study_name != "second" or r.status != "ok":
                continue
            kind = r.params["framework"]
            if kind == "tvm":
                kind = "tvm tuned" if r.params["tvm.tuning_trials"] > 0 else "tvm untuned"
            key = (model, kind)
            best[key] = min(best.get(key, float("inf")), r.metrics["latency_p50_ms"])
    models = sorted({m for m, _ in best})
    lines = [
        "## TVM MetaSchedule tuning", "",
        f"`studies/full-stack.yaml` ({', '.join(frameworks)}; TVM `tuning_trials` 0 and {args.trials}) run twice "
        f"from an empty cache -- the second study reuses the tuned databases -- measured "
        f"{time.strftime('%Y-%m-%d')} on {machine()}, with:", "",
        f"    .venv/bin/python benchmarks/tvm_tuning.py --trials {args.trials} --frameworks {args.frameworks} "
        f"--widths {args.widths}", "",
        "Best p50 latency per model at batch 1 (µs) as the second study measured it (the same builds as "
        "the first's, measured while no tuning ran on the other core), speedup of tuned over untuned TVM, "
        "and the seconds spent tuning in each study:", "",
        "| model | TVM untuned | TVM tuned | speedup | tuning, 1st study (s) | tuning, 2nd study (s) | "
        + " | ".join(f for f in frameworks if f != "tvm") + " |",
        "|---|---|---|---|---|---|" + "---|" * len([f for f in frameworks if f != "tvm"]),
    ]
    for model in models:
        untuned, tuned = best.get((model, "tvm untuned")), best.get((model, "tvm tuned"))
        speedup = f"{untuned / tuned:.2f}x" if untuned and tuned else "-"
        others = [f"{best[(model, f)] * 1e3:.0f}" if (model, f) in best else "-" for f in frameworks if f != "tvm"]
        lines.append(f"| {model} | {untuned * 1e3:.0f} | {tuned * 1e3:.0f} | {speedup} | "
                     f"{tuning[('first', model)]:.0f} | {tuning[('second', model)]:.1f} | " + " | ".join(others) + " |"
                     if untuned and tuned else f"| {model} | - | - | - | - | - | " + " | ".join(others) + " |")
    lines += ["", f"Wall time: first study {runs['first'][0]:.0f} s, second study {runs['second'][0]:.0f} s. "
              f"Trial statuses: {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))}."]
    write_section(RESULTS, lines)


if __name__ == "__main__":
    main()
