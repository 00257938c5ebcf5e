"""The ``noop`` backend: builds and runs in next to no time, for measuring request-dse itself.

Its build writes a few bytes; its session answers each batch from a table (the reference
outputs for the check inputs, made-up logits for the held-out split), so a trial costs
what the engine costs: sampler, storage, tracking, scoring, files. ``benchmarks/overhead.py``
runs studies of it. It is a plug-in: name this module in ``$REQUEST_DSE_PLUGINS``. Flags
(``noop.yaml`` beside this file): ``quality`` 0-9 sets the accuracy
(0.5 + 0.05 x quality of the held-out split answered right), ``a``, ``b``, ``c`` and ``d`` do nothing but
widen the space.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import Backend, BuildRequest, Catalog, Session, UnsafeSettings, check_keys, read_settings
from request_dse.workloads import PreparedModel

SPEC = "noop.json"


class NoopSession(Session):
    def __init__(self, inputs: np.ndarray, outputs: np.ndarray) -> None:
        self.table = {row.tobytes(): out for row, out in zip(inputs, outputs)}
        self.blank = np.zeros_like(outputs[0])

    def place(self, batch: np.ndarray) -> Any:
        return batch

    def run(self, placed: Any) -> Any:
        return placed

    def fetch(self, output: Any) -> np.ndarray:
        if len(output) == 1:
            return self.table.get(output[0].tobytes(), self.blank)[None]
        return np.stack([self.table.get(row.tobytes(), self.blank) for row in output])


class NoopBackend(Backend):
    name = "noop"
    apply_kinds = frozenset({"noop"})
    description = "answers from a table built from the reference outputs: zero cost (for benchmarking request-dse)"

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        request.out_dir.mkdir(parents=True, exist_ok=True)
        spec = {"quality": int(request.flags.get("quality", 9)), "reference": str(prepared.reference_path),
                "data": str(prepared.data_path)}
        (request.out_dir / SPEC).write_text(json.dumps(spec))
        return {}

    def check_artifact(self, artifact_dir: Path, catalog: Catalog) -> None:
        spec = check_keys(SPEC, "", read_settings(artifact_dir, SPEC), {"quality": int, "reference": str, "data": str})
        rule = catalog.check_setting("noop", "quality", spec.get("quality"))
        if rule is not None:
            raise UnsafeSettings(SPEC, "quality", rule)

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        spec = json.loads((artifact_dir / SPEC).read_text())
        reference = np.load(spec["reference"])
        with np.load(spec["data"]) as data:
            x_check, x_eval = data["x_check"], data["x_eval"]
            labels = data["y_eval"] if "y_eval" in data.files else np.zeros(len(x_eval), dtype=np.int64)
        classes = reference.shape[1] if reference.ndim == 2 else int(labels.max()) + 1
        right = int(round(len(labels) * (0.5 + 0.05 * spec["quality"])))
        answers = labels.copy()
        answers[right:] = (answers[right:] + 1) % classes
        logits = np.eye(classes, dtype=reference.dtype)[answers]
        # the check inputs last: where they are also held-out inputs, their reference outputs win
        return NoopSession(np.concatenate([x_eval, x_check]), np.concatenate([logits, reference]))
