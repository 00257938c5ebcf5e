"""The metrics a scoreboard can rank on: name, unit, direction, and the family it belongs to.

Every metric a study reports (:data:`request_dse.metrics.METRICS`) is an axis, plus the
platform figures that tournament tables carry (price, peak power). The family groups metrics
that measure the same quality in the same unit, so the page can say which axes of a 2018
entry and of a new study agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from request_dse.errors import UserError
from request_dse.metrics import METRICS


@dataclass(frozen=True)
class Axis:
    name: str
    unit: str
    direction: str  # "minimize" | "maximize"
    family: str     # accuracy, latency, throughput, price, power, size, other
    description: str


_FAMILIES = {"accuracy": "accuracy", "latency": "latency", "throughput": "throughput", "cost": "price",
             "energy": "power", "model_size": "size", "artifact_size": "size", "memory": "size"}

#: Figures a tournament table carries that a study does not measure.
EXTRA_AXES: tuple[Axis, ...] = (
    Axis("latency_min_ms", "ms", "minimize", "latency", "fastest single-image latency over the repetitions"),
    Axis("platform_price_usd", "USD", "minimize", "price", "purchase price of the platform, as declared by the submitter"),
    Axis("platform_peak_power_w", "W", "minimize", "power", "peak power of the platform, as declared by the submitter"),
)


def _family(name: str) -> str:
    for prefix, family in _FAMILIES.items():
        if name.startswith(prefix):
            return family
    return "other"


def known_axes() -> dict[str, Axis]:
    """Every metric the scoreboard knows, by name."""
    out = {m.name: Axis(m.name, m.unit, m.better, _family(m.name), m.description) for m in METRICS.values()}
    out.update({a.name: a for a in EXTRA_AXES})
    return out


def axes_for(names: Iterable[str], declared: Mapping[str, str] | None = None) -> dict[str, Axis]:
    """The axes of ``names``; a metric the project does not know takes its direction from ``declared``.

    Raises :class:`UserError` for a metric with no known direction.
    """
    known = known_axes()
    declared = declared or {}
    out: dict[str, Axis] = {}
    for name in names:
        if name in known:
            out[name] = known[name]
        elif declared.get(name) in ("minimize", "maximize"):
            out[name] = Axis(name, "", declared[name], _family(name), "declared by the bundle")
        else:
            raise UserError(f"metric {name!r}: no direction is known for it (declare it as an objective)")
    return out
