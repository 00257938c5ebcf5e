"""The ``probe`` backend: the zero-cost ``noop`` backend whose library is a package of its own,
``request-dse-probe`` (module ``request_dse_probe``), installed in no environment but the ones its
candidates' ``version`` values ask for. Its build and its sessions import that package, so a
candidate of it runs only in an environment that holds it, and records which version it saw.

Tests serve the package from a loopback index (:mod:`request_dse.testing.index`). A plug-in:
name this module in ``$REQUEST_DSE_PLUGINS``. Its catalog (``probe.yaml`` beside this file) has
a flag that version 2.0 introduced and a value that 2.0 introduced.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.backends import BuildRequest, Session, package_version, read_meta, write_meta
from request_dse.testing.noop import NoopBackend
from request_dse.workloads import PreparedModel

DISTRIBUTION = "request-dse-probe"
MODULE = "request_dse_probe"


class ProbeBackend(NoopBackend):
    name = "probe"
    apply_kinds = frozenset({"noop"})
    preload = (MODULE,)
    distribution = DISTRIBUTION
    description = "the noop backend, with a library of its own in each environment (request-dse-probe)"

    def version(self) -> str | None:
        return package_version(DISTRIBUTION)

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        import request_dse_probe  # type: ignore[import-not-found]  # only in the candidate's environment

        info = dict(super().build(request, prepared))
        write_meta(request.out_dir, backend=self.name, version=request_dse_probe.__version__, files=["noop.json"])
        return {**info, DISTRIBUTION: request_dse_probe.__version__}

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        import request_dse_probe  # type: ignore[import-not-found]

        built = read_meta(artifact_dir)["version"]
        if built != request_dse_probe.__version__:
            raise RuntimeError(f"built with {DISTRIBUTION} {built}, loaded with {request_dse_probe.__version__}")
        return super().load(artifact_dir, threads, device)
