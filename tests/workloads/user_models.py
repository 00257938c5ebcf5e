"""Two users' ONNX models that are not in the repository, built with onnx.helper, with their data.

- ``scaler_mlp``: what scikit-learn exports for a scaled linear classifier -- an ``ai.onnx.ml``
  Scaler, then MatMul and Add; input float [N, 4], output [N, 3]; labels are its own predictions.
  ONNX Runtime runs it; TVM's ONNX frontend cannot import the Scaler.
- ``small_cnn``: a small CNN, input float [batch, 1, 16, 16] (a dynamic batch axis unless told
  otherwise), five outputs, and an .npz of inputs with or without labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

OFFSET = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
SCALE = np.array([1.0, 2.0, 0.5, 1.5], dtype=np.float32)


def scaler_mlp(folder: Path, samples: int = 64) -> tuple[Path, Path]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    nodes = [helper.make_node("Scaler", ["x"], ["scaled"], domain="ai.onnx.ml", offset=OFFSET.tolist(),
                              scale=SCALE.tolist()),
             helper.make_node("MatMul", ["scaled", "w"], ["logits"]),
             helper.make_node("Add", ["logits", "b"], ["y"])]
    graph = helper.make_graph(nodes, "mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
                              [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    x = rng.standard_normal((samples, 4)).astype(np.float32)
    labels = np.argmax(((x - OFFSET) * SCALE) @ w + b, axis=1)
    onnx_path, data_path = folder / "mlp.onnx", folder / "mlp.npz"
    onnx.save(model, str(onnx_path))
    with open(data_path, "wb") as f:
        np.savez(f, inputs=x, labels=labels)
    return onnx_path, data_path


def small_cnn(folder: Path, name: str = "cnn", *, labels: bool = False, batch: str | int = "batch",
              samples: int = 32) -> tuple[Path, Path]:
    """A five-class CNN on 16x16 inputs; ``labels`` are its own predictions when asked for."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(1)
    conv = (rng.standard_normal((8, 1, 3, 3)) * 0.3).astype(np.float32)
    dense = rng.standard_normal((8, 5)).astype(np.float32)
    nodes = [helper.make_node("Conv", ["x", "conv"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]), helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]), helper.make_node("MatMul", ["f", "dense"], ["y"])]
    graph = helper.make_graph(nodes, name, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1, 16, 16])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 5])],
                              [numpy_helper.from_array(conv, "conv"), numpy_helper.from_array(dense, "dense")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    onnx.checker.check_model(model)
    folder.mkdir(parents=True, exist_ok=True)
    onnx_path, data_path = folder / f"{name}.onnx", folder / f"{name}.npz"
    onnx.save(model, str(onnx_path))
    x = rng.standard_normal((samples, 1, 16, 16)).astype(np.float32)
    arrays = {"inputs": x}
    if labels:
        import onnxruntime as ort

        session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
        arrays["labels"] = np.argmax(session.run(None, {"x": x})[0], axis=1)
    with open(data_path, "wb") as f:
        np.savez(f, **arrays)
    return onnx_path, data_path
