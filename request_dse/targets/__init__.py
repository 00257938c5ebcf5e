"""Targets by kind. Each is imported only when used; their descriptions live in ``targets/``."""

from __future__ import annotations

import importlib
from typing import Any

from request_dse.config import TargetSpec
from request_dse.targets._base import Target

__all__ = ["KINDS", "Target", "make_target", "option_specs"]

#: kind -> "module:Class"
KINDS: dict[str, str] = {
    "local_cpu": "request_dse.targets.local_cpu:LocalCpuTarget",
    "replay": "request_dse.targets.replay:ReplayTarget",
    "rpc": "request_dse.targets.rpc:RpcTarget",
    "cuda": "request_dse.targets.cuda:CudaTarget",
}


def _class(kind: str) -> type[Target]:
    module, cls = KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls)


def option_specs() -> dict[str, Any]:
    """kind -> the spec of its ``options:`` mapping (None: no options)."""
    return {kind: _class(kind).options for kind in KINDS}


def make_target(spec: TargetSpec) -> Target:
    return _class(spec.kind)(spec)
