"""The comparison of a re-run with what a bundle claims: one :class:`Check` per recorded metric.

Accuracy and artifact size are compared exactly (same artifact, same data); latency-derived
metrics hold when the re-run's own 95% interval reaches the band the claim allows -- the larger
of the recorded interval and a relative tolerance around the recorded figure; one-sided by
default (a faster re-run holds the claim), or two-sided (the intervals must overlap).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Compared exactly.
EXACT = ("accuracy_top1", "accuracy_top5", "artifact_size_bytes")
#: Compared within the recorded interval or the tolerance, whichever is larger.
TIMED = ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms", "latency_per_sample_ms",
         "throughput_ips", "energy_mj_per_inference", "cost_usd_per_1m")


@dataclass(frozen=True)
class Check:
    metric: str
    recorded: float
    measured: float | None
    low: float                        # the band the claim allows
    high: float
    ok: bool
    rule: str
    measured_low: float | None = None  # the re-run's own 95% interval
    measured_high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _band(recorded: float, low: float, high: float, tolerance: float) -> tuple[float, float]:
    return max(0.0, min(low, recorded * (1 - tolerance))), max(high, recorded * (1 + tolerance))


def compare(doc: Mapping[str, Any], measured: Mapping[str, float], tolerance: float, two_sided: bool,
            intervals: Mapping[str, tuple[float, float, str]] | None = None) -> tuple[list[Check], dict[str, float]]:
    """Each recorded metric against the re-run. A timed metric holds when the re-run's own 95%
    interval reaches the allowed band: the larger of the recorded interval and ``tolerance``
    around the recorded value (one-sided: the re-run may be better; ``two_sided``: it must overlap)."""
    intervals = intervals or {}
    checks, other = [], {}
    for name, entry in doc["metrics"].items():
        recorded = float(entry["value"])
        value = measured.get(name)
        if name in EXACT:
            ok = value is not None and abs(value - recorded) <= 1e-12 * max(1.0, abs(recorded))
            checks.append(Check(name, recorded, value, recorded, recorded, ok, "exact"))
        elif name in TIMED:
            low, high = _band(recorded, float(entry.get("low", recorded)), float(entry.get("high", recorded)),
                              tolerance)
            better = entry.get("better", "minimize")
            m_low, m_high = intervals.get(name, (value, value, ""))[:2] if value is not None else (None, None)
            if value is None or m_low is None or m_high is None:
                ok = False
            elif two_sided:
                ok = m_low <= high and m_high >= low
            else:
                ok = m_low <= high if better == "minimize" else m_high >= low
            rule = (f"the re-run's 95% interval reaches the larger of the recorded interval and ±{tolerance:g} "
                    "relative" + ("" if two_sided else f" (one-sided: {'no slower' if better == 'minimize' else 'no lower'}"
                                                       " than the band allows)"))
            checks.append(Check(name, recorded, value, low, high, ok, rule, m_low, m_high))
        elif value is not None:
            other[name] = value
    return checks, other
