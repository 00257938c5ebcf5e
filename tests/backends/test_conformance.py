"""Every backend on every target it runs on here passes the same conformance suite.

The backends and targets come from the registry and the repository's target files: a new
backend module and its catalog are checked here without editing this file.
"""

from __future__ import annotations

import pytest

from request_dse.testing.backend_conformance import BackendConformance, conformance_backends, conformance_targets


@pytest.fixture(params=conformance_targets())
def target(request: pytest.FixtureRequest) -> str:
    return request.param


class TestFp32(BackendConformance):
    precisions = ("fp32",)

    @pytest.fixture(params=conformance_backends("fp32"))
    def backend(self, request: pytest.FixtureRequest) -> str:
        return request.param


class TestInt8(BackendConformance):
    precisions = ("int8",)

    @pytest.fixture(params=conformance_backends("int8"))
    def backend(self, request: pytest.FixtureRequest) -> str:
        return request.param
