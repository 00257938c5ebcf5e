"""The digits data and the committed model zoo."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest

from request_dse.files import sha256_file
from request_dse.space import Candidate
from request_dse.workloads import digits
from request_dse.workloads.zoo import ZOO_DIR, DigitsZoo

MANIFEST = json.loads((ZOO_DIR / "manifest.json").read_text())


def test_split_is_fixed_stratified_and_disjoint() -> None:
    s = digits.split(8)
    assert len(s.x_train) + len(s.x_test) == 1797
    assert len(s.x_test) == 359  # round(20%) of each class
    counts = np.bincount(s.y_test, minlength=10)
    assert counts.min() >= 35  # 20% of every class
    _, _, test = digits._raw()
    assert test.sum() == 359
    again = digits.split(8)
    assert np.array_equal(s.x_test, again.x_test)


@pytest.mark.parametrize("r", [4, 6, 8, 16, 32])
def test_resize_keeps_the_mean_intensity(r: int) -> None:
    images, _, _ = digits._raw()
    resized = digits.resize(images[:50], r)
    assert resized.shape == (50, r, r)
    assert np.allclose(resized.mean(axis=(1, 2)), images[:50].mean(axis=(1, 2)), atol=0.5)
    assert np.allclose(digits.resize(images[:5], 8), images[:5])  # identity at the native size


def test_manifest_matches_the_committed_files() -> None:
    assert len(MANIFEST["models"]) == 4 * 5 + 3 * 5
    for entry in MANIFEST["models"]:
        assert sha256_file(ZOO_DIR / entry["file"]) == entry["sha256"], entry["id"]
        assert sha256_file(ZOO_DIR / entry["weights"]) == entry["weights_sha256"], entry["id"]
        assert entry["params"] > 0 and entry["flops"] > 0 and 0.5 < entry["test_accuracy"] <= 1.0
        model = onnx.load(str(ZOO_DIR / entry["file"]))
        assert model.graph.input[0].type.tensor_type.shape.dim[2].dim_value == entry["resolution"]


def test_resolution_is_a_real_trade_off() -> None:
    """Below 8x8 loses information (accuracy), above costs compute (MACs)."""
    by = {(e["family"], e["width"] or e["depth"], e["resolution"]): e for e in MANIFEST["models"]}
    for family, size in (("mobilenet", 1.0), ("resnet", 8)):
        low, native, high = by[(family, size, 4)], by[(family, size, 8)], by[(family, size, 32)]
        assert low["test_accuracy"] < native["test_accuracy"] - 0.02
        assert high["flops"] > 10 * native["flops"]


def test_prepare_fp32_and_int8(tmp_path: Path) -> None:
    zoo = DigitsZoo()
    c = Candidate.of({"model.family": "mobilenet", "model.width": 0.5, "model.resolution": 8,
                      "model.precision": "int8"})
    prepared = zoo.prepare(c, tmp_path)
    assert prepared.precision == "int8" and prepared.onnx_path.parent == tmp_path / "models"
    ops = {n.op_type for n in onnx.load(str(prepared.onnx_path)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    assert prepared.onnx_path.stat().st_size < (ZOO_DIR / "mobilenet-w0.5-r8.onnx").stat().st_size
    again = zoo.prepare(c, tmp_path)  # cached: same file, same hash
    assert again.sha256 == prepared.sha256
    reference = np.load(prepared.reference_path)
    assert reference.shape == (digits.CHECK_SIZE, 10)
    assert zoo.identity(c) != zoo.identity(Candidate.of({**c.params, "model.precision": "fp32"}))


def test_training_is_deterministic(tmp_path: Path) -> None:
    """One epoch of the smallest model twice gives the same bytes."""
    pytest.importorskip("torch", reason="the torch extra trains the zoo")
    from request_dse.workloads import train

    entries = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        entries.append(train.build_entry("mobilenet-w0.25-r4", "mobilenet", 0.25, 4, tmp_path / name,
                                         train.Recipe(epochs=1)))
    a, b = entries
    assert a["weights_sha256"] == b["weights_sha256"]
    assert a["sha256"] == b["sha256"]
