"""The host-speed probe: a fixed piece of work a judging session times between its runs.

A shared host has slow spells: for a while every instruction of the measuring process runs
slower (1.4 to 2.8 times on the reference host, for tens of milliseconds to seconds), whatever
the process runs. Measured there over 60 s of a 20-30 us model with this probe timed beside every
run, compared over windows of 100 runs (6,429 windows, 17% of them slow): in a slow window the
model ran 1.91 times slower and the probe 1.91 times slower too, so the model's time over the
probe's spread 0.93-1.07 (5th-95th percentile) where the model's time alone spread 0.98-2.15. A judging session (early stopping)
therefore times :func:`probe_ns` once per :data:`EVERY_NS` of runs, and its judge reads each run
at the host's fast speed (:func:`steady`): a run timed in a slow spell counts as the probe says
it would have run outside it.

The probe is pure Python (the interpreter's own loop, a few microseconds): it needs nothing
loaded, touches little memory, and a slow spell slows it as it slows the model. After each probe
one run goes untimed, so the probe's footprint in the caches is not in any timed run.
"""

from __future__ import annotations

import time

import numpy as np

#: Run time (ns) between two probes of a judging session.
EVERY_NS = 1_000_000
#: Probe repetitions; the fastest is kept (an interrupt inside one is not the host's speed).
REPEATS = 3
_LOOP = range(256)


def probe_ns(repeats: int = REPEATS) -> int:
    """The fastest of ``repeats`` timings of the probe's fixed work, in ns."""
    clock, best = time.perf_counter_ns, None
    for _ in range(repeats):
        t = clock()
        total = 0
        for i in _LOOP:
            total += i
        took = clock() - t
        best = took if best is None or took < best else best
    return int(best or 1)


def reference(probes_ns: np.ndarray, known_ns: float | None = None) -> float:
    """The host's fast speed: the fastest probe of this session, or ``known_ns`` (the fastest the
    study has seen) when that is faster."""
    fastest = float(np.min(probes_ns)) if len(probes_ns) else float("inf")
    return min(fastest, known_ns) if known_ns else fastest


def steady(samples_ns: np.ndarray, probes_ns: np.ndarray | None, known_ns: float | None = None) -> np.ndarray:
    """The samples as they would have run at the host's fast speed: each scaled by the reference
    over the probe timed before its run (never up: a probe faster than the reference leaves its
    runs as timed). Samples without a probe for each run are returned as they are."""
    samples = np.asarray(samples_ns, dtype=np.int64)
    if probes_ns is None or len(probes_ns) != len(samples) or not len(samples):
        return samples
    probes = np.asarray(probes_ns, dtype=float)
    factor = np.minimum(1.0, reference(probes, known_ns) / np.maximum(probes, 1.0))
    return np.rint(samples * factor).astype(np.int64)
