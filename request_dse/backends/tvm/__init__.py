"""Apache TVM (Relax) backend: :mod:`.backend` builds and loads, :mod:`.pipeline` assembles the
Relax passes, :mod:`.targets` makes TVM targets and links libraries, :mod:`.tuning` runs
MetaSchedule."""

from __future__ import annotations

from request_dse.backends.tvm.backend import TvmBackend, TvmSession

__all__ = ["TvmBackend", "TvmSession"]
