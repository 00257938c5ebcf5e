"""One bundle entry from a plan and a measured candidate: the fields every bundle states, filled
in one place for a study's Pareto point and for a baseline alike."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.evaluate import PREDICTIONS, Interval, protocol_for
from request_dse.protocol import MeasureConfig
from request_dse.results import load_samples
from request_dse.space import Candidate
from request_dse.study import Plan
from request_dse.submission.writer import Entry


def make_entry(plan: Plan, candidate: Candidate, *, kind: str, entry_id: str, label: str,
               metrics: Mapping[str, float], intervals: Mapping[str, Interval], artifact_dir: Path,
               samples_path: Path, info: Mapping[str, Any], repeats: int, location: str, rebuild: str,
               measure: MeasureConfig | None = None, **extra: Any) -> Entry:
    """The entry of ``candidate`` measured in ``repeats`` sessions (its figures, artifact and samples)
    with ``measure`` (default: the study's protocol in the candidate's scenario); ``extra``: the
    fields only some entries have (pareto, study, study_file, confirm, constraints)."""
    backend = candidate["framework"]
    sessions = load_samples(samples_path) if samples_path.is_file() else []
    software = dict(info.get("environment") or {})  # the lock the candidate ran with
    lock_file = software.pop("lock_file", None)
    return Entry(
        id=entry_id, kind=kind, label=label, candidate=candidate.params, candidate_hash=candidate.hash,
        backend=backend, backend_version=plan.version(candidate), flags=plan.flags(candidate),
        build_info={k: v for k, v in info.items() if k not in ("energy_source", "environment", "loadgen", "sessions",
                                                                   "misclassified")},
        software=software, environment_lock=Path(lock_file) if lock_file else None,
        target_name=plan.target_spec.name, target_kind=plan.target_spec.kind, target_system=plan.target.system(),
        batch_size=plan.batch_size(candidate), threads=plan.threads(candidate),
        protocol=dataclasses.asdict(dataclasses.replace(measure or protocol_for(plan, candidate), repeats=repeats)),
        metrics=metrics, intervals=intervals, objectives=[(o.metric, o.direction) for o in plan.study.objectives],
        artifact_dir=artifact_dir, samples_path=samples_path,
        prepared=plan.workload.prepare(candidate, plan.cache_dir / "prepared"), workload=plan.workload.name,
        predictions_path=samples_path.parent / PREDICTIONS, rebuild=rebuild,
        energy_source=str(info.get("energy_source", "")), sessions=len(sessions), location=location,
        loadgen_dir=samples_path.parent / "loadgen" if (samples_path.parent / "loadgen").is_dir() else None, **extra)
