"""The measurement protocol's settings: a frozen record read from a study's ``measure:``.

Two protocols time a candidate (``protocol``):

* ``request-dse`` (the default): warm-up runs, then timed runs until both ``min_runs`` and
  ``min_time_s`` are met, capped by ``max_runs`` / ``max_time_s``, in ``repeats`` sessions of
  their own;
* ``loadgen``: MLPerf Inference's LoadGen issues the queries of a ``scenario`` to the candidate
  (:class:`LoadGenConfig`), in ``repeats`` sessions of their own.

Either way, runs timed in a slow spell of the host (windows of consecutive runs whose median sits
outside the fastest agreeing windows' intervals by more than ``session_tolerance``, relative) are
set aside, and sessions without steady windows are measured again, up to ``max_extra_sessions``
more sessions. ``settle_span_s`` spreads a measurement's sessions over that much wall time: the
host's slow spells last up to seconds, and only sessions spread wider than a spell find its steady
state again whenever they run. The confirm phase and ``validate`` use ``SPAN_S`` and
``SPAN_EXTRA_SESSIONS`` at least. Executors enforce ``timeout_s`` and ``memory_limit_mb`` on each session; early
stopping (``early_stop``) decides which candidates get the whole protocol.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

PROTOCOLS = ("request-dse", "loadgen")
#: LoadGen's scenarios, as a study names them.
SCENARIOS = ("single_stream", "multi_stream", "server", "offline")
#: The dimension of a study that lists several scenarios (each has its own Pareto front).
SCENARIO_DIMENSION = "measure.scenario"
#: The official seeds of MLPerf Inference's mlperf.conf (LoadGen's query order and arrival times).
MLPERF_SEEDS = {"qsl_rng_seed": 2085463073848966840, "sample_index_rng_seed": 2747215439041700203,
                "schedule_rng_seed": 16159082839903944936}
#: What the confirm phase and validation spread a measurement's sessions over, at least: the wall
#: time (s), and the extra sessions it may take.
SPAN_S = 4.0
SPAN_EXTRA_SESSIONS = 16
#: The minimum run MLPerf Inference requires of a submission: ms, and queries per scenario.
MLPERF_MIN_DURATION_MS = 600_000
MLPERF_MIN_QUERIES = {"single_stream": 64, "multi_stream": 662, "server": 270_336, "offline": 1}


@dataclass(frozen=True)
class EarlyStopConfig:
    """``measure.early_stop``: judge a candidate in its first session (a short one when the protocol
    has a single session); candidates the front beats stop there."""

    enabled: bool = False
    first_runs: int = 16        # timed runs before the judge first looks (then at every doubling)
    first_time_s: float = 0.01  # ... and this long in all, after as long untimed (a microsecond model starts cold)
    margin: float = 0.1         # relative: how much better the front must be than the optimistic estimate
    confirm_within: float = 0.5  # a stop by less than (1 + this) times beyond the margin needs a second session
    defer: int = 0              # a survivor's other sessions wait for up to this many later trials (0: run them at once)


@dataclass(frozen=True)
class LoadGenConfig:
    """``measure.loadgen``: the settings of each LoadGen run (``None``: the scenario's default)."""

    min_duration_ms: int = 1000
    min_query_count: int | None = None        # None: 64 (single_stream), 662 (multi_stream, server), 1 (offline)
    target_latency_ms: float | None = None    # server: the p99 bound (required)
    target_qps: float | None = None           # server: the first QPS tried; offline: the expected QPS
    samples_per_query: int = 8                # multi_stream
    performance_sample_count: int | None = None  # None: every held-out sample
    server_search_s: float = 30.0             # time bound of the search for the highest valid server QPS
    confirm_min_duration_ms: int | None = None   # the confirm phase's min_duration_ms (None: min_duration_ms)

    def min_queries(self, scenario: str) -> int:
        if self.min_query_count is not None:
            return self.min_query_count
        # the fewest queries whose early-stopping estimate can succeed: 64 for the 90th percentile,
        # 662 for the 99th (MLPerf's MultiStream minimum)
        return {"multi_stream": 662, "server": 662, "offline": 1}.get(scenario, 64)


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
    protocol: str = "request-dse"
    scenario: str = "single_stream"           # with the loadgen protocol
    loadgen: LoadGenConfig = LoadGenConfig()
    session_tolerance: float = 0.05
    max_extra_sessions: int = 3
    settle_span_s: float = 0.0               # sessions keep coming (within max_extra_sessions) until they span this

    @property
    def uses_loadgen(self) -> bool:
        return self.protocol == "loadgen"

    def spread(self, span_s: float) -> MeasureConfig:
        """This protocol with its sessions spread over ``span_s`` of wall time at least, and the
        extra sessions that takes."""
        if span_s <= self.settle_span_s:
            return self
        return replace(self, settle_span_s=span_s, max_extra_sessions=max(self.max_extra_sessions, SPAN_EXTRA_SESSIONS))
