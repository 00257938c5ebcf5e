"""The ``faults`` backend: ONNX Runtime with a fault injected where the study asks.

Select it in a study like any backend (``frameworks: {faults: {fault: [segfault, hang]}}``)
to see how request-dse survives native code that misbehaves. It is a plug-in: name this module in
``$REQUEST_DSE_PLUGINS`` (the test suite does). Flags (``faults.yaml`` beside this file):

``fault``  none, segfault, abort, hang, oom (grows memory until stopped), raise (a Python
           exception), exit (the worker exits), wrong_output (outputs off by one),
           noisy (random extra latency of up to 2 ms per run), slow (the stage takes 5 s longer),
           caching (a run on the same input as the run before returns that run's output at once:
           right answers, and fast when one input repeats -- what MLPerf's TEST04 catches),
           steady (every call takes at least 0.5 ms, so that the host's own noise stays well
           inside the session tolerance), slow_mode (steady, and the first measurement process
           that loads the artifact runs every call twice as long: a process in a slow mode, which
           repeatable measurements set aside), slow_spell (the same steady 0.5 ms calls, and in the first
           measurement process, in every 200 ms after its first call, the calls from 100 ms to
           160 ms take 1 ms: slow spells of the host inside one session, whose runs are set aside)
``stage``  build or measure: which worker the fault strikes

Expected statuses: segfault/abort/exit -> ``crashed``, hang -> ``build_timeout`` /
``run_timeout``, oom -> ``out_of_memory``, raise -> ``build_error`` / ``run_error``,
wrong_output -> ``wrong_answer``, noisy, slow, caching, steady, slow_mode, slow_spell and none -> ``ok``.
"""

from __future__ import annotations

import ctypes
import dataclasses
import json
import os
import random
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import (
    Backend,
    BuildRequest,
    Catalog,
    Session,
    UnsafeSettings,
    check_keys,
    load_catalog,
    read_settings,
)
from request_dse.backends.onnxruntime import OnnxRuntimeBackend, OrtSession
from request_dse.study import REPO_ROOT
from request_dse.workloads import PreparedModel

FAULT_FILE = "fault.json"
SLOW_S = 5.0
EXPECTED_STATUS = {
    ("segfault", "build"): "crashed", ("segfault", "measure"): "crashed",
    ("abort", "build"): "crashed", ("abort", "measure"): "crashed",
    ("exit", "build"): "crashed", ("exit", "measure"): "crashed",
    ("hang", "build"): "build_timeout", ("hang", "measure"): "run_timeout",
    ("oom", "build"): "out_of_memory", ("oom", "measure"): "out_of_memory",
    ("raise", "build"): "build_error", ("raise", "measure"): "run_error",
    ("wrong_output", "build"): "wrong_answer", ("wrong_output", "measure"): "wrong_answer",
    ("noisy", "build"): "ok", ("noisy", "measure"): "ok", ("slow", "build"): "ok", ("slow", "measure"): "ok",
    ("none", "build"): "ok", ("none", "measure"): "ok", ("caching", "build"): "ok", ("caching", "measure"): "ok",
    ("steady", "build"): "ok", ("steady", "measure"): "ok", ("slow_mode", "build"): "ok", ("slow_mode", "measure"): "ok",
    ("slow_spell", "build"): "ok", ("slow_spell", "measure"): "ok",
}
#: Marks, in the artifact folder, that a process has already taken the slow mode.
SLOW_MODE_MARK = "slow-mode.taken"
STEADY_CALL_S = 0.5e-3  # slow_mode: the least time a call takes (twice that in the slow process)
SPELL_S = (0.2, 0.1, 0.16)  # slow_spell: period, and when in each period calls take twice as long (s)


def strike(fault: str) -> None:
    """Make this process fail the way ``fault`` says (returns only for the benign faults)."""
    if fault == "segfault":
        ctypes.string_at(0)
    elif fault == "abort":
        os.abort()
    elif fault == "exit":
        os._exit(17)
    elif fault == "hang":
        while True:
            time.sleep(3600)
    elif fault == "oom":
        hoard = []
        while True:
            block = bytearray(64 * 2**20)
            block[:: 4096] = b"x" * len(block[:: 4096])  # touch every page
            hoard.append(block)
    elif fault == "raise":
        raise RuntimeError("injected fault: a Python exception")
    elif fault == "slow":
        time.sleep(SLOW_S)


class FaultySession(Session):
    def __init__(self, inner: OrtSession, fault: str) -> None:
        self.inner = inner
        self.fault = fault
        self.rng = random.Random(os.getpid())
        self._last: tuple[bytes, Any] | None = None
        self._first = 0.0

    def place(self, batch: np.ndarray) -> Any:
        return self.inner.place(batch)

    def run(self, placed: Any) -> Any:
        if self.fault == "noisy":
            time.sleep(self.rng.random() * 0.002)
        if self.fault in ("slow_mode", "steady", "slow_spell"):
            started = time.perf_counter()
            self._first = self._first or started
            out = self.inner.run(placed)
            spell = self.fault == "slow_spell" and SPELL_S[1] <= (started - self._first) % SPELL_S[0] < SPELL_S[2]
            floor = STEADY_CALL_S * (2 if self.fault == "slow_mode" or spell else 1)
            while time.perf_counter() - started < floor:
                pass
            return out
        if self.fault == "caching":
            key = b"".join(np.asarray(v).tobytes() for v in placed.values())
            if self._last is not None and self._last[0] == key:
                return self._last[1]
            self._last = (key, self.inner.run(placed))
            return self._last[1]
        return self.inner.run(placed)

    def fetch(self, output: Any) -> np.ndarray:
        out = self.inner.fetch(output)
        return out + 1.0 if self.fault == "wrong_output" else out


class FaultBackend(Backend):
    name = "faults"
    apply_kinds = frozenset({"fault"})
    preload = ("onnxruntime",)
    description = "ONNX Runtime with injected faults (for testing request-dse itself)"

    def unavailable(self, capabilities: frozenset[str]) -> str | None:
        return OnnxRuntimeBackend().unavailable(capabilities)

    def build(self, request: BuildRequest, prepared: PreparedModel) -> Mapping[str, Any]:
        fault, stage = request.flags["fault"], request.flags["stage"]
        if stage == "build":
            strike(fault)
        inner = OnnxRuntimeBackend().build(_plain(request), prepared)
        (request.out_dir / FAULT_FILE).write_text(json.dumps({"fault": fault, "stage": stage}))
        return inner

    def check_artifact(self, artifact_dir: Path, catalog: Catalog) -> None:
        """``fault.json`` names a fault and a stage of the catalog; the rest is ONNX Runtime's."""
        spec = check_keys(FAULT_FILE, "", read_settings(artifact_dir, FAULT_FILE), {"fault": str, "stage": str})
        for field, key in (("fault", "kind"), ("stage", "stage")):
            rule = catalog.check_setting("fault", key, spec.get(field))
            if rule is not None:
                raise UnsafeSettings(FAULT_FILE, field, rule)
        plain = _plain_catalog()
        OnnxRuntimeBackend().check_artifact(artifact_dir, plain)

    def load(self, artifact_dir: Path, threads: int, device: str = "cpu") -> Session:
        spec = json.loads((artifact_dir / FAULT_FILE).read_text())
        if spec["stage"] == "measure":
            strike(spec["fault"])
        fault = spec["fault"] if spec["fault"] in ("noisy", "wrong_output", "caching", "steady") else "none"
        if spec["fault"] in ("slow_mode", "slow_spell"):
            fault = spec["fault"] if _first_to_take(artifact_dir / SLOW_MODE_MARK) else "steady"
        return FaultySession(OnnxRuntimeBackend().load(artifact_dir, threads, device), fault)  # type: ignore[arg-type]


def _plain_catalog() -> Catalog:
    return load_catalog(REPO_ROOT / "backends" / "onnxruntime.yaml", OnnxRuntimeBackend.apply_kinds)
def _first_to_take(mark: Path) -> bool:
    """True in the one process that creates ``mark`` (atomically)."""
    try:
        os.close(os.open(mark, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return False
    return True


def _plain(request: BuildRequest) -> BuildRequest:
    """The same request for plain ONNX Runtime with its default flags."""
    catalog = _plain_catalog()
    return dataclasses.replace(request, backend="onnxruntime", catalog=catalog, flags=catalog.defaults())
