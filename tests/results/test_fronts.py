"""Pareto fronts and hypervolume, checked against moocore on random point sets."""

from __future__ import annotations

import moocore
import numpy as np
import pytest

from request_dse import results as pareto


@pytest.mark.parametrize("dims", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", range(5))
def test_hypervolume_matches_moocore(dims: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.random((30, dims))
    directions = ["minimize"] * dims
    reference = [1.1] * dims
    assert pareto.hypervolume(points, directions, reference) == pytest.approx(moocore.hypervolume(points, ref=reference))


def test_maximized_objectives_are_negated() -> None:
    rng = np.random.default_rng(7)
    points = rng.random((25, 3))
    directions = ["maximize", "minimize", "maximize"]
    reference = [-0.1, 1.1, -0.1]
    expected = moocore.hypervolume(points, ref=reference, maximise=[True, False, True])
    assert pareto.hypervolume(points, directions, reference) == pytest.approx(expected)


@pytest.mark.parametrize("seed", range(5))
def test_front_and_ranks_match_moocore(seed: int) -> None:
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 6, (40, 2)).astype(float)  # many ties and duplicates
    mask = pareto.nondominated(points)
    assert np.array_equal(mask, moocore.is_nondominated(points, keep_weakly=True))
    assert np.array_equal(pareto.ranks(points), moocore.pareto_rank(points) + 1)  # moocore counts from 0


def test_points_outside_the_reference_add_nothing() -> None:
    assert pareto.hypervolume(np.array([[2.0, 2.0]]), ["minimize", "minimize"], [1.0, 1.0]) == 0.0
    assert pareto.hypervolume(np.zeros((0, 2)), ["minimize", "minimize"], [1.0, 1.0]) == 0.0


def test_reference_point_is_worst_plus_margin() -> None:
    points = np.array([[0.9, 2.0], [0.99, 4.0]])
    ref = pareto.reference_point(points, ["maximize", "minimize"])
    assert ref == pytest.approx([0.9 - 0.009, 4.0 + 0.2])
    flat = pareto.reference_point(np.array([[0.5, 3.0]]), ["maximize", "minimize"])
    assert flat == pytest.approx([0.45, 3.3])


def test_front_indices_in_input_order() -> None:
    points = np.array([[0.9, 1.0], [0.95, 2.0], [0.8, 3.0], [0.95, 1.5]])
    assert list(pareto.front(points, ["maximize", "minimize"])) == [0, 3]


@pytest.mark.parametrize("seed", range(4))
def test_two_objective_ranks_match_peeling_fronts_with_ties(seed: int) -> None:
    """The O(n log n) two-objective sort agrees with peeling fronts one at a time, duplicates and
    ties on one objective included."""
    rng = np.random.default_rng(seed)
    pts = rng.integers(0, 6, size=(80, 2)).astype(float)
    expected = np.zeros(len(pts), dtype=int)
    remaining, rank = np.arange(len(pts)), 1
    while len(remaining):
        mask = pareto.nondominated(pts[remaining])
        expected[remaining[mask]] = rank
        remaining, rank = remaining[~mask], rank + 1
    assert (pareto.ranks(pts) == expected).all()
