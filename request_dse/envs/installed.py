"""What this installation has: the installed versions of distributions and of what they require."""

from __future__ import annotations

from collections.abc import Iterable
from importlib import metadata

from request_dse.envs.lock import normalize_name


def _requires(dist: metadata.Distribution) -> list[str]:
    from packaging.requirements import InvalidRequirement, Requirement

    out = []
    for text in dist.requires or ():
        try:
            req = Requirement(text)
        except InvalidRequirement:
            continue
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            out.append(req.name)
    return out


def closure(roots: Iterable[str]) -> dict[str, str]:
    """Installed name -> version of ``roots`` and everything they require; names not installed
    are left out."""
    found: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = normalize_name(todo.pop())
        if name in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        found[name] = dist.version
        todo.extend(_requires(dist))
    return found
