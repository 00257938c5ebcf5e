"""One knob of the search space: a name, a domain (choices or a range), and when it exists."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from request_dse.expr import Expression

Kind = Literal["categorical", "int", "float"]


@dataclass(frozen=True)
class Dimension:
    """One knob: a name, a domain, and when it exists."""

    name: str
    kind: Kind
    choices: tuple[Any, ...] = ()
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    when: Expression | None = None
    origin: str = ""  # who declared it: "workload digits", "backend tvm", "target local-cpu", "study"

    @property
    def enumerable(self) -> bool:
        return self.kind != "float"

    def values(self) -> tuple[Any, ...]:
        """Every value, for categorical and int dimensions."""
        if self.kind == "categorical":
            return self.choices
        if self.kind == "int":
            step = int(self.step or 1)
            return tuple(range(int(self.low), int(self.high) + 1, step))  # type: ignore[arg-type]
        raise ValueError(f"dimension {self.name} is continuous")

    def size(self) -> float:
        return len(self.values()) if self.enumerable else math.inf

    def contains(self, value: Any) -> bool:
        if self.kind == "categorical":
            return any(value == c and type(value) is type(c) for c in self.choices)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return self.low <= value <= self.high  # type: ignore[operator]

    def describe_domain(self) -> str:
        if self.kind == "categorical":
            return "{" + ", ".join(fmt_value(c) for c in self.choices) + "}"
        step = f" step {fmt_value(self.step)}" if self.step else ""
        return f"{self.kind} [{fmt_value(self.low)}, {fmt_value(self.high)}]{step}{' log' if self.log else ''}"

    def to_optuna(self) -> Any:
        import optuna.distributions as d

        if self.kind == "categorical":
            return d.CategoricalDistribution(self.choices)
        if self.kind == "int":
            return d.IntDistribution(int(self.low), int(self.high), log=self.log, step=int(self.step or 1))  # type: ignore[arg-type]
        return d.FloatDistribution(self.low, self.high, log=self.log, step=self.step)  # type: ignore[arg-type]


def fmt_value(value: Any) -> str:
    return repr(value) if isinstance(value, str) else f"{value:g}" if isinstance(value, float) else str(value)
