"""Train the digits model zoo, export it to ONNX, and write its manifest.

    python -m request_dse.workloads.train                    # the whole zoo (minutes)
    python -m request_dse.workloads.train --only resnet8-r8  # one model

Deterministic: fixed seeds, deterministic kernels, a fixed data split. Writes
``<id>.onnx`` (opset 17, dynamic batch), ``<id>.safetensors`` (the PyTorch state dict) and
``manifest.json`` (sha256 of both, parameters, multiply-accumulates, held-out accuracy).
Needs the ``torch`` extra.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from request_dse.files import sha256_file
from request_dse.workloads import digits

ZOO_DIR = Path(__file__).parent / "zoo" / "digits"
FAMILIES = {"mobilenet": ("width", (0.25, 0.5, 0.75, 1.0)), "resnet": ("depth", (8, 14, 20))}
RESOLUTIONS = (4, 6, 8, 16, 32)
SEED = 0
OPSET = 17


@dataclass(frozen=True)
class Recipe:
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05
    weight_decay: float = 5e-4


def model_id(family: str, size: float | int, resolution: int) -> str:
    return f"mobilenet-w{size:g}-r{resolution}" if family == "mobilenet" else f"resnet{size}-r{resolution}"


def all_ids() -> list[tuple[str, str, float | int, int]]:
    return [(model_id(f, s, r), f, s, r) for f, (_, sizes) in FAMILIES.items() for s in sizes for r in RESOLUTIONS]


def _shift(x, max_shift: int, generator):  # type: ignore[no-untyped-def]
    """Random translation by up to ``max_shift`` pixels, zero-filled (x is a padded batch)."""
    import torch

    n, _, h, w = x.shape
    pad = torch.nn.functional.pad(x, (max_shift,) * 4)
    dy = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * max_shift + 1, (n,), generator=generator)
    return torch.stack([pad[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


def train_one(family: str, size: float | int, resolution: int, recipe: Recipe) -> tuple[object, float]:
    import torch

    from request_dse.workloads import models

    torch.manual_seed(SEED)
    torch.use_deterministic_algorithms(True)
    data = digits.split(resolution)
    key = FAMILIES[family][0]
    model = models.build(family, **{key: size})
    x = torch.from_numpy(data.x_train)
    y = torch.from_numpy(data.y_train)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, weight_decay=recipe.weight_decay, nesterov=True)
    steps = recipe.epochs * ((len(x) + recipe.batch_size - 1) // recipe.batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=recipe.lr, total_steps=steps)
    gen = torch.Generator().manual_seed(SEED)
    shift = max(1, resolution // 8)
    started = time.perf_counter()
    model.train()
    for _ in range(recipe.epochs):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), recipe.batch_size):
            idx = order[i:i + recipe.batch_size]
            loss = torch.nn.functional.cross_entropy(model(_shift(x[idx], shift, gen)), y[idx], label_smoothing=0.05)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    return model, time.perf_counter() - started


def export(model: object, resolution: int, path: Path) -> None:
    import torch

    dummy = torch.zeros(1, 1, resolution, resolution)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (dummy,), str(path), dynamo=False, opset_version=OPSET,  # type: ignore[arg-type]
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})


def onnx_accuracy(path: Path, resolution: int) -> float:
    import onnxruntime as ort

    data = digits.split(resolution)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    logits = session.run(None, {"input": data.x_test})[0]
    return float(np.mean(np.argmax(logits, axis=1) == data.y_test))


def build_entry(mid: str, family: str, size: float | int, resolution: int, out: Path, recipe: Recipe) -> dict:
    import torch
    from safetensors.torch import save_file

    from request_dse.workloads import models

    model, seconds = train_one(family, size, resolution, recipe)
    onnx_path, weights_path = out / f"{mid}.onnx", out / f"{mid}.safetensors"
    export(model, resolution, onnx_path)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights_path))  # type: ignore[attr-defined]
    return {
        "id": mid, "family": family, "width": size if family == "mobilenet" else None,
        "depth": size if family == "resnet" else None, "resolution": resolution,
        "file": onnx_path.name, "sha256": sha256_file(onnx_path),
        "weights": weights_path.name, "weights_sha256": sha256_file(weights_path),
        "params": int(sum(p.numel() for p in model.parameters())),  # type: ignore[attr-defined]
        "flops": models.count_macs(model, (1, resolution, resolution)),  # type: ignore[arg-type]
        "test_accuracy": onnx_accuracy(onnx_path, resolution),
        "train_seconds": round(seconds, 2), "torch_version": torch.__version__.split("+")[0],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ZOO_DIR, help="output folder (default: the package's zoo)")
    parser.add_argument("--only", nargs="*", default=None, help="model ids to (re)train; the others are kept")
    parser.add_argument("--epochs", type=int, default=Recipe.epochs)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    args.out.mkdir(parents=True, exist_ok=True)
    manifest_path = args.out / "manifest.json"
    previous = json.loads(manifest_path.read_text())["models"] if manifest_path.exists() else []
    entries = {e["id"]: e for e in previous}
    known = {mid for mid, *_ in all_ids()}
    unknown = sorted(set(args.only or ()) - known)
    if unknown:
        parser.error(f"unknown model ids: {', '.join(unknown)}")
    for mid, family, size, resolution in all_ids():
        if args.only is not None and mid not in args.only:
            continue
        entries[mid] = build_entry(mid, family, size, resolution, args.out, Recipe(epochs=args.epochs))
        e = entries[mid]
        print(f"{mid:22s} params {e['params']:7d}  MACs {e['flops']:10d}  acc {e['test_accuracy']:.4f}  "
              f"{e['train_seconds']:.1f}s", flush=True)
        _write_manifest(manifest_path, entries, args.epochs)


def _write_manifest(path: Path, entries: dict[str, dict], epochs: int) -> None:
    order = [mid for mid, *_ in all_ids() if mid in entries]
    manifest = {
        "workload": "digits",
        "description": "scikit-learn digits (8x8, 10 classes) resized to r x r; CNN families trained from scratch",
        "dataset": {"source": "sklearn.datasets.load_digits", "test_fraction": digits.TEST_FRACTION,
                    "split_seed": digits.SPLIT_SEED, "stratified": True},
        "input": {"name": "input", "layout": "NCHW", "dtype": "float32"},
        "output": {"name": "logits", "classes": digits.NUM_CLASSES},
        "recipe": {"seed": SEED, "epochs": epochs, "optimizer": "SGD nesterov, one-cycle", "opset": OPSET},
        "models": [entries[mid] for mid in order],
    }
    path.write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
