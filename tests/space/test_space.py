"""The search space: conditions, constraints, canonical candidates, enumeration, sampling."""

from __future__ import annotations

import math
import random

import optuna
import pytest

from request_dse.expr import Expression, ExpressionError, MetricConstraint
from request_dse.space import Candidate, Constraint, Dimension, SearchSpace


def _space(constraints: tuple[str, ...] = ()) -> SearchSpace:
    return SearchSpace((
        Dimension("framework", "categorical", ("onnxruntime", "tvm")),
        Dimension("tvm.opt_level", "int", low=0, high=3, when=Expression.parse("framework == 'tvm'")),
        Dimension("tvm.layout", "categorical", ("NCHW", "NHWC"), when=Expression.parse("framework == 'tvm'")),
        Dimension("batch_size", "categorical", (1, 8)),
    ), tuple(Constraint(Expression.parse(c)) for c in constraints))


def test_count_and_enumeration_respect_conditions() -> None:
    space = _space()
    # onnxruntime: 2 batch sizes; tvm: 4 opt levels x 2 layouts x 2 batch sizes
    assert space.count() == 2 + 4 * 2 * 2
    candidates = list(space.enumerate())
    assert len(candidates) == 18
    assert len({c.hash for c in candidates}) == 18
    ort = [c for c in candidates if c["framework"] == "onnxruntime"]
    assert all("tvm.opt_level" not in c for c in ort)


def test_constraints_exclude_combinations() -> None:
    space = _space(("not (framework == 'tvm' and batch_size == 8)", "tvm.opt_level != 0"))
    assert space.count() == 2 + 3 * 2
    assert all(space.excluded_by(c) is None for c in space.enumerate())
    bad = {"framework": "tvm", "tvm.opt_level": 3, "tvm.layout": "NCHW", "batch_size": 8}
    assert space.excluded_by(bad) is space.constraints[0]


def test_candidate_is_canonical_and_hash_is_stable() -> None:
    space = _space()
    a = space.candidate({"framework": "onnxruntime", "batch_size": 1, "tvm.opt_level": 3})  # inactive value dropped
    b = Candidate.of({"batch_size": 1, "framework": "onnxruntime"})
    assert a == b and a.hash == b.hash
    # The hash is a function of the canonical JSON only: fixed across runs and machines.
    assert a.hash == "0c5edda04df0"
    assert Candidate.of({"x": 1}).hash != Candidate.of({"x": 1.0}).hash  # types matter, like the YAML


def test_candidate_rejects_foreign_values() -> None:
    space = _space()
    with pytest.raises(ValueError, match="outside"):
        space.candidate({"framework": "tvm", "tvm.opt_level": 9, "tvm.layout": "NCHW", "batch_size": 1})
    with pytest.raises(ValueError, match="no value for the active dimension tvm.layout"):
        space.candidate({"framework": "tvm", "tvm.opt_level": 1, "batch_size": 1})


def test_condition_must_read_earlier_dimensions() -> None:
    with pytest.raises(ValueError, match="not declared before"):
        SearchSpace((Dimension("a", "categorical", (1,), when=Expression.parse("b == 1")),
                     Dimension("b", "categorical", (1,))))


def test_continuous_dimensions_count_as_infinite_and_sample() -> None:
    space = SearchSpace((Dimension("lr", "float", low=1e-4, high=1e-1, log=True),
                         Dimension("n", "int", low=1, high=9, step=2)))
    assert math.isinf(space.count())
    assert not space.enumerable
    with pytest.raises(ValueError, match="continuous"):
        list(space.enumerate())
    c = space.sample(random.Random(0))
    assert c is not None and 1e-4 <= c["lr"] <= 1e-1 and c["n"] in (1, 3, 5, 7, 9)


def test_suggest_through_optuna_defines_by_run() -> None:
    space = _space(("not (framework == 'tvm' and batch_size == 8)",))
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=3))
    seen = set()
    for _ in range(40):
        trial = study.ask()
        candidate = space.suggest(trial)
        assert set(trial.params) == set(candidate.params)
        seen.add(candidate["framework"])
        study.tell(trial, 0.0)
    assert seen == {"onnxruntime", "tvm"}


def test_shuffled_is_a_seeded_permutation() -> None:
    space = _space()
    assert [c.hash for c in space.shuffled(1)] == [c.hash for c in space.shuffled(1)]
    assert sorted(c.hash for c in space.shuffled(1)) == sorted(c.hash for c in space.enumerate())
    assert [c.hash for c in space.shuffled(1)] != [c.hash for c in space.shuffled(2)]


@pytest.mark.parametrize(("text", "values", "expected"), [
    ("framework == 'tvm'", {"framework": "tvm"}, True),
    ("model.width in [0.25, 0.5]", {"model.width": 0.5}, True),
    ("not (a == 1 and b == 2)", {"a": 1, "b": 2}, False),
    ("x > 3", {}, False),  # an inactive dimension is None and compares false
    ("x == None", {}, True),
    ("1 < x <= 3", {"x": 3}, True),
])
def test_expressions(text: str, values: dict, expected: bool) -> None:
    assert Expression.parse(text).evaluate(values) is expected


@pytest.mark.parametrize("text", ["x.__class__()", "lambda: 1", "a + 1 == 2", "[x for x in y]", "f(x)", "x = 1"])
def test_expressions_refuse_anything_but_comparisons(text: str) -> None:
    with pytest.raises(ExpressionError):
        Expression.parse(text)


@pytest.mark.parametrize(("text", "value", "violation"), [
    ("accuracy_top1 >= 0.9", 0.95, -0.05), ("accuracy_top1 >= 0.9", 0.8, 0.1),
    ("latency_p90_ms <= 2", 3.0, 1.0), ("latency_p90_ms < -1", -2.0, -1.0),
])
def test_metric_constraints(text: str, value: float, violation: float) -> None:
    assert MetricConstraint.parse(text).violation(value) == pytest.approx(violation)
