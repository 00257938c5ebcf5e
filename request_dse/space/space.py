"""The search space: ordered dimensions, their conditions, constraints, enumeration and sampling.

A :class:`SearchSpace` is an ordered tuple of :class:`~request_dse.space.Dimension` s, each
perhaps active only under a condition on earlier ones (a TVM flag exists only when
``framework == 'tvm'``), plus constraints that exclude combinations. A
:class:`~request_dse.space.Candidate` holds the values of the active dimensions only, so two ways
of writing one configuration have one canonical form and one hash.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from request_dse.expr import Expression
from request_dse.space.candidate import Candidate
from request_dse.space.dimension import Dimension

#: Above this many combinations of the dimensions that conditions and constraints read,
#: counting and enumeration refuse rather than run for minutes.
MAX_ENUMERATION = 2_000_000


@dataclass(frozen=True)
class Constraint:
    """A rule every candidate must satisfy, with where it came from."""

    expression: Expression
    origin: str = "study"
    reason: str = ""

    def describe(self) -> str:
        return self.reason or f"{self.expression.text} ({self.origin})"


@dataclass(frozen=True)
class SearchSpace:
    dimensions: tuple[Dimension, ...]
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        names = [d.name for d in self.dimensions]
        for i, dim in enumerate(self.dimensions):
            later = set(names[i:])
            if dim.when is not None and dim.when.names & later:
                raise ValueError(f"condition of {dim.name} reads a dimension that is not declared before it")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.dimensions)

    def dimension(self, name: str) -> Dimension:
        for dim in self.dimensions:
            if dim.name == name:
                return dim
        raise KeyError(name)

    # -- candidates -----------------------------------------------------------------------------
    def candidate(self, params: Mapping[str, Any]) -> Candidate:
        """Canonicalize ``params``: inactive values dropped, missing or foreign values rejected."""
        out: dict[str, Any] = {}
        for dim in self.dimensions:
            if dim.when is not None and not dim.when.evaluate(out):
                continue
            if dim.name not in params:
                raise ValueError(f"no value for the active dimension {dim.name}")
            value = params[dim.name]
            if not dim.contains(value):
                raise ValueError(f"{dim.name}={value!r} is outside {dim.describe_domain()}")
            out[dim.name] = value
        return Candidate.of(out)

    def excluded_by(self, candidate: Candidate | Mapping[str, Any]) -> Constraint | None:
        values = candidate.params if isinstance(candidate, Candidate) else candidate
        for constraint in self.constraints:
            if not constraint.expression.evaluate(values):
                return constraint
        return None

    def suggest(self, trial: Any) -> Candidate:
        """Ask an Optuna trial for every active dimension, define-by-run."""
        out: dict[str, Any] = {}
        for dim in self.dimensions:
            if dim.when is not None and not dim.when.evaluate(out):
                continue
            if dim.kind == "categorical":
                out[dim.name] = trial.suggest_categorical(dim.name, dim.choices)
            elif dim.kind == "int":
                out[dim.name] = trial.suggest_int(dim.name, int(dim.low), int(dim.high),  # type: ignore[arg-type]
                                                  step=int(dim.step or 1), log=dim.log)
            else:
                out[dim.name] = trial.suggest_float(dim.name, dim.low, dim.high, step=dim.step, log=dim.log)  # type: ignore[arg-type]
        return Candidate.of(out)

    # -- enumeration ----------------------------------------------------------------------------
    @property
    def enumerable(self) -> bool:
        return all(d.enumerable for d in self.dimensions)

    def _structural(self) -> set[str]:
        names: set[str] = set()
        for dim in self.dimensions:
            if dim.when is not None:
                names |= dim.when.names
        for c in self.constraints:
            names |= c.expression.names
        return names

    def _walk(self, dims: Sequence[Dimension], budget: list[int]) -> Iterator[dict[str, Any]]:
        def rec(i: int, partial: dict[str, Any]) -> Iterator[dict[str, Any]]:
            if i == len(dims):
                budget[0] -= 1
                if budget[0] < 0:
                    raise OverflowError(f"more than {MAX_ENUMERATION} combinations")
                yield partial
                return
            dim = dims[i]
            if dim.when is not None and not dim.when.evaluate(partial):
                yield from rec(i + 1, partial)
                return
            for value in dim.values():
                yield from rec(i + 1, {**partial, dim.name: value})

        yield from rec(0, {})

    def count(self) -> float:
        """Distinct valid candidates (``math.inf`` with an active continuous dimension)."""
        structural = self._structural()
        skeleton = [d for d in self.dimensions if d.name in structural]
        free = [d for d in self.dimensions if d.name not in structural]
        total: float = 0
        for combo in self._walk(skeleton, [MAX_ENUMERATION]):
            if self.excluded_by(combo) is not None:
                continue
            sizes = [d.size() for d in free if d.when is None or d.when.evaluate(combo)]
            total += math.prod(sizes)
        return total

    def enumerate(self) -> Iterator[Candidate]:
        """Every valid candidate, in a stable order."""
        if not self.enumerable:
            raise ValueError("the space has continuous dimensions: "
                             + ", ".join(d.name for d in self.dimensions if not d.enumerable))
        for params in self._walk(self.dimensions, [MAX_ENUMERATION]):
            if self.excluded_by(params) is None:
                yield Candidate.of(params)

    def shuffled(self, seed: int) -> list[Candidate]:
        candidates = list(self.enumerate())
        random.Random(seed).shuffle(candidates)
        return candidates

    def sample(self, rng: random.Random, *, attempts: int = 1000) -> Candidate | None:
        """A uniformly drawn valid candidate (rejection sampling), or None."""
        for _ in itertools.repeat(None, attempts):
            out: dict[str, Any] = {}
            for dim in self.dimensions:
                if dim.when is not None and not dim.when.evaluate(out):
                    continue
                if dim.enumerable:
                    out[dim.name] = rng.choice(dim.values())
                elif dim.log:
                    out[dim.name] = math.exp(rng.uniform(math.log(dim.low), math.log(dim.high)))  # type: ignore[arg-type]
                else:
                    out[dim.name] = rng.uniform(dim.low, dim.high)  # type: ignore[arg-type]
            if self.excluded_by(out) is None:
                return Candidate.of(out)
        return None
