"""Library versions as a dimension: each backend's ``version`` values, checked against the
registry before any trial, and the environment (lock) every candidate runs in.

A study lists the releases it explores under the backend (``frameworks: {onnxruntime: {version:
["1.20.1", "1.24.4"]}}``) and may pin shared libraries (``environment: {extra: {numpy: "<2"}}``).
Every listed version is resolved here: one that the registry does not have, or that has no
wheel for this Python, is refused with the installer's reason, naming the version. A version
whose environment failed to be created before (:func:`request_dse.envs.failure`) is excluded from
the space by a constraint, so no budget goes to it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from request_dse.backends import Catalog, Flag, get_backend
from request_dse.envs import EnvError, Lock, at_least, check_version, failure, requirement, resolve, spec_for
from request_dse.expr import Expression
from request_dse.fields import Ctx
from request_dse.space import Constraint, Dimension
from request_dse.study.records import Study

#: Where a constraint excluding a version that failed to install comes from.
ORIGIN = "environment"


def versions(study: Study, catalogs: Mapping[str, Catalog]) -> dict[str, tuple[str, ...]]:
    """Each backend's listed versions (backends that list none are absent)."""
    out = {}
    for name in catalogs:
        value = study.frameworks[name].get("version")
        if value is None:
            continue
        ctx = Ctx(str(study.source)).at("frameworks").at(name).at("version")
        listed = value if isinstance(value, list) else [value]
        if not listed:
            raise ctx.error("must list at least one version")
        for i, v in enumerate(listed):
            problem = check_version(v)
            if problem:
                raise (ctx.at(i) if isinstance(value, list) else ctx).error(problem)
            if listed.index(v) != i:
                raise ctx.at(i).error(f"repeats {v!r}")
        if not get_backend(name).distribution:
            raise ctx.error(f"backend {name} names no library on the registry, so its versions cannot be explored")
        out[name] = tuple(listed)
    return out


def dimension(backend: str, listed: tuple[str, ...]) -> Dimension:
    return Dimension(f"{backend}.version", "categorical", listed, when=Expression.parse(f"framework == {backend!r}"),
                     origin=f"study frameworks.{backend}.version")


def check_extra(study: Study) -> None:
    ctx = Ctx(str(study.source)).at("environment").at("extra")
    for name, pin in study.environment_extra.items():
        try:
            requirement(name, pin)
        except EnvError as exc:
            raise ctx.at(name).error(str(exc)) from None


def installed(backend: str) -> str | None:
    """The version of ``backend``'s library in request-dse's own environment."""
    return get_backend(backend).version()


def environments(study: Study, catalogs: Mapping[str, Catalog], listed: Mapping[str, tuple[str, ...]]
                 ) -> tuple[dict[tuple[str, str | None], Lock], list[Constraint], list[str]]:
    """The lock of every (backend, version) the space can propose (version None: the installed
    one, when only ``environment.extra`` asks for an environment), the constraints excluding
    versions known not to install, and notes saying so."""
    check_extra(study)
    locks: dict[tuple[str, str | None], Lock] = {}
    exclusions: list[Constraint] = []
    notes: list[str] = []
    for name in catalogs:
        if name not in listed and not study.environment_extra:
            continue
        backend = get_backend(name)
        ctx = Ctx(str(study.source)).at("frameworks").at(name)
        for i, version in enumerate(listed.get(name, (None,))):
            pinned = version or installed(name)
            if backend.distribution and pinned is None:
                raise ctx.error(f"{name} is not installed here, so environment.extra cannot pin its neighbours; "
                                "list the versions to explore under version")
            label = f"{name} {pinned}" if backend.distribution else f"{name} (request-dse's worker side)"
            spec = spec_for(label, backend.distribution, pinned, backend.environment_requires,
                            study.environment_extra, backend.preload[:1])
            try:
                lock = resolve(spec)
            except EnvError as exc:
                where = ctx.at("version").at(i) if version is not None and len(listed[name]) > 1 else \
                    ctx.at("version") if version is not None else Ctx(str(study.source)).at("environment")
                raise where.error(f"{label} cannot be installed here: {exc}") from None
            locks[(name, version)] = lock
            why = failure(lock)
            if why is not None:
                exclusions.append(refusal(name, version, why))
                notes.append(f"{label} left out: {why}")
    return locks, exclusions, notes


def refusal(backend: str, version: str | None, why: str) -> Constraint:
    """The constraint that keeps a version whose environment cannot be created out of the space."""
    rule = f"{backend}.version != {version!r}" if version is not None else f"framework != {backend!r}"
    return Constraint(Expression.parse(rule), ORIGIN, why)


def since(dim: Dimension, flag: Flag, backend: str, listed: tuple[str, ...] | None, ctx: Ctx,
          constraints: list[Constraint]) -> Dimension:
    """``dim`` (a flag the study explores) where the versions know it: a flag some listed versions
    lack exists only for the others; a value some lack is excluded for those by a constraint.
    Without listed versions, the installed one must know what the study asks for."""
    if listed is None:
        version = installed(backend)
        if not flag.known_in(version):
            raise ctx.error(f"{backend} {version} (installed) does not know this flag: it exists since {flag.since}; "
                            "list the versions to explore under version")
        unknown = [v for v in flag.unknown_values(version) if dim.contains(v)]
        if unknown:
            raise ctx.error(f"{backend} {version} (installed) does not know {unknown[0]!r}: it exists since "
                            f"{flag.value_since[unknown[0]]}; list the versions to explore under version")
        return dim
    known = [v for v in listed if flag.known_in(v)]
    if not known:
        raise ctx.error(f"none of the versions listed knows this flag: it exists since {flag.since}")
    if len(known) < len(listed):
        rule = f"({dim.when.text}) and {backend}.version in {known!r}" if dim.when else \
            f"{backend}.version in {known!r}"
        dim = dataclasses.replace(dim, when=Expression.parse(rule))
    for value in dim.choices if dim.kind == "categorical" else ():
        first = flag.value_since.get(value)
        older = [v for v in listed if first is not None and v in known and not at_least(v, first)]
        if not older:
            continue
        if len(older) == len(known):
            raise ctx.error(f"{value!r} exists since {backend} {first}; none of the versions listed that know "
                            f"{dim.name} has it")
        rule = f"not ({dim.name} == {value!r} and {backend}.version in {older!r})"
        why = f"{dim.name}={value!r} exists since {backend} {first}, not in {', '.join(older)}"
        constraints.append(Constraint(Expression.parse(rule), f"backend {backend}", why))
    return dim
