"""Where the search's next proposal comes from.

1. **Interrupted candidates first.** A candidate whose trial was interrupted (a killed run, Ctrl-C,
   SIGTERM) and that nobody has measured since is proposed again before anything new, by any
   process sharing the study: nothing a stopped run was doing is lost.
2. **The pool** (:class:`~request_dse.search.pool.CandidatePool`): every proposal of the ``grid``
   sampler; and, for the other samplers, a run of draws whenever the sampler keeps proposing
   candidates already known (measured, in flight, excluded) -- :data:`STUCK` of its last
   :data:`WINDOW` proposals. Each such run is twice as long as the previous one while the
   sampler stays stuck, so a converged sampler costs a handful of wasted proposals per hundred
   measurements instead of several per measurement; its proposals are tried again after each
   run, and a sampler that proposes new candidates again gets the runs back to their first length.
3. **The sampler** otherwise.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

from request_dse.results import TrialRecord
from request_dse.search.pool import CandidatePool
from request_dse.space import Candidate, SearchSpace

WINDOW = 20
STUCK = 10
MAX_RUN = 64 * WINDOW


class Proposer:
    def __init__(self, space: SearchSpace, seed: int | None, *, grid: bool) -> None:
        self.space = space
        self.grid = grid
        self.pool = CandidatePool(space, seed)
        self._recent: deque[bool] = deque(maxlen=WINDOW)
        self._run = WINDOW      # length of the next run of pool draws
        self._left = 0          # draws left in the current run
        self.pool_draws = 0

    @property
    def mode(self) -> str:
        """What the progress line says about where proposals come from ('' when from the sampler)."""
        if self._left and not self.grid:
            return (f"sampler stuck on known candidates: drawing unmeasured ones without replacement "
                    f"({self._left} more)")
        return ""

    def next(self, free: Callable[[Candidate], bool],
             interrupted: Iterable[TrialRecord]) -> tuple[str, Candidate | None]:
        """``("requeued" | "pool", candidate)``, ``("sampler", None)``, or ``("exhausted", None)``
        when the pool has no free candidate left. ``free``: whether a candidate may be measured now."""
        for rec in interrupted:
            try:
                candidate = self.space.candidate(rec.params)
            except ValueError:  # the space changed since
                continue
            if self.space.excluded_by(candidate) is None and free(candidate):
                return "requeued", candidate
        if not (self.grid or self._left):
            return "sampler", None
        candidate = self.pool.draw(lambda c: not free(c))
        if candidate is None:
            self._left = 0
            return "exhausted", None
        self._left = max(0, self._left - 1)
        self.pool_draws += 1
        return "pool", candidate

    def sampler_said(self, known: bool) -> None:
        """The outcome of a sampler's proposal: ``known`` when it measured nothing new."""
        self._recent.append(known)
        if sum(self._recent) >= STUCK:
            self._left = self._run
            self._run = min(2 * self._run, MAX_RUN)
            self._recent.clear()
        elif len(self._recent) == WINDOW:
            self._run = WINDOW
            self._recent.clear()

    def collided(self) -> None:
        """A drawn candidate was taken by another process at the same moment."""
        self.pool.scatter()
