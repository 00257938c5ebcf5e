"""The lock of the environment request-dse itself runs in: what a candidate without a version of
its own is built and measured with.

It pins, at their installed versions, the backend's library with everything it requires
(transitively, markers evaluated for this interpreter) and the engine's worker-side
dependencies. It has no hashes (nothing was resolved); it is exact enough to recreate the same
versions elsewhere, and to tell whether this installation already is that environment.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata

from request_dse.envs.installed import closure
from request_dse.envs.records import Lock, python_tag
from request_dse.envs.resolve import ENGINE_REQUIRES


@cache
def current_lock(distribution: str | None, requires: tuple[str, ...] = (), label: str = "") -> Lock:
    """This installation's own environment for a backend whose library is ``distribution``."""
    roots = [*ENGINE_REQUIRES, *requires, *([distribution] if distribution else [])]
    pins = closure(roots)
    text = "".join(f"{name}=={version}\n" for name, version in sorted(pins.items()))
    return Lock(text, python_tag(), label or "the current environment")


def unmet(lock: Lock) -> list[str]:
    """The pins of ``lock`` that this installation does not have (empty: it is that environment)."""
    missing = []
    for name, version in lock.pins().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(f"{name}=={version} (not installed)")
            continue
        if have != version:
            missing.append(f"{name}=={version} (installed: {have})")
    return missing
