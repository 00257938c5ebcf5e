"""The search space of a study: the workload's, target's and backends' dimensions, narrowed by the
study and its included fragments, with every constraint that applies."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.backends import Catalog
from request_dse.expr import Expression, ExpressionError
from request_dse.fields import Ctx, unknown_key_rule
from request_dse.protocol import SCENARIO_DIMENSION as SCENARIO
from request_dse.space import Constraint, Dimension, SearchSpace, parse_override
from request_dse.study.fragment import load_fragment
from request_dse.study.paths import find_file
from request_dse.study.records import Study
from request_dse.study.versions import dimension as version_dimension, since as versions_narrow
from request_dse.targets import Target
from request_dse.workloads import Workload

BATCH_SIZE = Dimension("batch_size", "int", low=1, high=4096, origin="request-dse")


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
            path = find_file("search_spaces", name, study, ctx.at(i), "search-space fragment").resolve()
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


def assemble(study: Study, target: Target, workload: Workload, catalogs: Mapping[str, Catalog],
             exclusions: list[Constraint], listed: Mapping[str, tuple[str, ...]] | None = None
             ) -> tuple[SearchSpace, list[str]]:
    """The space; ``listed``: each backend's versions (its ``version`` dimension, where given)."""
    listed = listed or {}
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
    for name, values in listed.items():
        base[f"{name}.version"] = chosen[f"{name}.version"] = version_dimension(name, values)
    if study.scenarios:  # several LoadGen scenarios: one front per scenario
        base[SCENARIO] = chosen[SCENARIO] = Dimension(SCENARIO, "categorical", study.scenarios,
                                                      origin="study measure.scenario")
    study_ctx = Ctx(str(study.source))
    flags = {}
    for catalog in catalogs.values():
        for flag in catalog.flags.values():
            base[flag.dimension.name] = _host_filter(flag.dimension, flag.needs, features, notes, target.name)
            flags[flag.dimension.name] = flag

    where: dict[str, Ctx] = {}

    def override(name: str, value: Any, ctx: Ctx) -> None:
        where[name] = ctx
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
            if flag_name == "version":
                continue  # the library's releases: the version dimension above
            fctx = study_ctx.at("frameworks").at(name).at(flag_name)
            if flag_name not in catalog.flags:
                raise fctx.error(unknown_key_rule(flag_name, catalog.flags).replace("unknown key", f"unknown {name} flag"))
            override(f"{name}.{flag_name}", value, fctx)
    dims_overrides, constraint_texts = _fragments(study)
    for name, value, ctx in dims_overrides:
        if name not in base:
            raise ctx.error(unknown_key_rule(name, base).replace("unknown key", "unknown dimension"))
        if name == "framework" or name.endswith(".version") and name in listed:
            raise ctx.error("is set by the study's frameworks, not here")
        override(name, value, ctx)
    constraints = list(workload.constraints())
    for name, flag in flags.items():
        if name in chosen and (flag.since or flag.value_since):
            backend = name.split(".", 1)[0]
            chosen[name] = versions_narrow(chosen[name], flag, backend, listed.get(backend), where[name], constraints)
    order = [d.name for d, _ in workload.dimensions()] + ["batch_size", "target.threads", "framework"]
    order += [f"{name}.version" for name in listed]
    order += [SCENARIO] if study.scenarios else []
    order += [n for n in chosen if n not in order]
    dimensions = tuple(chosen[n] for n in order)
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
