"""Backends: how a framework builds a candidate and runs what it built.

The contract is :class:`Backend` (``_base.py``); each backend is one module of this package (or
a plug-in, see :mod:`request_dse.plugins`) plus its catalog ``backends/<name>.yaml``. Heavy
libraries are imported only by the methods that use them.
"""

from __future__ import annotations

from request_dse.backends._base import (
                                        META_FILE,
                                        Backend,
                                        BuildRequest,
                                        BuildResult,
                                        FlagRejected,
                                        KnownFailure,
                                        ModelUnsupported,
                                        Session,
                                        UnsafeSettings,
                                        check_keys,
                                        error_class,
                                        package_version,
                                        read_failure,
                                        read_meta,
                                        read_settings,
                                        write_meta,
)
from request_dse.backends.build import build_candidate, build_prepared, prepare_candidate
from request_dse.backends.catalog import Catalog, Flag, load_catalog
from request_dse.backends.registry import backends, bundled_catalog, get_backend, names

__all__ = ["META_FILE", "Backend", "BuildRequest", "BuildResult", "Catalog", "Flag", "FlagRejected", "KnownFailure",
           "ModelUnsupported", "Session", "UnsafeSettings", "backends", "build_candidate", "build_prepared",
           "bundled_catalog", "check_keys", "error_class", "get_backend", "load_catalog", "names", "package_version",
           "prepare_candidate", "read_failure", "read_meta", "read_settings", "write_meta"]
