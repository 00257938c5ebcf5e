"""Backends by name. Each is imported only when used; their catalogs live in ``backends/``."""

from __future__ import annotations

import importlib
from functools import cache

from request_dse.backends._base import Backend, Session

__all__ = ["BACKENDS", "Backend", "Session", "get_backend"]

#: name -> "module:Class". The catalog of each is ``backends/<name>.yaml``.
BACKENDS: dict[str, str] = {
    "onnxruntime": "request_dse.backends.onnxruntime:OnnxRuntimeBackend",
    "tvm": "request_dse.backends.tvm:TvmBackend",
    "torch": "request_dse.backends.torch:TorchBackend",
    "faults": "request_dse.testing.faults:FaultBackend",
    "noop": "request_dse.testing.noop:NoopBackend",
}


@cache
def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise KeyError(f"unknown backend {name!r} (known: {', '.join(sorted(BACKENDS))})")
    module, cls = BACKENDS[name].split(":")
    return getattr(importlib.import_module(module), cls)()
