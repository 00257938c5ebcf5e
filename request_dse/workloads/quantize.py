"""Static int8 quantization (ONNX Runtime, QDQ format), calibrated on training inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Names the quantization settings; part of the cached int8 model's file name.
RECIPE = "qdq-u8s8-rr"


def quantize_static(source: Path, dest: Path, calibration: np.ndarray, input_name: str) -> None:
    """Write a QDQ int8 model of ``source`` to ``dest``; activations uint8, weights int8 per channel.

    Weights use 7 bits (``reduce_range``): on x86 CPUs without VNNI, ONNX Runtime's u8s8 kernels
    sum pairs of products in 16 bits, which saturates with full-range weights (outputs off by
    30-50% of their scale on these models); with 7-bit weights they match the plain execution."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static as ort_quantize

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter(calibration[i:i + 16] for i in range(0, len(calibration), 16))

        def get_next(self) -> dict[str, np.ndarray] | None:
            batch = next(self._batches, None)
            return None if batch is None else {input_name: batch}

    ort_quantize(str(source), str(dest), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                 activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, reduce_range=True)


def reference_outputs(model: Path, inputs: np.ndarray, input_name: str) -> np.ndarray:
    """The model's outputs as its plainest execution defines them: ONNX Runtime, no graph
    optimization, one thread (QDQ models then run as dequantize -> float op -> quantize)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return session.run(None, {input_name: inputs})[0]
