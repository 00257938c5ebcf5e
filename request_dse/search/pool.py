"""Candidates drawn without replacement: what the search measures when the sampler stops helping.

A finite space is enumerated once, shuffled with the study's seed, and walked with a cursor:
each draw is the next candidate that is not measured, not in flight, not excluded -- so drawing
costs the same at the first trial and the ten-thousandth, and a candidate passed over as taken
never becomes free again (one whose trial is interrupted is measured again first anyway, see
:class:`~request_dse.search.index.TrialIndex`). Spaces too large to enumerate (or continuous) are
sampled at random instead, a bounded number of tries per draw.

The ``grid`` sampler draws every proposal from the pool; the others fall back on it when they
keep proposing candidates already known.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from request_dse.space import Candidate, SearchSpace

#: Largest space enumerated (larger ones are sampled at random).
MAX_ENUMERATED = 200_000
#: Random draws tried per proposal on a space too large to enumerate.
RANDOM_TRIES = 200


class CandidatePool:
    def __init__(self, space: SearchSpace, seed: int | None) -> None:
        self.space = space
        self.rng = random.Random(seed)
        self._order: list[Candidate] | None = None
        self._cursor = 0
        self.enumerable = space.enumerable and space.count() <= MAX_ENUMERATED

    def _candidates(self) -> list[Candidate]:
        if self._order is None:
            self._order = list(self.space.enumerate())
            self.rng.shuffle(self._order)
        return self._order

    def draw(self, taken: Callable[[Candidate], bool]) -> Candidate | None:
        """The next candidate ``taken`` says is free; None when none is left (a finite space:
        the pool is exhausted for good) or none was found in :data:`RANDOM_TRIES` random draws."""
        if not self.enumerable:
            for _ in range(RANDOM_TRIES):
                candidate = self.space.sample(self.rng)
                if candidate is not None and not taken(candidate):
                    return candidate
            return None
        order = self._candidates()
        while self._cursor < len(order):
            candidate = order[self._cursor]
            if not taken(candidate):
                return candidate
            self._cursor += 1
        return None

    def scatter(self) -> None:
        """Jump to a random place in the order: another process drawing the same order (the same
        seed) took this one, and following it in lockstep would collide again and again."""
        if self._order is not None and self._cursor < len(self._order):
            rest = self._order[self._cursor:]
            self.rng.seed(random.randrange(2**63))
            self.rng.shuffle(rest)
            self._order[self._cursor:] = rest

    @property
    def drawn(self) -> int:
        """How far the walk has gone (candidates passed over as taken)."""
        return self._cursor
