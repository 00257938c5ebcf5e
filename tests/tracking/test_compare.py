"""Comparing two studies' fronts on a shared reference point."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from request_dse.errors import UserError
from request_dse.metrics import Objective
from request_dse.results import TrialRecord
from request_dse.tracking.compare import compare


def plan(name: str, reference: dict[str, float] | None = None, metric: str = "latency_p90_ms") -> SimpleNamespace:
    objectives = (Objective("accuracy_top1", "maximize"), Objective(metric, "minimize"))
    study = SimpleNamespace(name=name, objectives=objectives, metric_names=tuple(o.metric for o in objectives),
                            reference_point=reference or {})
    return SimpleNamespace(name=name, study=study)


def trials(*points: tuple[float, float]) -> list[TrialRecord]:
    return [TrialRecord(i, "COMPLETE", "ok", {}, f"h{i}", {"accuracy_top1": a, "latency_p90_ms": l})
            for i, (a, l) in enumerate(points)]


def test_dominance_and_hypervolume_on_a_shared_reference() -> None:
    a = trials((0.9, 1.0), (0.95, 2.0))
    b = trials((0.9, 0.5), (0.99, 3.0), (0.5, 5.0))  # b0 dominates a0; nothing dominates a1
    ref = {"accuracy_top1": 0.8, "latency_p90_ms": 4.0}
    result = compare(plan("A", ref), a, plan("B", ref), b)
    assert result.reference == [0.8, 4.0]
    assert result.a.dominated_by == {0: [0], 1: []}
    assert result.b.dominated_by == {0: [], 1: []}
    # A: (0.9,1) and (0.95,2) against (0.8,4): 0.1*3 + 0.05*2 = 0.4
    assert result.a.hypervolume == pytest.approx(0.4)
    # B: (0.9,0.5) and (0.99,3): 0.1*3.5 + 0.09*1 = 0.44
    assert result.b.hypervolume == pytest.approx(0.44)


def test_without_a_common_reference_one_is_derived_from_both_fronts() -> None:
    result = compare(plan("A"), trials((0.9, 1.0)), plan("B"), trials((0.8, 2.0)))
    assert result.reference == pytest.approx([0.79, 2.1])
    assert result.b.dominated_by == {0: [0]}


def test_studies_with_other_objectives_are_refused() -> None:
    with pytest.raises(UserError, match="optimize different objectives"):
        compare(plan("A"), [], plan("B", metric="latency_p50_ms"), [])
