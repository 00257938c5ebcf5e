"""The host-speed probe and the runs read at the host's fast speed."""

from __future__ import annotations

import numpy as np

from request_dse.targets import host_speed


def test_the_probe_times_its_fixed_work() -> None:
    times = [host_speed.probe_ns() for _ in range(20)]
    assert all(t > 0 for t in times)
    assert min(times) < 1_000_000  # a few microseconds of interpreter loop, not a scheduling gap


def test_runs_in_a_slow_spell_are_read_at_the_fast_speed() -> None:
    """Each run is scaled by the fastest probe over the probe before it: a window whose probe took
    twice the fastest counts half its time; the fastest windows stay as timed."""
    samples = np.array([100, 100, 200, 200, 110], dtype=np.int64)
    probes = np.array([5000, 5000, 10000, 10000, 5500], dtype=np.int64)
    assert host_speed.steady(samples, probes).tolist() == [100, 100, 100, 100, 100]


def test_the_studys_fastest_probe_is_the_reference_when_faster() -> None:
    """A session in a slow spell from its first run to its last sees no fast window of its own: the
    study's fastest probe says how fast the host can be. A reference slower than the session's own
    fastest probe is not used, and no run is ever read slower than it was timed."""
    samples = np.full(4, 300, dtype=np.int64)
    probes = np.full(4, 9000, dtype=np.int64)
    assert host_speed.steady(samples, probes).tolist() == [300] * 4           # nothing to compare with
    assert host_speed.steady(samples, probes, 4500.0).tolist() == [150] * 4   # the study saw it twice as fast
    assert host_speed.steady(samples, probes, 12000.0).tolist() == [300] * 4  # never read slower


def test_samples_without_a_probe_per_run_are_read_as_timed() -> None:
    samples = np.array([10, 20, 30], dtype=np.int64)
    assert host_speed.steady(samples, None).tolist() == [10, 20, 30]
    assert host_speed.steady(samples, np.array([5, 5])).tolist() == [10, 20, 30]
    assert host_speed.steady(np.empty(0, np.int64), np.empty(0, np.int64)).tolist() == []
