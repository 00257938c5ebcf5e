"""Study files: ``studies/<name>.yaml`` read and validated into a :class:`~request_dse.study.Study`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.expr import ExpressionError, MetricConstraint
from request_dse.fields import (
    AnyOf,
    Bool,
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
    describe,
    validate,
)
from request_dse.metrics import METRICS, Objective
from request_dse.protocol import SPAN_S
from request_dse.study.measure import MEASURE, check_metrics, measure_config
from request_dse.study.records import (
    EXECUTORS,
    SAMPLER_OPTIONS,
    SAMPLERS,
    BuildConfig,
    ConfirmConfig,
    SamplerConfig,
    Study,
    TrackingConfig,
)
from request_dse.text import did_you_mean
from request_dse.workloads import ZOO, WorkloadRef, workload_refusal
from request_dse.yamlfile import load_yaml


def _metric(value: Any, ctx: Ctx) -> str:
    if not isinstance(value, str) or value not in METRICS:
        raise ctx.error(f"must be a known metric ({', '.join(sorted(METRICS))}); got {describe(value)}"
                        f"{did_you_mean(value, METRICS)}")
    return value


def _objective(value: Any, ctx: Ctx) -> Objective:
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in ("minimize", "maximize"):
        direction, metric = next(iter(value.items()))
        return Objective(_metric(metric, ctx.at(direction)), direction)
    if isinstance(value, Mapping) and set(value) <= {"metric", "direction"}:
        doc = Record({"metric": Field(Custom(_metric, "a metric name")),
                      "direction": Field(Choice(("minimize", "maximize")))}).check(value, ctx)
        return Objective(doc["metric"], doc["direction"])
    raise ctx.error(f"must be {{maximize: <metric>}}, {{minimize: <metric>}} or {{metric: ..., direction: ...}}; got {describe(value)}")


def _metric_constraint(value: Any, ctx: Ctx) -> MetricConstraint:
    if not isinstance(value, str):
        raise ctx.error(f"must be a constraint such as 'accuracy_top1 >= 0.9'; got {describe(value)}")
    try:
        parsed = MetricConstraint.parse(value)
    except ExpressionError as exc:
        raise ctx.error(f"invalid constraint {value!r}: {exc}") from None
    _metric(parsed.metric, ctx)
    return parsed


def _workload(value: Any, ctx: Ctx) -> Any:
    if isinstance(value, str) and value in ZOO:
        return value
    if not isinstance(value, Mapping):
        raise ctx.error(workload_refusal(value))
    if "onnx" in value and "data" not in value:
        raise ctx.at("data").error("is required: an .npz file holding `inputs` (samples shaped like the model's "
                                   "input) and optionally `labels` (see docs/workloads.md)")
    return Record({
        "name": Field(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*", hint="a name of letters, digits, . _ -")),
        "onnx": Field(Str()),
        "data": Field(Str()),
        "precisions": Field(ListOf(Choice(("fp32", "int8")), min_len=1, unique=True), ["fp32"]),
    }).check(value, ctx)


def _frameworks(value: Any, ctx: Ctx) -> dict[str, Any]:
    if isinstance(value, list):
        names = ListOf(Str(), min_len=1, unique=True).check(value, ctx)
        return {name: {} for name in names}
    return MapOf(AnyOf(((lambda v: v is None, Custom(lambda v, c: {}, "")),
                        (lambda v: True, MapOf(Custom(lambda v, c: v, "a flag override"))))),
                 min_len=1).check(value, ctx)


_STUDY = Record({
    "name": Field(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*", hint="a name of letters, digits, . _ -")),
    "description": Field(Str(), ""),
    "workload": Field(Custom(_workload, "a zoo workload name or {name, onnx, data}")),
    "target": Field(Str(), "local-cpu"),
    "frameworks": Field(Custom(_frameworks, "a list of backends or a mapping backend -> flags")),
    "space": Field(Record({
        "include": Field(ListOf(Str(), unique=True), []),
        "dimensions": Field(MapOf(Custom(lambda v, c: v, "a dimension override")), {}),
        "constraints": Field(ListOf(Str()), []),
    }), lambda: {"include": [], "dimensions": {}, "constraints": []}),
    "objectives": Field(ListOf(Custom(_objective, "an objective"), min_len=1)),
    "constraints": Field(ListOf(Custom(_metric_constraint, "a metric constraint")), []),
    "reference_point": Field(MapOf(Float(), key=Custom(_metric, "a metric name")), {}),
    "budget": Field(Record({"trials": Field(Int(low=1)), "time_s": Field(Float(low=0, low_exclusive=True), None)})),
    "sampler": Field(AnyOf(((lambda v: isinstance(v, str), Custom(lambda v, c: {"name": Choice(SAMPLERS).check(v, c)}, "")),
                            (lambda v: True, Record({"name": Field(Choice(SAMPLERS), "default"),
                                                     "seed": Field(Int(low=0), 0),
                                                     "options": Field(MapOf(Scalar()), {})}))),
                           hint="a sampler name or {name, seed, options}"),
                     lambda: {"name": "default"}),
    "measure": Field(MEASURE, dict),
    "build": Field(Record({
        "timeout_s": Field(Float(low=0, low_exclusive=True), 600.0),
        "memory_limit_mb": Field(Int(low=64), 8192),
        "workers": Field(Int(low=1, high=1024), None),
    }), dict),
    "storage": Field(Str(), None),
    "work_dir": Field(Str(), None),
    "executor": Field(AnyOf(((lambda v: isinstance(v, str), Custom(lambda v, c: {"name": Choice(EXECUTORS).check(v, c)}, "")),
                             (lambda v: True, Record({"name": Field(Choice(EXECUTORS)),
                                                      "options": Field(MapOf(Scalar()), {})}))),
                            hint="an executor name or {name, options}"), lambda: {"name": "local"}),
    "tracking": Field(Record({"enabled": Field(Bool(), True), "uri": Field(Str(), None),
                              "experiment": Field(Str(), None),
                              "cpu_share": Field(Float(low=0, high=1.0, low_exclusive=True),
                                                 TrackingConfig.cpu_share)}), dict),
    "confirm": Field(Record({"enabled": Field(Bool(), True), "repeats": Field(Int(low=1, high=20), 3),
                             "span_s": Field(Float(low=0, high=60), SPAN_S)}), dict),
    "submissions": Field(Record({"dir": Field(Str(), None)}), dict),
    "cache": Field(Bool(), True),
    "environment": Field(Record({
        "extra": Field(MapOf(Str(pattern=r"[<>=!~]{0,3}\s*[0-9][A-Za-z0-9.*+!_-]*(\s*,\s*[<>=!~]{1,3}\s*[0-9][A-Za-z0-9.*+!_-]*)*",
                                 hint="a version such as '1.26.4' or a specifier such as '<2' (quoted)"),
                             key=Str(pattern=r"[A-Za-z0-9][A-Za-z0-9._-]*", hint="a package name")), {}),
    }), dict),
})


def load_study(path: str | Path) -> Study:
    """Read and validate a study file (fields only; :func:`request_dse.study.load_plan` resolves the rest)."""
    path = Path(path)
    source = str(path)
    doc = validate(load_yaml(path), _STUDY, source)
    ctx = Ctx(source)
    base = path.resolve().parent
    workload = _workload_ref(doc["workload"], base, ctx.at("workload"))
    measure, scenarios = measure_config(doc["measure"], ctx.at("measure"))
    check_metrics(measure, scenarios, [(ctx.at("objectives").at(i), o.metric) for i, o in enumerate(doc["objectives"])]
                  + [(ctx.at("constraints").at(i), c.metric) for i, c in enumerate(doc["constraints"])])
    seen: dict[str, int] = {}
    for i, objective in enumerate(doc["objectives"]):
        if objective.metric in seen:
            raise ctx.at("objectives").at(i).error(f"repeats the metric {objective.metric!r} of objectives[{seen[objective.metric]}]")
        seen[objective.metric] = i
    for metric in doc["reference_point"]:
        if metric not in seen:
            raise ctx.at("reference_point").at(metric).error("names a metric that is not an objective")
    sampler = doc["sampler"]
    for key in sampler.get("options", {}):
        allowed = SAMPLER_OPTIONS[sampler.get("name", "default")]
        if key not in allowed:
            raise ctx.at("sampler").at("options").at(key).error(
                f"unknown option of sampler {sampler.get('name', 'default')!r} (allowed: {', '.join(allowed) or 'none'})")
    work_dir = Path(doc["work_dir"]) if doc["work_dir"] else Path(".request-dse") / doc["name"]
    subs = doc["submissions"].get("dir") if doc["submissions"] else None
    return Study(
        name=doc["name"], source=path, workload=workload, target=doc["target"], frameworks=doc["frameworks"],
        space_include=tuple(doc["space"]["include"]), space_dimensions=doc["space"]["dimensions"],
        space_constraints=tuple(doc["space"]["constraints"]), objectives=tuple(doc["objectives"]),
        constraints=tuple(doc["constraints"]), reference_point=doc["reference_point"],
        trials=doc["budget"]["trials"], time_budget_s=doc["budget"]["time_s"],
        sampler=SamplerConfig(sampler.get("name", "default"), sampler.get("seed", 0), sampler.get("options", {})),
        measure=measure, build=BuildConfig(**(doc["build"] or {})), storage=doc["storage"],
        work_dir=work_dir if work_dir.is_absolute() else base / work_dir,
        executor=doc["executor"]["name"], executor_options=doc["executor"].get("options", {}),
        tracking=TrackingConfig(**(doc["tracking"] or {})), confirm=ConfirmConfig(**(doc["confirm"] or {})),
        submissions_dir=(Path(subs) if Path(subs).is_absolute() else base / subs) if subs else None,
        cache=doc["cache"], description=doc["description"], scenarios=scenarios if len(scenarios) > 1 else (),
        environment_extra=dict((doc["environment"] or {}).get("extra", {})),
    )


def _workload_ref(value: Any, base: Path, ctx: Ctx) -> WorkloadRef:
    if isinstance(value, str):
        return WorkloadRef(value)
    onnx, data = (_user_file(value[key], base, ctx.at(key)) for key in ("onnx", "data"))
    return WorkloadRef(value["name"], onnx, data, tuple(value["precisions"]))


def _user_file(value: str, base: Path, ctx: Ctx) -> Path:
    """A path of the study file, relative to the study's folder, that must name a file."""
    path = Path(os.path.normpath(base / os.path.expanduser(value)))
    where = "" if Path(value).is_absolute() else f" ({value!r} is read from the study's folder)"
    if path.is_dir():
        raise ctx.error(f"is a folder, not a file: {path}{where}")
    if path.exists() and not path.is_file():
        raise ctx.error(f"is a device, pipe or socket, not a regular file: {path}")
    if not path.is_file():
        raise ctx.error(f"file not found: {path}{where}")
    return path
