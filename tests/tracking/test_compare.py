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


def with_workload(p: SimpleNamespace, name: str, sha256: str = "") -> SimpleNamespace:
    described = {"name": name, **({"sha256": sha256} if sha256 else {})}
    p.workload = SimpleNamespace(name=name, describe=lambda: described)
    return p


def test_studies_of_other_workloads_are_refused() -> None:
    with pytest.raises(UserError, match=r"^studies 'A' and 'B' measure different workloads \(digits vs my-mlp\); "
                                        "their fronts cannot be compared$"):
        compare(with_workload(plan("A"), "digits"), [], with_workload(plan("B"), "my-mlp"), [])
    with pytest.raises(UserError, match=r"\(lin \(model sha256 aaaaaaaaaaaa\) vs lin \(model sha256 bbbbbbbbbbbb\)\)"):
        compare(with_workload(plan("A"), "lin", "a" * 64), [], with_workload(plan("B"), "lin", "b" * 64), [])


def test_a_given_front_replaces_the_search_figures() -> None:
    """Confirmed figures (passed as the study's front) decide, not the search's luckier ones."""
    a = with_workload(plan("A"), "digits")
    b = with_workload(plan("B"), "digits")
    lucky = trials((0.9, 0.5))                                 # the search's figure of A's only point
    confirmed = [TrialRecord(0, "COMPLETE", "ok", {}, "h0", {"accuracy_top1": 0.9, "latency_p90_ms": 2.0})]
    rival = trials((0.9, 1.0))
    assert compare(a, lucky, b, rival).b.dominated_by == {0: [0]}       # on search figures A wins
    result = compare(a, lucky, b, rival, given=(confirmed, None))
    assert result.a.dominated_by == {0: [0]} and result.b.dominated_by == {0: []}
