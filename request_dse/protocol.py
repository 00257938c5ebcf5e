"""The measurement protocol's settings: a frozen record read from a study's ``measure:``.

Every target's sessions follow it (warm-up runs, then timed runs until both ``min_runs`` and
``min_time_s`` are met, capped by ``max_runs`` / ``max_time_s``, in ``repeats`` sessions of
their own); executors enforce its ``timeout_s`` and ``memory_limit_mb`` on each session; early
stopping (``early_stop``) decides which candidates get the whole protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class EarlyStopConfig:
    """``measure.early_stop``: judge a candidate after its first session (a short one when the protocol
    has a single session); candidates the front beats stop there."""

    enabled: bool = False
    first_runs: int = 16
    first_time_s: float = 0.0
    margin: float = 0.25        # relative: how much better the front must be than the optimistic estimate


@dataclass(frozen=True)
class MeasureConfig:
    warmup_runs: int = 10
    min_runs: int = 64
    min_time_s: float = 0.2
    max_runs: int = 10_000
    max_time_s: float = 5.0
    repeats: int = 3
    timeout_s: float = 120.0
    memory_limit_mb: int = 4096
    # Left out of repr (the results-cache key): it changes which candidates get the full
    # protocol, never what the full protocol measures.
    early_stop: EarlyStopConfig = field(default=EarlyStopConfig(), repr=False)
