"""The request-dse protocol's timed runs, and when a judging session's judge looks at them."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from request_dse.protocol import MeasureConfig
from request_dse.targets import SessionRequest, host_speed, judge_looks
from request_dse.targets.session import Loaded, time_runs


class SpinSession:
    """A model that takes ``run_us`` per run (busy, like a kernel): its runs are timed as they are."""

    def __init__(self, run_us: float) -> None:
        self.run_ns = int(run_us * 1000)

    def place(self, x: np.ndarray) -> np.ndarray:
        return x

    def run(self, placed: np.ndarray) -> None:
        end = time.perf_counter_ns() + self.run_ns
        while time.perf_counter_ns() < end:
            pass


@dataclasses.dataclass
class RecordingJudge:
    first_runs: int
    first_time_s: float
    stop_at_look: int = 0                    # 1-based; 0: never stops
    order: tuple[int, ...] = ()
    looks: list[int] = dataclasses.field(default_factory=list)

    probes: list[np.ndarray] = dataclasses.field(default_factory=list)

    def __call__(self, samples_ns: np.ndarray, top5: np.ndarray | None, *,
                 probes_ns: np.ndarray | None = None) -> str | None:
        self.looks.append(len(samples_ns))
        self.probes.append(probes_ns)
        return "beaten" if len(self.looks) == self.stop_at_look else None


def session(run_us: float, judge: RecordingJudge, min_runs: int = 200) -> tuple[np.ndarray, str | None]:
    protocol = MeasureConfig(warmup_runs=2, min_runs=min_runs, min_time_s=0.0, max_time_s=10.0)
    request = SessionRequest("onnxruntime", Path("."), None, 1, 1, protocol, score=False, judge=judge)  # type: ignore[arg-type]
    loaded = Loaded(SpinSession(run_us), 0.0, 0.0, time.perf_counter(), np.zeros((4, 3), np.float32))
    samples, _, judged = time_runs(loaded, request)
    return samples, judged


@pytest.mark.parametrize(("first_runs", "first_time_s"), [(4, 0.0), (4, 0.002), (16, 0.0005)])
def test_the_judge_looks_where_judge_looks_says(first_runs: int, first_time_s: float) -> None:
    """After ``first_runs`` runs and ``first_time_s`` of run time, then at every doubling: the
    worker's looks and the ones :func:`judge_looks` reads off the samples (for the judge's bias)
    are the same."""
    judge = RecordingJudge(first_runs, first_time_s)
    samples, judged = session(100, judge)
    assert judged is None and len(samples) == 200
    assert judge.looks == judge_looks(samples, first_runs, first_time_s)
    assert judge.looks[0] >= first_runs
    assert samples[:judge.looks[0]].sum() >= first_time_s * 1e9
    assert samples[:judge.looks[0] - 1].sum() < first_time_s * 1e9 or judge.looks[0] == first_runs
    assert all(b == 2 * a for a, b in zip(judge.looks, judge.looks[1:]))


def test_a_microsecond_model_is_first_judged_after_first_time_s_not_after_first_runs() -> None:
    """16 runs of a 100 us model are 1.6 ms: with ``first_time_s`` 0.01 the judge first looks after
    about 100 runs (at most 100: a timed run is never shorter than the model), once the model's cold
    first runs are a small part of what it sees. A busy host makes some runs longer and the look
    earlier, but still far beyond the 16 runs alone."""
    judge = RecordingJudge(16, 0.01)
    samples, _ = session(100, judge, min_runs=400)
    first = judge.looks[0]
    assert 2 * 16 < first <= 100
    assert samples[:first].sum() >= 0.01e9 > samples[:first - 1].sum()


class CountingSession(SpinSession):
    """A :class:`SpinSession` that counts its runs and notes when each began."""

    def __init__(self, run_us: float) -> None:
        super().__init__(run_us)
        self.starts: list[int] = []

    def run(self, placed: np.ndarray) -> None:
        self.starts.append(time.perf_counter_ns())
        super().run(placed)


@pytest.mark.parametrize("judged", [True, False])
def test_a_judging_session_warms_up_for_first_time_s_before_its_timed_runs(judged: bool,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing scores the model before a judging session's runs (its scoring comes at the first look),
    so after ``warmup_runs`` it runs ``first_time_s`` more, untimed: its judge never sees the cold first
    milliseconds of a model that runs in microseconds. A session without a judge warms up as before."""
    protocol = MeasureConfig(warmup_runs=2, min_runs=50, min_time_s=0.0, max_time_s=10.0)
    judge = RecordingJudge(16, 0.005) if judged else None
    request = SessionRequest("onnxruntime", Path("."), None, 1, 1, protocol, score=False, judge=judge)  # type: ignore[arg-type]
    monkeypatch.setattr(host_speed, "EVERY_NS", 10**12)  # no probe after the first: every untimed run is warm-up
    model = CountingSession(100)
    loaded = Loaded(model, 0.0, 0.0, time.perf_counter(), np.zeros((4, 3), np.float32))
    samples, _, _ = time_runs(loaded, request)
    untimed = len(model.starts) - len(samples)
    if not judged:
        assert untimed == 2
        return
    assert untimed > 2 + 5  # 5 ms of 100 us runs: up to 50 of them, fewer on a busy host
    assert model.starts[untimed] - model.starts[2] >= 0.005e9


@pytest.mark.parametrize("stop_at_look", [0, 1])
def test_a_short_judging_session_runs_until_its_judge_has_looked(stop_at_look: int) -> None:
    """A short judging session (``min_runs`` 4, its judge's first look after 16 runs) ends at that
    look when the judge stops the candidate, else one run after it, never before it."""
    judge = RecordingJudge(16, 0.0, stop_at_look=stop_at_look)
    samples, judged = session(50, judge, min_runs=4)
    assert judge.looks == [16]
    assert (judged, len(samples)) == (("beaten", 16) if stop_at_look else (None, 17))


def test_a_judgement_ends_the_session_at_that_look() -> None:
    judge = RecordingJudge(4, 0.0, stop_at_look=2)
    samples, judged = session(50, judge)
    assert judged == "beaten" and judge.looks == [4, 8] and len(samples) == 8


@pytest.mark.parametrize("judged", [True, False])
def test_a_judging_session_times_the_host_speed_probe_between_its_runs(judged: bool,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A judging session times the host-speed probe before its first timed run and again after
    each ``host_speed.EVERY_NS`` of runs, keeps the probe before each timed run, and runs the model
    once untimed after each later probe; the judge sees the probes with the samples. A session
    without a judge times no probe."""
    protocol = MeasureConfig(warmup_runs=2, min_runs=60, min_time_s=0.0, max_time_s=10.0)
    judge = RecordingJudge(16, 0.0) if judged else None
    request = SessionRequest("onnxruntime", Path("."), None, 1, 1, protocol, score=False, judge=judge)  # type: ignore[arg-type]
    timed = iter(range(1000, 10**6))
    monkeypatch.setattr(host_speed, "probe_ns", lambda: next(timed))  # each probe its own figure
    model = CountingSession(100)  # 10 runs per probe
    loaded = Loaded(model, 0.0, 0.0, time.perf_counter(), np.zeros((4, 3), np.float32))
    samples, _, _ = time_runs(loaded, request)
    if not judged:
        assert loaded.probes is None and len(model.starts) == 2 + len(samples)
        return
    assert judge is not None and loaded.probes is not None and len(loaded.probes) == len(samples) == 60
    assert loaded.probes[0] == 1000 and (np.diff(loaded.probes) >= 0).all()
    changes = np.flatnonzero(np.diff(loaded.probes)) + 1           # where a new probe begins a window
    windows = np.split(samples, changes)
    assert all(w[:-1].sum() < host_speed.EVERY_NS for w in windows)  # a probe once the window ran 1 ms
    assert len(windows) >= 60 * 100_000 // host_speed.EVERY_NS // 2  # ... and no later (a busy host: longer runs)
    assert len(windows) == loaded.probes[-1] - 1000 + 1                  # every probe came before a timed run
    assert len(model.starts) == 2 + len(samples) + len(windows) - 1     # one untimed run after each later probe
    assert [len(p) for p in judge.probes] == judge.looks             # each look saw the probes of its runs
    assert np.array_equal(judge.probes[-1], loaded.probes[:judge.looks[-1]])
