"""The study as MLflow sees it: pure functions from trials to run contents (no MLflow import).

A *run payload* is a plain JSON-able dict, so it can wait in the outbox::

    {"key": "trial:7", "role": "trial", "number": 7, "name": "...", "status": "FINISHED",
     "start_ms": ..., "end_ms": ..., "params": {...}, "metrics": {...}, "tags": {...},
     "artifacts": [[local_path, artifact_dir], ...]}

Child runs carry every knob of the candidate as a param under its own name (``model.width``,
``onnxruntime.graph_optimization_level``, ``onnxruntime.version``, ``tvm.opt_level``), every
metric, the tags below, and as artifacts the samples, logs and ``environment/environment.lock``
(the lock of the software environment the trial ran in).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.results import fronts

TAG = "request_dse."
STUDY_ID, STUDY, ROLE, TRIAL, HASH, OWNER = (TAG + k for k in ("study_id", "study", "role", "trial", "trial_hash",
                                                               "owner"))
STATUS, PARETO, PARETO_RANK, ERROR, CACHED = (TAG + k for k in ("status", "pareto", "pareto_rank", "error", "cached"))
PARENT_RUN = "mlflow.parentRunId"

#: MLflow run status of each trial status; any other status is a FAILED run.
RUN_STATUS = {"ok": "FINISHED", "infeasible": "FINISHED", "dominated_early": "FINISHED", "interrupted": "KILLED",
              "running": "RUNNING"}
FINAL = frozenset({"FINISHED", "FAILED", "KILLED"})

#: MLflow's limit on a tag value (longer error texts are cut).
MAX_TAG = 5000


def run_status(trial_status: str) -> str:
    return RUN_STATUS.get(trial_status, "FAILED")


def trial_key(number: int) -> str:
    return f"trial:{number}"


def _ms(value: Any) -> int | None:
    if value is None:
        return None
    if hasattr(value, "timestamp"):
        return int(value.timestamp() * 1000)
    return int(float(value) * 1000)


def _param(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def pareto_ranks(records: Sequence[Any], names: Sequence[str], directions: Sequence[str]) -> dict[int, int]:
    """Trial number -> non-dominated rank (1 = on the front) of the ``ok`` trials."""
    ok = [r for r in records if r.status == "ok" and all(m in r.metrics for m in names)]
    if not ok:
        return {}
    points = fronts.to_minimization(np.array([[r.metrics[m] for m in names] for r in ok]), directions)
    return {r.number: int(k) for r, k in zip(ok, fronts.ranks(points))}


def trial_payload(record: Any, study_id: str, study: str, owner: str, *, rank: int | None = None,
                  running: bool = False) -> dict[str, Any]:
    """The child run of one trial (``running``: the trial has started and has no result yet)."""
    status = "running" if running else record.status
    timings = record.timings or {}
    start = _ms(timings.get("build_start")) or _ms(record.started) or int(time.time() * 1000)
    end = _ms(timings.get("measure_end") or timings.get("build_end")) or _ms(record.finished)
    tags = {STUDY_ID: study_id, STUDY: study, ROLE: "trial", TRIAL: str(record.number), HASH: record.hash or "",
            OWNER: owner, STATUS: status, CACHED: str(bool(record.cached)).lower()}
    if not running:
        tags[PARETO] = "true" if rank == 1 else "false"
        tags[PARETO_RANK] = str(rank) if rank is not None else ""
        tags[ERROR] = (record.error or "")[:MAX_TAG]
    artifacts = []
    if not running:
        for name, folder in (("samples", "measurements"), ("build_log", "logs"), ("measure_log", "logs")):
            if record.paths.get(name):
                artifacts.append([str(record.paths[name]), folder])
        environment = (record.info or {}).get("environment") or {}
        if environment.get("lock_file"):  # the exact versions and hashes the candidate ran with
            artifacts.append([str(environment["lock_file"]), "environment"])
    metrics = {} if running else {k: float(v) for k, v in record.metrics.items() if np.isfinite(v)}
    if not running:
        for step in ("build", "measure"):
            if step in timings:
                metrics.setdefault(f"{step}_wall_s", float(timings[step]))
    return {
        "key": trial_key(record.number), "role": "trial", "number": record.number,
        "name": f"trial-{record.number:04d}-{(record.hash or 'none')[:8]}", "status": run_status(status),
        "start_ms": start, "end_ms": None if running else (end or int(time.time() * 1000)),
        "params": {k: _param(v) for k, v in sorted(record.params.items())},
        "metrics": metrics, "tags": tags, "artifacts": artifacts,
    }


def pareto_update(records: Sequence[Any], ranks: Mapping[int, int]) -> dict[str, Any]:
    """New ``pareto`` / ``pareto_rank`` tags of every finished trial (sent where they changed)."""
    tags = {}
    for r in records:
        rank = ranks.get(r.number)
        tags[str(r.number)] = {PARETO: "true" if rank == 1 else "false", PARETO_RANK: str(rank) if rank else ""}
    return {"key": "pareto", "role": "pareto", "tags": tags}


def parent_start(plan: Any, study_id: str, owner: str) -> dict[str, Any]:
    """The study's parent run as it opens (or re-opens, for a resumed study)."""
    study = plan.study
    params = {
        "study": study.name, "workload": plan.workload.name, "target": plan.target_spec.name,
        "frameworks": ",".join(study.frameworks), "objectives": ",".join(f"{o.direction}:{o.metric}" for o in study.objectives),
        "constraints": "; ".join(str(c) for c in study.constraints) or "none",
        "sampler": study.sampler.name, "sampler.seed": str(study.sampler.seed),
        "budget.trials": str(study.trials), "space.size": str(plan.space.count()),
    }
    for k, v in sorted(study.sampler.options.items()):
        params[f"sampler.{k}"] = str(v)
    tags = {STUDY_ID: study_id, STUDY: study.name, ROLE: "study", OWNER: owner, STATUS: "running",
            "mlflow.note.content": study.description or f"request-dse study {study.name}"}
    return {"key": "parent:start", "role": "parent", "name": f"study-{study.name}", "status": "RUNNING",
            "start_ms": int(time.time() * 1000), "params": params, "metrics": {}, "tags": tags,
            "artifacts": [[str(study.source.resolve()), ""]], "params_once": True}


#: Key prefix of the parent run's stepped progress points.
PROGRESS = "parent:step:"


def parent_progress(step: int, hypervolume: float, front_size: int, measured: int, now_ms: int) -> dict[str, Any]:
    """Hypervolume (and front size) after the ``step``-th measured trial, as stepped metrics."""
    return {"key": f"{PROGRESS}{step}", "role": "parent", "step": step, "timestamp": now_ms,
            "metrics": {"hypervolume": hypervolume, "pareto_front_size": float(front_size),
                        "trials_measured": float(measured)}}


def parent_end(status: str, reason: str, artifacts: Sequence[tuple[str, str]], summary: Mapping[str, float]) -> dict[str, Any]:
    return {"key": "parent:end", "role": "parent", "status": status, "end_ms": int(time.time() * 1000),
            "metrics": dict(summary), "tags": {STATUS: reason}, "artifacts": [list(a) for a in artifacts]}


def artifact_exists(path: str) -> bool:
    return Path(path).is_file()
