"""The target kinds: every :class:`~request_dse.targets.Target` the plug-in discovery finds.

Built-in kinds are the modules of this package; others come from entry points of the group
``request_dse.targets`` or from ``$REQUEST_DSE_PLUGINS`` (:mod:`request_dse.plugins`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from request_dse import plugins
from request_dse.targets._base import Target
from request_dse.targets.spec import TargetSpec

GROUP = "request_dse.targets"


@cache
def _classes(plugin_env: tuple[str, ...]) -> dict[str, type[Target]]:
    return plugins.discover("request_dse.targets", GROUP, Target, "kind")


def kinds() -> dict[str, type[Target]]:
    """Every target class by kind."""
    return _classes(plugins.named_plugins())


def option_specs() -> dict[str, Any]:
    """kind -> the spec of its ``options:`` mapping (None: no options)."""
    return {kind: cls.options for kind, cls in kinds().items()}


def make_target(spec: TargetSpec) -> Target:
    return kinds()[spec.kind](spec)
