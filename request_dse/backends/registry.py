"""The backends: every :class:`~request_dse.backends.Backend` the plug-in discovery finds.

Built-in backends are the modules of this package; others come from entry points of the group
``request_dse.backends`` or from ``$REQUEST_DSE_PLUGINS`` (:mod:`request_dse.plugins`). A
backend's catalog is ``backends/<name>.yaml`` (next to the study, on ``REQUEST_DSE_PATH``, in the
repository) or ``<name>.yaml`` beside the backend's own code file.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from request_dse import plugins
from request_dse.backends._base import Backend

GROUP = "request_dse.backends"


@cache
def _classes(plugin_env: tuple[str, ...]) -> dict[str, type[Backend]]:
    return plugins.discover("request_dse.backends", GROUP, Backend, "name")


def backends() -> dict[str, type[Backend]]:
    """Every backend class by name (built-ins first)."""
    return _classes(plugins.named_plugins())


def names() -> tuple[str, ...]:
    return tuple(backends())


@cache
def _instance(cls: type[Backend]) -> Backend:
    return cls()


def get_backend(name: str) -> Backend:
    found = backends()
    if name not in found:
        raise KeyError(f"unknown backend {name!r} (known: {', '.join(sorted(found))})")
    return _instance(found[name])


def bundled_catalog(name: str) -> Path | None:
    """``<name>.yaml`` beside the backend's code file, when it ships one."""
    source = plugins.source_file(backends()[name]) if name in backends() else None
    path = source.with_name(f"{name}.yaml") if source is not None else None
    return path if path is not None and path.is_file() else None
