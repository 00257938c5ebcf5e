"""What goes into a candidate's environment, and the lock it resolves to.

An environment holds what the worker side of a build or measurement imports, and nothing of
the driver (no Optuna, MLflow, Ray): the backend's library at the asked version with the
backend's own extra requirements, the engine's few worker-side dependencies
(:data:`ENGINE_REQUIRES`), and the study's ``environment.extra`` pins. The engine's code itself
is not installed: workers load it from this installation (:mod:`.client`). Where the pins
allow, the lock keeps the versions this installation has, so an environment differs from it only
in what the study asked for.

Resolutions are cached (``$REQUEST_DSE_CACHE/env-locks/<spec key>.txt``): a study resolves once,
and a resumed or repeated study needs neither the registry nor the installer to know its locks.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from request_dse.cachedir import cache_root
from request_dse.envs.installed import closure
from request_dse.envs.installer import resolve as installer_resolve
from request_dse.envs.lock import canonical, normalize_name
from request_dse.envs.records import EnvError, EnvSpec, Lock, python_tag
from request_dse.files import cached

#: What the worker side of request-dse imports (backends, targets' sessions, workloads' records),
#: and MLPerf LoadGen, the harness of the loadgen protocol and of validation's compliance tests.
ENGINE_REQUIRES = ("filelock", "numpy", "pyyaml", "mlcommons-loadgen")
AREA = "env-locks"

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([abc]|rc|\.post|\.dev)?[0-9]*(\+[A-Za-z0-9.]+)?$")


def check_version(text: object) -> str | None:
    """Why ``text`` is not a release version such as ``1.20.1``, or None."""
    if not isinstance(text, str):
        return (f"must be a version string such as '1.20.1' (quote it: YAML reads {text!r} as a "
                f"{type(text).__name__})")
    if not _VERSION.match(text):
        return f"must be a release version such as '1.20.1'; got {text!r}"
    return None


def version_key(version: str) -> tuple[object, ...]:
    """A sort key that orders release versions as PEP 440 does."""
    from packaging.version import Version

    return (Version(version),)


def at_least(version: str, since: str) -> bool:
    """Whether ``version`` is ``since`` or later (PEP 440 order)."""
    return version_key(version) >= version_key(since)


def requirement(name: str, pin: str) -> str:
    """``name`` with ``pin`` (an exact version like ``1.26.4``, or a specifier like ``<2``)."""
    from packaging.requirements import InvalidRequirement, Requirement

    spec = pin.strip()
    text = f"{name}=={spec}" if spec and spec[0].isalnum() else f"{name}{spec}"
    try:
        parsed = Requirement(text)
    except InvalidRequirement:
        parsed = None
    if parsed is None or parsed.url or parsed.marker or parsed.extras:
        raise EnvError(f"{pin!r} is neither a version such as '1.26.4' nor a specifier such as '<2' or '>=1.26,<2'")
    return f"{normalize_name(parsed.name)}{parsed.specifier}"


def spec_for(label: str, distribution: str | None, version: str | None, requires: Sequence[str] = (),
             extra: Mapping[str, str] | None = None, checks: Sequence[str] = ()) -> EnvSpec:
    """The environment of a backend's ``distribution`` at ``version`` (None: any)."""
    lines: dict[str, str] = {normalize_name(n): normalize_name(n) for n in (*ENGINE_REQUIRES, *requires)}
    if distribution:
        name = normalize_name(distribution)
        lines[name] = f"{name}=={version}" if version else name
    for name, pin in (extra or {}).items():
        lines[normalize_name(name)] = requirement(name, pin)
    return EnvSpec(label, tuple(sorted(lines.values())), python_tag(), tuple(checks))


def preferences(spec: EnvSpec) -> dict[str, str]:
    """The versions this installation has of what ``spec`` requires (transitively): an environment
    keeps them wherever its pins allow, so it differs from the installation only where the study
    asked, not wherever the registry has published something newer since request-dse was installed."""
    return closure(re.split(r"[<>=!~; ]", line, maxsplit=1)[0] for line in spec.requirements)


def resolve(spec: EnvSpec) -> Lock:
    """The lock of ``spec`` (cached); EnvError with the installer's message when it cannot be
    resolved here (no such version, no wheel for this Python or platform, no registry). Versions
    this installation has are kept where the pins allow (:func:`preferences`)."""

    def create(tmp: Path) -> None:
        text = installer_resolve(spec.requirements, preferences=preferences(spec))
        tmp.write_text(canonical(text, source=f"the resolution of {spec.label}"))

    path = cached(cache_root() / AREA / f"{spec.key}.txt", create)
    return Lock(canonical(path.read_text(), source=str(path)), spec.python, spec.label, spec.checks)
