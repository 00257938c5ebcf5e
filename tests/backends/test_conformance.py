"""Every backend on every target it runs on here passes the same conformance suite."""

from __future__ import annotations

import pytest

from request_dse.testing.backend_conformance import BackendConformance

BACKENDS = ["onnxruntime", "tvm"]
TARGETS = ["local-cpu"]


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


class TestFp32(BackendConformance):
    precisions = ("fp32",)


class TestInt8(BackendConformance):
    precisions = ("int8",)
