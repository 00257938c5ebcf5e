"""The same TVM candidates measured locally and through TVM RPC on loopback.

    .venv/bin/python benchmarks/rpc_loopback.py

Starts a tracker and one server on 127.0.0.1, tunes one study on `local-cpu` and the same
study on an `rpc` target behind the tracker (same candidates, same protocol), and prints a
Markdown table: median latency of each candidate both ways (local samples: perf_counter
around each call; RPC samples: time_evaluator on the server, one call per sample), their
ratio, and the measurement wall time per trial (for RPC it includes connecting, uploading
and reading the held-out outputs back). Both run on this machine, so the ratio isolates
the method, not the hardware.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from _util import fresh_env, machine, request_dse, tempdir

from request_dse.testing.rpc import RpcCluster

MEASURE = {"warmup_runs": 10, "min_runs": 200, "min_time_s": 0.1, "repeats": 3, "timeout_s": 300}


def study(tmp: Path, target: str) -> Path:
    doc = {"name": f"rpc-bench-{target}", "workload": "digits", "target": target, "frameworks": {"tvm": {}},
           "space": {"dimensions": {"model.family": ["mobilenet", "resnet"], "model.width": [0.5],
                                    "model.depth": [8], "model.resolution": [16], "model.precision": ["fp32"]}},
           "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p50_ms"}],
           "budget": {"trials": 2}, "sampler": {"name": "grid", "seed": 0}, "measure": MEASURE,
           "tracking": {"enabled": False}, "confirm": {"enabled": False}, "cache": False,
           "work_dir": str(tmp / f"work-{target}")}
    path = tmp / f"{target}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def trials(path: Path, env: dict[str, str]) -> dict[str, dict]:
    run = request_dse("tune", str(path), "-q", "--no-export", env=env)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    report = json.loads(request_dse("report", str(path), "--json", env=env).stdout)
    return {t["candidate"]["model.family"]: t for t in report["trials"]}


def main() -> None:
    with tempdir() as tmp_name, RpcCluster(key="bench", servers=1) as cluster:
        tmp = Path(tmp_name)
        env = fresh_env(tmp)
        (tmp / "targets").mkdir()
        (tmp / "targets" / "loop.yaml").write_text(yaml.safe_dump({
            "target": "loop", "kind": "rpc", "frameworks": ["tvm"], "threads": {"choices": [1]},
            "options": {"tracker": str(cluster.tracker), "key": cluster.key}}))
        local = trials(study(tmp, "local-cpu"), env)
        remote = trials(study(tmp, "loop"), env)
    print(f"Machine: {machine()}; {time.strftime('%Y-%m-%d')}; protocol {MEASURE}\n")
    print("| model | local p50 ms | RPC p50 ms | RPC / local | local measure s | RPC measure s | accuracy local / RPC |")
    print("|---|---|---|---|---|---|---|")
    for family in sorted(local):
        a, b = local[family], remote[family]
        if a["status"] != "ok" or b["status"] != "ok":
            print(f"| {family} | {a['status']} | {b['status']} | - | - | - | - |")
            continue
        ma, mb = a["metrics"], b["metrics"]
        print(f"| {family} | {ma['latency_p50_ms']:.4f} | {mb['latency_p50_ms']:.4f} | "
              f"{mb['latency_p50_ms'] / ma['latency_p50_ms']:.2f} | {ma['measure_time_s']:.1f} | "
              f"{mb['measure_time_s']:.1f} | {ma['accuracy_top1']:.4f} / {mb['accuracy_top1']:.4f} |")


if __name__ == "__main__":
    main()
