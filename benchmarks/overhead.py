"""Engine overhead: request-dse per trial against a bare Optuna ask/tell loop (+ MLflow).

    .venv/bin/python benchmarks/overhead.py [--trials 300] [--rounds 2]
    .venv/bin/python benchmarks/overhead.py --trials 10000 --small 100 --rounds 1 --no-mlflow

A study of the zero-cost ``noop`` backend (request_dse/testing/noop.py: build and measurement
cost next to nothing) runs through ``request-dse tune`` (inline executor, JournalStorage file,
MLflow tracking on into a fresh SQLite store), and a bare Optuna loop runs the same number of
trials with the same sampler (NSGA-II, same seed and population), the same storage kind, the
same user attributes per trial (status, metrics, paths, info, timings, hash, owner,
constraints) and, with MLflow, one child run per trial with the same params, metrics, tags and
artifact files (synchronous ``log_batch``, as a hand-written loop would). request-dse sends to
MLflow in the background and leaves what it could not send by the end of the study in its
outbox; ``request-dse sync`` sends the rest, and its time is counted with the run. Each run's
MLflow store is checked to hold one run per trial plus the study's. Every configuration
runs as its own process, alternately, at ``--small`` and at ``--trials`` trials; the per-trial
cost is the difference of the wall times divided by the difference of the trial counts, so
start-up (imports, creating the MLflow store) cancels out while everything that grows with
the trials -- including waiting at the end for tracking to finish sending -- counts.

The inline executor keeps the child processes of the local executor (a build worker and a
measurement worker per trial, forked from a preloaded server) out of the figure: they isolate
native code and cost the same whatever the engine does; ``--executor local`` measures them too.
Above 1,000 trials the space is widened (the ``noop`` flags ``c`` and ``d``: 100,000 candidates) so
that the study has room; ``--no-mlflow`` runs only the two configurations without tracking and
also compares the whole study's wall time. Writes ``benchmarks/results/overhead.md`` (at 300
trials) or ``overhead_<trials>.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import yaml
from _util import REPO, machine, request_dse, tempdir, write_section

RESULTS = REPO / "benchmarks" / "results" / "overhead.md"
COMMAND = ".venv/bin/python benchmarks/overhead.py"


def write_target(folder: Path) -> None:
    doc = yaml.safe_load((REPO / "targets" / "local-cpu.yaml").read_text())
    doc["target"] = "bench-noop"
    doc["frameworks"] = ["noop"]
    (folder / "targets").mkdir(parents=True, exist_ok=True)
    (folder / "targets" / "bench-noop.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))


def write_study(folder: Path, name: str, trials: int, tracking_uri: str | None, executor: str) -> Path:
    doc = {
        "name": name, "workload": "digits", "target": "bench-noop",
        "frameworks": {"noop": {"quality": "*", "a": "*", "b": "*"}},
        "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4],
                                 "model.precision": ["fp32"]}},
        "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
        "constraints": ["accuracy_top1 >= 0.5"],
        "budget": {"trials": trials},
        "sampler": {"name": "nsga2", "seed": 0, "options": {"population_size": 50}},
        "measure": {"warmup_runs": 0, "min_runs": 1, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1},
        "executor": executor,
        "tracking": {"enabled": tracking_uri is not None, **({"uri": tracking_uri} if tracking_uri else {}),
                     "experiment": "overhead"},
        "confirm": {"enabled": False},
        "cache": False,
        "work_dir": str(folder / "work" / name),
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# -- the bare loop (runs as `overhead.py --bare ...` in its own process) -----------------------------

def bare(study: Path, template: Path, mlflow_uri: str | None) -> None:
    """Optuna ask/tell with the study's sampler and storage kind, and the same data per trial."""
    import optuna

    from request_dse.search import make_sampler, open_storage
    from request_dse.study import load_plan

    plan = load_plan(study)
    data = json.loads(template.read_text())
    storage = open_storage(f"journal:{plan.work_dir / 'bare.journal'}")
    sampler = make_sampler(plan.study.sampler, plan.study.trials)
    optuna_study = optuna.create_study(study_name="bare", storage=storage, sampler=sampler,
                                       directions=[o.direction for o in plan.study.objectives])
    client = parent = None
    if mlflow_uri:
        from mlflow.entities import Metric, Param, RunTag

        from mlflow import MlflowClient

        client = MlflowClient(mlflow_uri)
        experiment = client.create_experiment("bare", artifact_location=str(plan.work_dir / "mlartifacts"))
        parent = client.create_run(experiment, run_name="bare")
    dims = [(d.name, list(d.choices)) for d in plan.space.dimensions]
    for i in range(plan.study.trials):
        trial = optuna_study.ask()
        params = {name: trial.suggest_categorical(name, choices) for name, choices in dims}
        metrics = dict(data["metrics"], accuracy_top1=0.5 + 0.05 * params["noop.quality"])
        for key, value in (("owner", data["owner"]), ("hash", f"{i:012x}"), ("status", "ok"), ("metrics", metrics),
                           ("error", ""), ("paths", data["paths"]), ("info", data["info"]),
                           ("timings", data["timings"])):
            trial.set_user_attr(key, value)
        trial.set_constraint("accuracy_top1 >= 0.5", 0.5 - metrics["accuracy_top1"])
        optuna_study.tell(trial, [metrics["accuracy_top1"], metrics["latency_p90_ms"]])
        if client is not None:
            now = int(time.time() * 1000)
            run = client.create_run(experiment, run_name=f"trial-{i}", start_time=now,
                                    tags={"mlflow.parentRunId": parent.info.run_id, "status": "ok", "trial": str(i)})
            client.log_batch(run.info.run_id, params=[Param(k, str(v)) for k, v in params.items()],
                             metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                             tags=[RunTag("pareto", "false")])
            for name, folder in (("samples", "measurements"), ("build_log", "logs"), ("measure_log", "logs")):
                if Path(data["paths"].get(name, "/nonexistent")).exists():
                    client.log_artifact(run.info.run_id, data["paths"][name], folder)
            client.set_terminated(run.info.run_id, "FINISHED")
    if client is not None:
        client.set_terminated(parent.info.run_id, "FINISHED")


# -- the driver ------------------------------------------------------------------------------------

def timed(cmd: list[str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and its children) of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    run = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{run.stdout[-1500:]}\n{run.stderr[-3000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def mlflow_runs(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("select count(*) from runs").fetchone()[0])


def engine_cmd(study: Path) -> list[str]:
    exe = Path(sys.executable).with_name("request-dse")
    return [str(exe), "tune", str(study), "--no-export"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--small", type=int, default=30, help="the short run whose wall time is subtracted")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--executor", default="inline", choices=["inline", "local"])
    parser.add_argument("--bare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--template", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--mlflow", help=argparse.SUPPRESS)
    parser.add_argument("--no-mlflow", action="store_true", help="only the two configurations without tracking")
    args = parser.parse_args()
    if args.bare:
        bare(args.bare, args.template, args.mlflow)
        return
    env = dict(os.environ)
    with tempdir() as tmp_name:
        tmp = Path(tmp_name)
        write_target(tmp)
        # warm-up: prepares (trains, the first time) the model, and gives the bare loop its data
        warm = write_study(tmp, "warm", 5, None, args.executor)
        run = request_dse("tune", str(warm), "--quiet", "--no-export", env=env)
        if run.returncode != 0:
            raise SystemExit(run.stderr[-3000:])
        from request_dse.search import load_existing, records
        from request_dse.study import load_plan

        plan = load_plan(warm)
        rec = next(r for r in records(load_existing(plan.storage_url, plan.name)) if r.status == "ok")
        template = tmp / "template.json"
        template.write_text(json.dumps({"metrics": dict(rec.metrics), "paths": dict(rec.paths), "info": dict(rec.info),
                                        "timings": dict(rec.timings), "owner": rec.owner or "host:1:0"}))
        configs: tuple[str, ...] = ("request-dse + MLflow", "bare Optuna + MLflow", "request-dse, tracking off",
                                    "bare Optuna")
        if args.no_mlflow:
            configs = configs[2:]
        walls: dict[tuple[str, int], list[float]] = {}
        cpus: dict[tuple[str, int], list[float]] = {}
        count = 0
        for r in range(args.rounds):
            order = configs if r % 2 == 0 else tuple(reversed(configs))
            for n in (args.small, args.trials):
                for config in order:
                    count += 1
                    name = f"r{r}-{count}"
                    uri = f"sqlite:///{tmp / 'mlflow' / name / 'mlflow.db'}" if "MLflow" in config else None
                    if uri:
                        (tmp / "mlflow" / name).mkdir(parents=True)
                    study = write_study(tmp, name, n, uri, args.executor)
                    if args.trials > 1000:  # room for the study: 100,000 candidates instead of 1,000
                        doc = yaml.safe_load(study.read_text())
                        doc["frameworks"]["noop"].update({"c": "*", "d": "*"})
                        study.write_text(yaml.safe_dump(doc, sort_keys=False))
                    if config.startswith("request-dse"):
                        cmd = engine_cmd(study)
                    else:
                        cmd = [sys.executable, str(Path(__file__).resolve()), "--bare", str(study), "--template",
                               str(template)] + (["--mlflow", uri] if uri else [])
                    wall, cpu = timed(cmd)
                    if uri and config.startswith("request-dse"):
                        # tracking sends in the background and leaves what it could not send in
                        # time in the outbox: send the rest, and count it
                        wall2, cpu2 = timed([str(Path(sys.executable).with_name("request-dse")), "sync", str(study)])
                        wall, cpu = wall + wall2, cpu + cpu2
                    if uri:
                        runs = mlflow_runs(tmp / "mlflow" / name / "mlflow.db")
                        if runs < n + 1:
                            raise SystemExit(f"{config}: {runs} MLflow runs for {n} trials (expected {n + 1})")
                    walls.setdefault((config, n), []).append(wall)
                    cpus.setdefault((config, n), []).append(cpu)
                    print(f"round {r}: {config:28s} {n:4d} trials {wall:6.2f} s wall {cpu:6.2f} s CPU", flush=True)

    def per_trial(config: str, times: dict[tuple[str, int], list[float]]) -> float:
        small = statistics.median(times[(config, args.small)])
        large = statistics.median(times[(config, args.trials)])
        return (large - small) / (args.trials - args.small) * 1e3

    ms = {c: per_trial(c, walls) for c in configs}
    cpu_ms = {c: per_trial(c, cpus) for c in configs}
    load = os.getloadavg()[0]
    ratio_tracked = ms["request-dse + MLflow"] / ms["bare Optuna + MLflow"] if not args.no_mlflow else 0.0
    ratio_plain = ms["request-dse, tracking off"] / ms["bare Optuna"]
    lines = [
        "## Engine overhead (zero-cost backend)" + (f", {args.trials:,} trials" if args.trials != 300 else ""),
        "",
        f"{datetime.date.today().isoformat()}, {machine()}; command: `{COMMAND}`"
        + (f" `--executor {args.executor}`" if args.executor != "inline" else "")
        + "".join(f" `{flag}`" for flag, on in ((f"--trials {args.trials}", args.trials != 300),
                                                 (f"--rounds {args.rounds}", args.rounds != 3),
                                                 ("--no-mlflow", args.no_mlflow)) if on),
        "",
        f"{args.trials} trials of the `noop` backend through `request-dse tune` (executor {args.executor}, "
        "JournalStorage, results cache off) and through a bare Optuna ask/tell loop with the same sampler "
        "(NSGA-II, population 50, seed 0), storage kind and per-trial data; MLflow: a fresh SQLite store per run. "
        f"Per trial = (wall at {args.trials} trials - wall at {args.small}) / {args.trials - args.small}, "
        f"medians of {args.rounds} round(s); the configurations alternate.",
        "",
        f"Load average at the end: {load:.1f} on {os.cpu_count()} CPUs (other work shares the machine; compare "
        "the ratios, measured in one run, alternately).",
        "",
        "| configuration | wall per trial | CPU per trial | wall at " + f"{args.small} / {args.trials} trials |",
        "|---|---|---|---|",
    ]
    for c in configs:
        lines.append(f"| {c} | {ms[c]:.1f} ms | {cpu_ms[c]:.1f} ms | {statistics.median(walls[(c, args.small)]):.1f} s / "
                     f"{statistics.median(walls[(c, args.trials)]):.1f} s |")
    if args.no_mlflow:
        whole = statistics.median(walls[("request-dse, tracking off", args.trials)]) / statistics.median(
            walls[("bare Optuna", args.trials)])
        lines += ["", f"- request-dse / bare Optuna, no tracking: **{ratio_plain:.2f}x** per trial; the whole "
                  f"{args.trials:,}-trial study: **{whole:.2f}x** (goal <= 2x: {'met' if whole <= 2 else 'not met'})",
                  f"- CPU per trial: {cpu_ms['request-dse, tracking off'] / cpu_ms['bare Optuna']:.2f}x", ""]
        write_section(RESULTS.with_name(f"overhead_{args.trials}.md"), lines)
        return
    lines += [
        "",
        f"- request-dse / bare Optuna, both with MLflow: **{ratio_tracked:.2f}x** (goal <= 1.3x: "
        f"{'met' if 0 < ratio_tracked <= 1.3 else 'not met'})",
        f"- request-dse / bare Optuna, no tracking: {ratio_plain:.2f}x; CPU time: "
        f"{cpu_ms['request-dse + MLflow'] / cpu_ms['bare Optuna + MLflow']:.2f}x with MLflow, "
        f"{cpu_ms['request-dse, tracking off'] / cpu_ms['bare Optuna']:.2f}x without",
        f"- request-dse with tracking on: **{ms['request-dse + MLflow']:.1f} ms per trial** (goal < 20 ms: "
        f"{'met' if 0 < ms['request-dse + MLflow'] < 20 else 'not met'})",
        "",
    ]
    write_section(RESULTS if args.trials == 300 else RESULTS.with_name(f"overhead_{args.trials}.md"), lines)


if __name__ == "__main__":
    main()
