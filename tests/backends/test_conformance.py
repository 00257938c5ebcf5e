"""Every backend on every target it runs on here passes the same conformance suite."""

from __future__ import annotations

import pytest

from request_dse.testing.backend_conformance import BackendConformance

BACKENDS = ["onnxruntime", "tvm", "torch"]
#: Backends that take the zoo's int8 (QDQ ONNX) models; torch excludes int8 (backends/torch.yaml).
INT8_BACKENDS = ["onnxruntime", "tvm"]
TARGETS = ["local-cpu"]


@pytest.fixture(params=TARGETS)
def target(request: pytest.FixtureRequest) -> str:
    return request.param


class TestFp32(BackendConformance):
    precisions = ("fp32",)

    @pytest.fixture(params=BACKENDS)
    def backend(self, request: pytest.FixtureRequest) -> str:
        return request.param


class TestInt8(BackendConformance):
    precisions = ("int8",)

    @pytest.fixture(params=INT8_BACKENDS)
    def backend(self, request: pytest.FixtureRequest) -> str:
        return request.param
