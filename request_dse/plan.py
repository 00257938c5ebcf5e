"""A study resolved against its workload, target and backend catalogs: the runnable plan.

:func:`load_plan` reads the study file and everything it names (target, catalogs, space
fragments, the workload's files), checks them against each other, and assembles the search
space. Every problem is a :class:`~request_dse.errors.ConfigError` naming a file and field.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from request_dse import __version__
from request_dse.backends import BACKENDS, Backend, get_backend
from request_dse.config import (Catalog, Study, TargetSpec, available_names, find_data_file, load_catalog,
                                load_fragment, load_study, load_target)
from request_dse.config._schema import Ctx, unknown_key_rule
from request_dse.config.dimensions import parse_override
from request_dse.errors import ConfigError
from request_dse.expr import Expression, ExpressionError
from request_dse.space import Candidate, Constraint, Dimension, SearchSpace
from request_dse.targets import Target, make_target, option_specs
from request_dse.workloads import Workload, get_workload

ACCURACY_METRICS = ("accuracy_top1", "accuracy_top5")
BATCH_SIZE = Dimension("batch_size", "int", low=1, high=4096, origin="request-dse")


def cache_root() -> Path:
    """Shared caches (prepared models, results, tuning databases): $REQUEST_DSE_CACHE or ~/.cache."""
    env = os.environ.get("REQUEST_DSE_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "request-dse"


@dataclass(frozen=True)
class Plan:
    study: Study
    target_spec: TargetSpec
    workload: Workload = field(compare=False)
    catalogs: Mapping[str, Catalog]
    space: SearchSpace
    notes: tuple[str, ...] = ()  # what was left out of the space, and why

    @cached_property
    def target(self) -> Target:
        return make_target(self.target_spec)

    @property
    def name(self) -> str:
        return self.study.name

    @property
    def work_dir(self) -> Path:
        return self.study.work_dir

    @property
    def cache_dir(self) -> Path:
        return cache_root()

    @property
    def storage_url(self) -> str:
        storage = self.study.storage
        if storage in (None, "journal"):
            return f"journal:{self.work_dir / 'study.journal'}"
        if storage == "sqlite":
            return f"sqlite:///{self.work_dir / 'study.db'}"
        return storage  # type: ignore[return-value]

    def backend(self, candidate: Candidate) -> Backend:
        return get_backend(candidate["framework"])

    def flags(self, candidate: Candidate) -> dict[str, Any]:
        """Every flag of the candidate's backend: its value in the candidate, or the default."""
        name = candidate["framework"]
        return {**self.catalogs[name].defaults(), **candidate.prefixed(name)}

    def batch_size(self, candidate: Candidate) -> int:
        return int(candidate.get("batch_size", 1))

    def threads(self, candidate: Candidate) -> int:
        return int(candidate.get("target.threads", self.target_spec.threads_default))

    def trial_key(self, candidate: Candidate) -> str:
        """What a cached result must match: model, candidate, flags, target, protocol, environment."""
        from request_dse import sysinfo

        key = {"model": self.workload.identity(candidate), "candidate": candidate.params,
               "flags": self.flags(candidate), "target": self.target_spec.name,
               "protocol": repr(self.study.measure), "env": sysinfo.fingerprint(), "version": __version__}
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]

    def preload(self) -> tuple[str, ...]:
        return tuple(sorted({m for name in self.catalogs for m in get_backend(name).preload}))


def _find(kind: str, name: str, study: Study, ctx: Ctx, what: str) -> Path:
    path = find_data_file(kind, name, study.source.resolve().parent)
    if path is None:
        known = available_names(kind, study.source.resolve().parent)
        raise ctx.error(f"no {what} named {name!r} (looked in {kind}/ next to the study, on REQUEST_DSE_PATH and "
                        f"in the repository; available: {', '.join(known) or 'none'})")
    return path


def _target(study: Study) -> TargetSpec:
    path = _find("targets", study.target, study, Ctx(str(study.source)).at("target"), "target")
    return load_target(path, option_specs(), expected_name=path.stem)


def _catalogs(study: Study, target: TargetSpec, workload: Workload) -> tuple[dict[str, Catalog], list[Constraint]]:
    ctx = Ctx(str(study.source)).at("frameworks")
    catalogs: dict[str, Catalog] = {}
    exclusions: list[Constraint] = []
    for name in study.frameworks:
        if name not in BACKENDS:
            raise ctx.at(name).error(unknown_key_rule(name, BACKENDS).replace("unknown key", "unknown backend"))
        if name not in target.frameworks:
            raise ctx.at(name).error(f"target {target.name!r} does not run {name} (its frameworks: {', '.join(target.frameworks)})")
        backend = get_backend(name)
        reason = backend.unavailable(target)
        if reason:
            raise ctx.at(name).error(f"backend unavailable on target {target.name!r}: {reason}")
        path = _find("backends", name, study, ctx.at(name), "backend catalog")
        catalogs[name] = load_catalog(path, backend.apply_kinds, expected_backend=name)
        excluded = backend.excludes(workload)
        if excluded:
            exclusions.append(Constraint(Expression.parse(f"framework != {name!r}"), f"backend {name}",
                                         f"{name} cannot build workload {workload.name}: {excluded}"))
    return catalogs, exclusions


def _host_filter(flag_dim: Dimension, needs: Mapping[Any, tuple[str, ...]], features: frozenset[str],
                 notes: list[str], target: str) -> Dimension:
    if flag_dim.kind != "categorical" or not needs:
        return flag_dim
    kept, dropped = [], []
    for value in flag_dim.choices:
        missing = [f for f in needs.get(value, ()) if f not in features]
        (dropped if missing else kept).append((value, missing))
    for value, missing in dropped:
        notes.append(f"{flag_dim.name}={value!r} left out: target {target} lacks {', '.join(missing)}")
    return Dimension(flag_dim.name, "categorical", tuple(v for v, _ in kept), when=flag_dim.when, origin=flag_dim.origin)


def _fragments(study: Study) -> tuple[list[tuple[str, Any, Ctx]], list[tuple[str, Ctx]]]:
    """Dimension overrides and constraints from the included fragments (depth first), then the study."""
    dims: list[tuple[str, Any, Ctx]] = []
    constraints: list[tuple[str, Ctx]] = []
    study_ctx = Ctx(str(study.source)).at("space")

    def include(names: tuple[str, ...], ctx: Ctx, stack: tuple[Path, ...]) -> None:
        for i, name in enumerate(names):
            path = _find("search_spaces", name, study, ctx.at(i), "search-space fragment").resolve()
            if path in stack:
                raise ctx.at(i).error(f"includes itself through {' -> '.join(p.name for p in (*stack, path))}")
            fragment = load_fragment(path)
            fctx = Ctx(str(path))
            include(fragment.include, fctx.at("include"), (*stack, path))
            dims.extend((k, v, fctx.at("dimensions").at(k)) for k, v in fragment.dimensions.items())
            constraints.extend((c, fctx.at("constraints").at(j)) for j, c in enumerate(fragment.constraints))

    include(study.space_include, study_ctx.at("include"), (study.source.resolve(),))
    dims.extend((k, v, study_ctx.at("dimensions").at(k)) for k, v in study.space_dimensions.items())
    constraints.extend((c, study_ctx.at("constraints").at(j)) for j, c in enumerate(study.space_constraints))
    return dims, constraints


def _assemble(study: Study, target: Target, workload: Workload, catalogs: Mapping[str, Catalog],
              exclusions: list[Constraint]) -> tuple[SearchSpace, list[str]]:
    notes: list[str] = []
    features = target.cpu_features()
    base: dict[str, Dimension] = {}
    chosen: dict[str, Dimension] = {}
    for dim, _default in workload.dimensions():
        base[dim.name] = chosen[dim.name] = dim
    base["batch_size"] = BATCH_SIZE
    chosen["batch_size"] = Dimension("batch_size", "categorical", (1,), origin="request-dse")
    spec = target.spec
    base["target.threads"] = spec.threads
    chosen["target.threads"] = Dimension("target.threads", "categorical", (spec.threads_default,), origin=spec.threads.origin)
    base["framework"] = chosen["framework"] = Dimension("framework", "categorical", tuple(catalogs), origin="study frameworks")
    study_ctx = Ctx(str(study.source))
    flags = {}
    for name, catalog in catalogs.items():
        for flag in catalog.flags.values():
            base[flag.dimension.name] = _host_filter(flag.dimension, flag.needs, features, notes, target.name)
            flags[flag.dimension.name] = flag

    def override(name: str, value: Any, ctx: Ctx) -> None:
        flag = flags.get(name)
        if flag is None:
            chosen[name] = parse_override(value, base[name], ctx)
        elif value == "*":
            chosen[name] = base[name]
        else:
            dim = parse_override(value, flag.dimension, ctx)
            _check_needs(dim, flag.needs, features, ctx, target.name)
            chosen[name] = dim

    for name, catalog in catalogs.items():
        for flag_name, value in study.frameworks[name].items():
            fctx = study_ctx.at("frameworks").at(name).at(flag_name)
            if flag_name not in catalog.flags:
                raise fctx.error(unknown_key_rule(flag_name, catalog.flags).replace("unknown key", f"unknown {name} flag"))
            override(f"{name}.{flag_name}", value, fctx)
    dims_overrides, constraint_texts = _fragments(study)
    for name, value, ctx in dims_overrides:
        if name not in base:
            raise ctx.error(unknown_key_rule(name, base).replace("unknown key", "unknown dimension"))
        if name == "framework":
            raise ctx.error("is set by the study's frameworks, not here")
        override(name, value, ctx)
    order = [d.name for d, _ in workload.dimensions()] + ["batch_size", "target.threads", "framework"]
    order += [n for n in chosen if n not in order]
    dimensions = tuple(chosen[n] for n in order)
    constraints = list(workload.constraints())
    for text, ctx in constraint_texts:
        try:
            expression = Expression.parse(text)
        except ExpressionError as exc:
            raise ctx.error(f"invalid constraint {text!r}: {exc}") from None
        unknown = sorted(expression.names - set(base))
        if unknown:
            raise ctx.error(f"constraint {text!r} names unknown dimension {unknown[0]!r}")
        constraints.append(Constraint(expression, f"{Path(ctx.source).name} {ctx.field_path}"))
    for catalog in catalogs.values():
        constraints.extend(catalog.requires)
    constraints.extend(exclusions)
    return SearchSpace(dimensions, tuple(constraints)), notes


def _check_needs(dim: Dimension, needs: Mapping[Any, tuple[str, ...]], features: frozenset[str], ctx: Ctx,
                 target: str) -> None:
    for value in dim.choices if dim.kind == "categorical" else ():
        missing = [f for f in needs.get(value, ()) if f not in features]
        if missing:
            raise ctx.error(f"{value!r} needs CPU features {', '.join(missing)} that target {target!r} lacks")


def _check_objectives(study: Study, workload: Workload) -> None:
    has_labels = getattr(workload, "has_labels", True)
    ctx = Ctx(str(study.source))
    if has_labels:
        return
    for i, objective in enumerate(study.objectives):
        if objective.metric in ACCURACY_METRICS:
            raise ctx.at("objectives").at(i).error(
                f"{objective.metric} needs labels, and workload {workload.name!r} has none (add 'labels' to its .npz)")
    for i, constraint in enumerate(study.constraints):
        if constraint.metric in ACCURACY_METRICS:
            raise ctx.at("constraints").at(i).error(f"{constraint.metric} needs labels, and workload {workload.name!r} has none")


def load_plan(path: str | Path) -> Plan:
    study = load_study(path)
    spec = _target(study)
    target = make_target(spec)
    reason = target.unavailable()
    if reason:
        raise ConfigError(study.source, "target", f"target {spec.name!r} is unavailable: {reason}")
    workload = get_workload(study.workload, str(study.source))
    _check_objectives(study, workload)
    catalogs, exclusions = _catalogs(study, spec, workload)
    space, notes = _assemble(study, target, workload, catalogs, exclusions)
    for dim in space.dimensions:
        if dim.kind == "categorical" and not dim.choices:
            raise ConfigError(study.source, "space", f"dimension {dim.name} has no value left that target "
                                                     f"{spec.name!r} can run ({'; '.join(notes)})")
    if space.count() == 0:
        raise ConfigError(study.source, "space", "no candidate satisfies the constraints (the search space is empty)")
    return Plan(study, spec, workload, catalogs, space, tuple(notes))


def make_job(plan: Plan, number: int, candidate: Candidate) -> Any:
    """The frozen job an executor runs for one candidate."""
    from request_dse.execute._base import TrialJob
    from request_dse.records import BuildRequest, SessionRequest

    backend = candidate["framework"]
    batch, threads = plan.batch_size(candidate), plan.threads(candidate)
    trial_dir = plan.work_dir / "trials" / candidate.hash
    build = BuildRequest(candidate, plan.study.workload, backend, plan.catalogs[backend], plan.flags(candidate),
                         plan.target.build_info(), batch, threads, trial_dir / "artifact", plan.cache_dir / "prepared")
    session = SessionRequest(backend, trial_dir / "artifact", None, batch, threads,  # type: ignore[arg-type]
                             plan.study.measure, score=True)
    return TrialJob(number, candidate, build, plan.study.build, session, plan.target_spec, trial_dir)
