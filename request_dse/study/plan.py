"""A study resolved against its workload, target and backend catalogs: the runnable plan.

:func:`load_plan` reads the study file and everything it names (target, catalogs, space
fragments, the workload's files), checks them against each other, and assembles the search
space. Every problem is a :class:`~request_dse.errors.ConfigError` naming a file and field.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from request_dse import __version__, sysinfo
from request_dse.backends import Backend, Catalog, bundled_catalog, get_backend, load_catalog, names
from request_dse.cachedir import cache_root
from request_dse.envs import Lock, failure
from request_dse.errors import ConfigError
from request_dse.expr import Expression
from request_dse.fields import Ctx, unknown_key_rule
from request_dse.space import Candidate, Constraint, SearchSpace
from request_dse.study.assemble import assemble
from request_dse.study.file import load_study
from request_dse.study.paths import find_file
from request_dse.study.records import Study
from request_dse.study.versions import environments, refusal, versions
from request_dse.targets import Target, TargetSpec, load_target, make_target, option_specs
from request_dse.workloads import Workload, get_workload

ACCURACY_METRICS = ("accuracy_top1", "accuracy_top5")


@dataclass(frozen=True)
class Plan:
    study: Study
    target_spec: TargetSpec
    workload: Workload = field(compare=False)
    catalogs: Mapping[str, Catalog]
    space: SearchSpace
    notes: tuple[str, ...] = ()  # what was left out of the space, and why
    #: The lock of each (backend, version) a candidate may run in; version None: the installed one
    #: (with ``environment.extra`` only). Candidates of backends absent here run in this environment.
    locks: Mapping[tuple[str, str | None], Lock] = field(default_factory=dict)

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

    def version(self, candidate: Candidate) -> str | None:
        """The version of the candidate's library: its own, or the installed one."""
        name = candidate["framework"]
        return candidate.get(f"{name}.version") or get_backend(name).version()

    def environment(self, candidate: Candidate) -> Lock | None:
        """The lock of the candidate's environment (None: request-dse's own)."""
        if not self.locks:
            return None
        name = candidate["framework"]
        return self.locks.get((name, candidate.get(f"{name}.version")))

    def refused(self, candidate: Candidate) -> Constraint | None:
        """The constraint a candidate breaks because its environment is known not to install
        (learned since the plan was made); None when it may run."""
        lock = self.environment(candidate)
        why = failure(lock) if lock is not None else None
        if why is None:
            return None
        name = candidate["framework"]
        return refusal(name, candidate.get(f"{name}.version"), why)

    def flags(self, candidate: Candidate) -> dict[str, Any]:
        """Every flag of the candidate's backend that its version knows: its value in the
        candidate, or the default."""
        name = candidate["framework"]
        catalog = self.catalogs[name]
        version = self.version(candidate) if any(f.since for f in catalog.flags.values()) else None
        values = {k: v for k, v in candidate.prefixed(name).items() if k != "version"}
        return {k: v for k, v in {**catalog.defaults(), **values}.items() if catalog.flags[k].known_in(version)}

    def batch_size(self, candidate: Candidate) -> int:
        return int(candidate.get("batch_size", 1))

    def threads(self, candidate: Candidate) -> int:
        return int(candidate.get("target.threads", self.target_spec.threads_default))

    def trial_key(self, candidate: Candidate) -> str:
        """What a cached result must match: model, candidate, flags, target, protocol, environment."""
        key = {"model": self.workload.identity(candidate), "candidate": candidate.params,
               "flags": self.flags(candidate), "target": self.target_spec.name,
               "protocol": repr(self.study.measure), "env": sysinfo.fingerprint(), "version": __version__}
        lock = self.environment(candidate)
        if lock is not None:  # a failed creation is part of the key: once forgotten, it is tried again
            key["environment"] = lock.id + (" failed" if failure(lock) is not None else "")
        return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:24]

    def preload(self) -> tuple[str, ...]:
        return tuple(sorted({m for name in self.catalogs for m in get_backend(name).preload}))


def compatible(backend: Backend, target: Target) -> str | None:
    """Why ``backend`` cannot run on ``target`` at all, or None (a replay target runs every backend)."""
    if target.replays or backend.runs_on & target.capabilities:
        return None
    note = f" ({backend.runs_on_note})" if backend.runs_on_note else ""
    return (f"{backend.name} runs on {' or '.join(sorted(backend.runs_on))} targets only; target {target.name!r} is "
            f"{', '.join(sorted(target.capabilities))}{note}")


def _target(study: Study) -> TargetSpec:
    path = find_file("targets", study.target, study, Ctx(str(study.source)).at("target"), "target")
    return load_target(path, option_specs(), expected_name=path.stem)


def _catalogs(study: Study, target: Target, workload: Workload) -> tuple[dict[str, Catalog], list[Constraint]]:
    ctx = Ctx(str(study.source)).at("frameworks")
    catalogs: dict[str, Catalog] = {}
    exclusions: list[Constraint] = []
    known = names()
    for name in study.frameworks:
        if name not in known:
            raise ctx.at(name).error(unknown_key_rule(name, known).replace("unknown key", "unknown backend"))
        allowed = target.spec.frameworks
        if allowed is not None and name not in allowed:
            raise ctx.at(name).error(f"target {target.name!r} does not run {name} (its frameworks: {', '.join(allowed)})")
        backend = get_backend(name)
        reason = compatible(backend, target) or backend.unavailable(target.capabilities)
        if reason:
            raise ctx.at(name).error(f"backend unavailable on target {target.name!r}: {reason}")
        path = find_file("backends", name, study, ctx.at(name), "backend catalog", fallback=bundled_catalog(name))
        catalogs[name] = load_catalog(path, backend.apply_kinds, expected_backend=name)
        excluded = backend.excludes(workload)
        if excluded:
            exclusions.append(Constraint(Expression.parse(f"framework != {name!r}"), f"backend {name}",
                                         f"{name} cannot build workload {workload.name}: {excluded}"))
    return catalogs, exclusions


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
    reason = target.protocol_unavailable(study.measure.protocol)
    if reason:
        raise ConfigError(study.source, "measure.protocol", f"target {spec.name!r} cannot measure with "
                                                            f"{study.measure.protocol}: {reason}")
    reason = target.unavailable()
    if reason:
        raise ConfigError(study.source, "target", f"target {spec.name!r} is unavailable: {reason}")
    workload = get_workload(study.workload, str(study.source))
    _check_objectives(study, workload)
    catalogs, exclusions = _catalogs(study, target, workload)
    listed = versions(study, catalogs)
    locks, refused, env_notes = environments(study, catalogs, listed)
    space, notes = assemble(study, target, workload, catalogs, exclusions + refused, listed)
    notes += env_notes
    for dim in space.dimensions:
        if dim.kind == "categorical" and not dim.choices:
            raise ConfigError(study.source, "space", f"dimension {dim.name} has no value left that target "
                                                     f"{spec.name!r} can run ({'; '.join(notes)})")
    if space.count() == 0:
        raise ConfigError(study.source, "space", "no candidate satisfies the constraints (the search space is empty)")
    return Plan(study, spec, workload, catalogs, space, tuple(notes), locks)
