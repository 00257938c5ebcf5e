"""Executors compared: wall time of a build-dominated study, and Ray's cost per trial.

    .venv/bin/python benchmarks/executors.py [--tvm-trials 4] [--tuning-trials 8] [--small 4 --large 16]

1. A study whose builds dominate (TVM, MetaSchedule tuning with ``--tuning-trials`` trials
   per candidate, each candidate a different model so nothing is reused) runs once per
   executor, ``inline``, ``local`` and ``ray`` (a local Ray instance the study starts), each
   in its own process with an empty cache, same seed, grid sampler.
2. Ray's per-trial overhead: a study of the zero-cost ``noop`` backend runs with ``--small``
   and ``--large`` trials per executor; the cost per trial is the difference of the wall
   times divided by the difference of the trial counts, so start-up (imports, starting Ray)
   cancels out. Ray's overhead is its cost per trial minus the local executor's.

Writes ``benchmarks/results/executors.md``.
"""

from __future__ import annotations

import argparse
import datetime
import os
import time
from pathlib import Path
from typing import Any

import yaml
from _util import REPO, fresh_env, machine, request_dse, tempdir

RESULTS = REPO / "benchmarks" / "results" / "executors.md"
EXECUTORS = ("inline", "local", "ray")
PROTOCOL = {"warmup_runs": 5, "min_runs": 64, "min_time_s": 0.05, "max_time_s": 2.0, "repeats": 2}


def write_targets(folder: Path) -> None:
    doc = yaml.safe_load((REPO / "targets" / "local-cpu.yaml").read_text())
    (folder / "targets").mkdir(parents=True, exist_ok=True)
    doc.update(target="bench-noop", frameworks=["noop"])
    (folder / "targets" / "bench-noop.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def study(folder: Path, name: str, **fields: Any) -> Path:
    doc = {"name": name, "workload": "digits",
           "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
           "sampler": {"name": "grid", "seed": 0}, "tracking": {"enabled": False}, "confirm": {"enabled": False},
           "cache": False, "work_dir": str(folder / "work" / name), **fields}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def tvm_study(folder: Path, name: str, trials: int, tuning: int) -> Path:
    widths = [0.25, 0.5, 0.75, 1.0][:max(1, min(4, trials))]
    resolutions = [8, 16][:max(1, -(-trials // len(widths)))]
    flags = {"tuning_trials": [tuning], "tuning_cost_model": ["random"]} if tuning else {"opt_level": [3]}
    return study(folder, name, target="local-cpu", budget={"trials": trials}, measure=PROTOCOL,
                 frameworks={"tvm": flags},
                 space={"dimensions": {"model.family": ["mobilenet"], "model.width": widths,
                                       "model.resolution": resolutions, "model.precision": ["fp32"]}})


def noop_study(folder: Path, name: str, trials: int) -> Path:
    return study(folder, name, target="bench-noop", budget={"trials": trials},
                 frameworks={"noop": {"quality": "*", "a": "*", "b": "*"}},
                 space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                       "model.resolution": [4], "model.precision": ["fp32"]}},
                 measure={"warmup_runs": 0, "min_runs": 1, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1})


def run(path: Path, executor: str, tmp: Path) -> tuple[float, str]:
    env = fresh_env(tmp / f"env-{path.stem}")
    env.pop("RAY_ADDRESS", None)
    started = time.monotonic()
    out = request_dse("tune", str(path), "--executor", executor, "-q", env=env)
    wall = time.monotonic() - started
    tail = (out.stdout + out.stderr).strip().splitlines()
    summary = next((line for line in tail if " trials measured " in line), tail[-1] if tail else "")
    if out.returncode != 0:
        summary = f"exit {out.returncode}: {summary}"
    return wall, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tvm-trials", type=int, default=4)
    parser.add_argument("--tuning-trials", type=int, default=8)
    parser.add_argument("--small", type=int, default=4)
    parser.add_argument("--large", type=int, default=16)
    args = parser.parse_args()
    rows_tvm, rows_noop = [], []
    with tempdir() as name:
        tmp = Path(name)
        write_targets(tmp)
        for executor in EXECUTORS:
            wall, summary = run(tvm_study(tmp, f"tvm-{executor}", args.tvm_trials, args.tuning_trials), executor, tmp)
            rows_tvm.append((executor, wall, summary))
            print(f"tvm {executor}: {wall:.1f} s  {summary}", flush=True)
        for executor in EXECUTORS:
            walls = {}
            for n in (args.small, args.large):
                walls[n], summary = run(noop_study(tmp, f"noop-{executor}-{n}", n), executor, tmp)
                print(f"noop {executor} {n}: {walls[n]:.1f} s  {summary}", flush=True)
            per_trial = (walls[args.large] - walls[args.small]) / (args.large - args.small)
            rows_noop.append((executor, walls[args.small], walls[args.large], per_trial))
    write(args, rows_tvm, rows_noop)


def write(args: argparse.Namespace, rows_tvm: list[tuple[str, float, str]],
          rows_noop: list[tuple[str, float, float, float]]) -> None:
    inline = next(w for e, w, _ in rows_tvm if e == "inline")
    local_per_trial = next(p for e, _, _, p in rows_noop if e == "local")
    ray_per_trial = next(p for e, _, _, p in rows_noop if e == "ray")
    lines = [
        "## Executors: inline, local, Ray", "",
        "```",
        f".venv/bin/python benchmarks/executors.py --tvm-trials {args.tvm_trials} --tuning-trials "
        f"{args.tuning_trials} --small {args.small} --large {args.large}",
        "```", "",
        f"Recorded {datetime.date.today().isoformat()} on {machine()}. Each row is one process with an empty "
        f"cache; load average {os.getloadavg()[0]:.1f} at the end; compare rows of one run, as ratios.", "",
        f"**Build-dominated study**: {args.tvm_trials} TVM candidates (different MobileNet widths/resolutions), "
        + (f"each tuned with MetaSchedule ({args.tuning_trials} trials, random cost model)" if args.tuning_trials
           else "built untuned") + ", grid sampler, 2 measurement sessions. Wall time of `request-dse tune` "
        "(start-up included: a local Ray instance starts with the study).", "",
        "| executor | wall (s) | vs inline | study |", "|---|---:|---:|---|",
    ]
    lines += [f"| {e} | {w:.1f} | {w / inline:.2f} | {s} |" for e, w, s in rows_tvm]
    lines += [
        "", f"**Per-trial cost** on the zero-cost `noop` backend ((wall at {args.large} trials - wall at "
        f"{args.small}) / {args.large - args.small}; start-up cancels out):", "",
        f"| executor | wall, {args.small} trials (s) | wall, {args.large} trials (s) | per trial (s) |",
        "|---|---:|---:|---:|",
    ]
    lines += [f"| {e} | {a:.1f} | {b:.1f} | {p:.3f} |" for e, a, b, p in rows_noop]
    lines += ["", f"Ray's overhead per trial over the local executor: {ray_per_trial - local_per_trial:+.3f} s "
              "(two Ray tasks per trial, each starting its step in a child process of a Ray worker).", ""]
    RESULTS.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
