"""Reading a study back from MLflow, and running studies with an extra observer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from request_dse.execute import make_executor
from request_dse.search import Search, records
from request_dse.study import load_plan
from request_dse.tracking import tracking_observer

MEASURE = {"warmup_runs": 1, "min_runs": 5, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1, "timeout_s": 60}


def fault_study(name: str, uri: str, *, trials: int = 4, **overrides: Any) -> dict[str, Any]:
    """A study of four candidates, two of which fail at measurement (``faults.fault = raise``)."""
    doc = {
        "frameworks": {"faults": {"fault": ["none", "raise"], "stage": ["measure"]}},
        "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                 "model.resolution": [4], "model.precision": ["fp32"]}},
        "sampler": {"name": "grid", "seed": 0}, "budget": {"trials": trials}, "measure": dict(MEASURE),
        "tracking": {"enabled": True, "uri": uri, "experiment": "request-dse-tests"},
    }
    doc.update(overrides)
    return doc


def run_study(path: Path, *extra: Any) -> tuple[Search, Any]:
    """Run the study with tracking (and ``extra`` observers); returns the search and its tracker."""
    plan = load_plan(path)
    tracker = tracking_observer(plan)
    runner = make_executor(plan, "local")
    search = Search(plan, runner, [*extra, tracker])
    try:
        search.run()
    finally:
        runner.shutdown()
    return search, tracker


def study_runs(client: Any, study: str, experiment: str = "request-dse-tests") -> tuple[list[Any], list[Any]]:
    """(parent runs, child runs) of ``study``, read back with ``search_runs``."""
    exp = client.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment!r}"
    runs = client.search_runs([exp.experiment_id], f"tags.`request_dse.study` = '{study}'", max_results=1000)
    parents = [r for r in runs if r.data.tags.get("request_dse.role") == "study"]
    children = [r for r in runs if r.data.tags.get("request_dse.role") == "trial"]
    return parents, children


def projected_trials(search_or_study: Any) -> list[Any]:
    """The trials that get a run: measured ones and interrupted ones (skipped proposals do not)."""
    study = getattr(search_or_study, "study", search_or_study)
    return [r for r in records(study) if r.skip is None and r.status not in ("",)]


def one_run_each(trials: Sequence[Any], children: Sequence[Any]) -> dict[int, Any]:
    counts = Counter(int(r.data.tags["request_dse.trial"]) for r in children)
    assert {n for n, k in counts.items() if k > 1} == set(), f"duplicate runs: {counts}"
    assert set(counts) == {t.number for t in trials}, (sorted(counts), sorted(t.number for t in trials))
    return {int(r.data.tags["request_dse.trial"]): r for r in children}
