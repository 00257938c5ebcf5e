"""Target descriptions: ``targets/<name>.yaml``, the hardware-configuration dimension."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.fields import (
    AnyOf,
    Choice,
    Ctx,
    Custom,
    Field,
    Float,
    Int,
    ListOf,
    MapOf,
    Record,
    Scalar,
    Str,
    validate,
)
from request_dse.space import Dimension, parse_declaration
from request_dse.yamlfile import load_yaml


@dataclass(frozen=True)
class PowerModel:
    """Estimated power: ``idle_w + per_core_w * threads`` while a candidate runs."""

    idle_w: float
    per_core_w: float


@dataclass(frozen=True)
class TargetSpec:
    name: str
    kind: str
    description: str
    threads: Dimension
    threads_default: int
    frameworks: tuple[str, ...] | None  # None: every backend the target can run
    cost_per_hour_usd: float | None
    power: PowerModel | None
    system: Mapping[str, Any]
    measure_cores: tuple[int, ...] | None  # None: chosen from the machine
    options: Mapping[str, Any]
    source: Path = field(default=Path("."), compare=False)


_TARGET = Record({
    "target": Field(Str(pattern=r"[a-z0-9][a-z0-9_.-]*", hint="a target name (lowercase letters, digits, . _ -)")),
    "kind": Field(Str()),
    "description": Field(Str(), ""),
    "threads": Field(Custom(lambda v, c: v, "a thread-count dimension"), lambda: {"choices": [1]}),
    "frameworks": Field(ListOf(Str(), min_len=1, unique=True), None),
    "cost_per_hour_usd": Field(Float(low=0), None),
    "power": Field(Record({"idle_w": Field(Float(low=0)), "per_core_w": Field(Float(low=0))}), None),
    "system": Field(MapOf(Scalar()), {}),
    "measure_cores": Field(AnyOf(((lambda v: v == "auto", Choice(("auto",))),
                                  (lambda v: isinstance(v, list), ListOf(Int(low=0), min_len=1, unique=True))),
                                 hint="'auto' or a list of core numbers"), "auto"),
    "options": Field(MapOf(Custom(lambda v, c: v, "an option value")), {}),
})


def load_target(path: str | Path, kinds: Mapping[str, Any], *, expected_name: str | None = None) -> TargetSpec:
    """Read and validate one target file; ``kinds`` maps each target kind to its options spec."""
    source = str(path)
    doc = validate(load_yaml(path), _TARGET, source)
    ctx = Ctx(source)
    if doc["kind"] not in kinds:
        raise ctx.at("kind").error(f"must be one of {', '.join(map(repr, sorted(kinds)))}; got {doc['kind']!r}")
    if expected_name is not None and doc["target"] != expected_name:
        raise ctx.at("target").error(f"must be {expected_name!r} (the file's name); got {doc['target']!r}")
    options = kinds[doc["kind"]].check(doc["options"], ctx.at("options")) if kinds[doc["kind"]] else doc["options"]
    threads, default = parse_declaration("target.threads", doc["threads"], ctx.at("threads"), f"target {doc['target']}")
    if threads.kind != "categorical" and threads.kind != "int":
        raise ctx.at("threads").error("must be integer thread counts")
    values = threads.values()
    if any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
        raise ctx.at("threads").error(f"must be integers >= 1; got {list(values)}")
    if threads.when is not None:
        raise ctx.at("threads").at("when").error("a target dimension cannot be conditional")
    power = PowerModel(**doc["power"]) if doc["power"] else None
    cores = None if doc["measure_cores"] == "auto" else tuple(doc["measure_cores"])
    return TargetSpec(doc["target"], doc["kind"], doc["description"], threads, default, tuple(doc["frameworks"]) if doc["frameworks"] else None,
                      doc["cost_per_hour_usd"], power, doc["system"], cores, options, Path(path))
