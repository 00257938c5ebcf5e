"""Plug-ins: backends and target kinds, found without a hand-kept list.

A registry (:mod:`request_dse.backends.registry`, :mod:`request_dse.targets.registry`) collects
the classes of one contract from three places, in this order (a later one may not shadow an
earlier name):

1. the public modules of the registry's own package (the built-in ones);
2. installed packages' entry points of the registry's group (``request_dse.backends``,
   ``request_dse.targets``): each names a class or a module;
3. ``$REQUEST_DSE_PLUGINS``: comma-separated module names or paths of ``.py`` files, for plug-ins
   that are not installed (a test backend, a lab's own target). Worker processes inherit it.

Importing a plug-in module must be cheap: heavy libraries are imported where they are used.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import pkgutil
import sys
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

ENV = "REQUEST_DSE_PLUGINS"


class PluginError(ImportError):
    """A plug-in named in $REQUEST_DSE_PLUGINS or an entry point cannot be loaded."""


def named_plugins() -> tuple[str, ...]:
    """The entries of ``$REQUEST_DSE_PLUGINS``."""
    return tuple(p.strip() for p in os.environ.get(ENV, "").split(",") if p.strip())


def load_module(spec: str) -> ModuleType:
    """A module by name, or from a ``.py`` file (imported under its file name, its folder put on
    ``sys.path`` so that worker processes import it the same way)."""
    if not spec.endswith(".py"):
        try:
            return importlib.import_module(spec)
        except ImportError as exc:
            raise PluginError(f"${ENV}: cannot import plug-in module {spec!r} ({exc})") from None
    path = Path(spec).expanduser().resolve()
    if not path.is_file():
        raise PluginError(f"${ENV}: plug-in file {spec} does not exist")
    if str(path.parent) not in sys.path:
        sys.path.append(str(path.parent))
    try:
        return importlib.import_module(path.stem)
    except ImportError as exc:
        raise PluginError(f"${ENV}: cannot import plug-in file {spec} ({exc})") from None


def _defined_in(module: ModuleType, base: type, key: str) -> Iterable[type]:
    for _, obj in inspect.getmembers(module, inspect.isclass):
        home = obj.__module__
        if (home == module.__name__ or home.startswith(module.__name__ + ".")) and issubclass(obj, base) and not inspect.isabstract(obj) \
                and isinstance(getattr(obj, key, None), str):
            yield obj


def _package_modules(package: str) -> list[ModuleType]:
    pkg = importlib.import_module(package)
    return [importlib.import_module(f"{package}.{info.name}") for info in pkgutil.iter_modules(pkg.__path__)
            if not info.name.startswith("_") and info.name not in ("registry",)]


def _entry_points(group: str, base: type, key: str) -> Iterable[type]:
    from importlib.metadata import entry_points

    for ep in entry_points(group=group):
        try:
            obj: Any = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken installed plug-in is named, not fatal to others
            raise PluginError(f"entry point {ep.name} = {ep.value} (group {group}) cannot be loaded: {exc}") from None
        if inspect.ismodule(obj):
            yield from _defined_in(obj, base, key)
        elif inspect.isclass(obj) and issubclass(obj, base):
            yield obj


def discover(package: str, group: str, base: type, key: str) -> dict[str, type]:
    """``{class.<key>: class}`` of every concrete subclass of ``base`` the three places offer."""
    found: dict[str, type] = {}

    def add(cls: type, where: str) -> None:
        name = getattr(cls, key)
        if name in found and found[name] is not cls:
            raise PluginError(f"{where}: {key} {name!r} of {cls.__module__}.{cls.__qualname__} is taken by "
                              f"{found[name].__module__}.{found[name].__qualname__}")
        found[name] = cls

    for module in _package_modules(package):
        for cls in _defined_in(module, base, key):
            add(cls, package)
    for cls in _entry_points(group, base, key):
        add(cls, f"entry point group {group}")
    for spec in named_plugins():
        for cls in _defined_in(load_module(spec), base, key):
            add(cls, f"${ENV} entry {spec}")
    return found


def source_file(cls: type) -> Path | None:
    """The file a plug-in class is defined in (its data files may sit beside it)."""
    try:
        return Path(inspect.getfile(cls))
    except (TypeError, OSError):
        return None
