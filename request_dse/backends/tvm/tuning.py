"""MetaSchedule tuning for the tvm backend: one database per model and target, tuned once, reused.

``tvm.tuning_trials: N`` (N > 0) makes a build look up the MetaSchedule database of its
*tuning key*: the model file's sha256 and input shape, the target (as TVM spells it, with its
``num-cores``), the TVM version and the trial budget. Nothing else is part of the key: candidates
that differ only in other flags (opt_level, vectorize, unroll, ...) and later studies sharing
the cache reuse the same database and spend no time tuning. Databases live under the cache root
(``$REQUEST_DSE_CACHE/metaschedule/<key>/``, next to a ``tuning.json`` of what was tuned and a
``tuning.log``).

Tuning always lowers the model with the default pipeline (fusion on, the model's own layout);
a candidate whose pipeline options produce other kernels gets the tuned schedule wherever a
kernel matches and the default schedule elsewhere.

Robustness, as measured with TVM 0.27 on a two-core host:

* Tuning runs in its own process (``python -m request_dse.backends.tvm.tuning``) started by the
  build worker, with its own timeout. Whatever happens there -- a Python error, a native crash,
  a hang -- the build ends ``build_error`` with the tail of the tuning log; the study goes on.
* Candidates are compiled in the tuning process itself (:class:`InProcessBuilder`): MetaSchedule's
  ``LocalBuilder`` starts a fresh worker pool for every batch (about 30 s each on this host)
  while compiling a batch in-process takes about a second. Candidates are timed by
  MetaSchedule's ``LocalRunner`` in one long-lived child process.
* Concurrent builds that need the same database take a file lock: the second waits and reuses.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from request_dse.backends.tvm.pipeline import import_onnx_file, tuning_module
from request_dse.files import lock

TUNING_DIR = "metaschedule"
RECORD = "tuning.json"
LOG = "tuning.log"
#: Seconds a tuning process may take: a fixed allowance plus this much per trial
#: (``$REQUEST_DSE_TUNING_TIMEOUT_S`` overrides it).
TIMEOUT_BASE_S, TIMEOUT_PER_TRIAL_S = 600.0, 10.0


class TuningError(RuntimeError):
    """MetaSchedule failed; the message ends with the tail of its log."""


@dataclass(frozen=True)
class TuningSpec:
    """Everything the tuning process needs, as plain values."""
    model: str                       # ONNX file
    model_sha256: str
    input_name: str
    shape: tuple[int, ...]           # full input shape, batch axis included
    target: Mapping[str, Any]        # TVM target in dict form
    trials: int
    cost_model: str = "xgb"
    seed: int = 0
    #: ``trials_per_iter`` and keyword arguments of MetaSchedule's ``EvolutionarySearch``
    #: (``population_size``, ``genetic_num_iters``, ...); part of the key
    options: Mapping[str, Any] = field(default_factory=dict)

    def key(self, tvm_version: str) -> str:
        """The database's identity: model, input shape, target, TVM version, trial budget, cost model."""
        ident = {"model": self.model_sha256, "shape": list(self.shape), "target": dict(self.target),
                 "tvm": tvm_version, "trials": self.trials, "cost_model": self.cost_model, "seed": self.seed,
                 "options": dict(self.options)}
        return hashlib.sha256(json.dumps(ident, sort_keys=True, default=str).encode()).hexdigest()[:20]


def timeout_for(trials: int) -> float:
    env = os.environ.get("REQUEST_DSE_TUNING_TIMEOUT_S")
    return float(env) if env else TIMEOUT_BASE_S + TIMEOUT_PER_TRIAL_S * trials


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_bytes()[-12000:].decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.strip().splitlines()[-lines:])


def ensure_database(spec: TuningSpec, cache_root: Path, tvm_version: str) -> tuple[Path, float, bool]:
    """The tuned database's folder, the seconds spent tuning now, and whether it was reused.

    Tunes in a child process if no finished database exists for the spec's key. Raises
    :class:`TuningError` (with the log tail) if tuning fails, crashes or times out."""
    base = cache_root / TUNING_DIR
    key = spec.key(tvm_version)
    final = base / key
    with lock(base / key):
        if (final / RECORD).is_file():
            return final, 0.0, True
        work = base / f"{key}.tmp-{os.getpid()}"
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        (work / "spec.json").write_text(json.dumps(asdict(spec), indent=1, sort_keys=True) + "\n")
        started = time.perf_counter()
        _run_tuning_process(work, timeout_for(spec.trials))
        elapsed = time.perf_counter() - started
        record = {**asdict(spec), "tvm": tvm_version, "key": key, "tuning_time_s": round(elapsed, 3),
                  "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (work / RECORD).write_text(json.dumps(record, indent=1, sort_keys=True, default=str) + "\n")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(work, final)
        return final, elapsed, False


def _die_with_parent() -> None:
    """In the tuning process: be killed when the build worker that started it dies (Linux)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _run_tuning_process(work: Path, timeout_s: float) -> None:
    log = work / LOG
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log, "wb") as out:
        try:
            code = subprocess.run([sys.executable, "-m", "request_dse.backends.tvm.tuning", str(work)],
                                  stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                                  timeout=timeout_s, check=False, preexec_fn=_die_with_parent).returncode
        except subprocess.TimeoutExpired:
            raise TuningError(f"MetaSchedule tuning timed out after {timeout_s:g} s (log {log}); "
                              f"log tail:\n{_tail(log)}") from None
    if code != 0:
        how = f"exit code {code}" if code > 0 else f"killed by signal {-code}"
        raise TuningError(f"MetaSchedule tuning failed ({how}; log {log}); log tail:\n{_tail(log)}")


# --- in the tuning process ------------------------------------------------------------------

def _in_process_builder() -> Any:
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import BuilderResult, PyBuilder
    from tvm.s_tir.meta_schedule.builder.local_builder import default_build, default_export

    @derived_object
    class InProcessBuilder(PyBuilder):
        """Compiles each candidate in this process; a failure is that candidate's error."""

        def build(self, build_inputs: list[Any]) -> list[Any]:
            results = []
            for item in build_inputs:
                try:
                    results.append(BuilderResult(default_export(default_build(item.mod, item.target, None)), None))
                except Exception as exc:  # noqa: BLE001 - one bad schedule must not stop the search
                    results.append(BuilderResult(None, f"InProcessBuilder: {type(exc).__name__}: {exc}"))
            return results

    return InProcessBuilder()


def _cpu_tensor_intrinsics() -> None:
    """Register only the CPU tensor intrinsics. MetaSchedule imports ``tvm.s_tir.tensor_intrin``,
    whose ``__init__`` also parses every CUDA intrinsic: about 80 CPU-seconds on this project's
    hosts, against under one second for the x86 and Arm ones an LLVM target can use."""
    import importlib
    import importlib.util
    import types

    import tvm.s_tir

    name = "tvm.s_tir.tensor_intrin"
    if name in sys.modules:
        return
    found = importlib.util.find_spec(name)
    if found is None or found.submodule_search_locations is None:
        return
    package = types.ModuleType(name, "CPU tensor intrinsics only (see request_dse.backends.tvm.tuning)")
    package.__path__ = list(found.submodule_search_locations)
    package.__file__, package.__package__ = found.origin, name
    sys.modules[name] = package
    tvm.s_tir.tensor_intrin = package  # type: ignore[attr-defined]
    for module in ("x86", "arm_cpu"):
        importlib.import_module(f"{name}.{module}")


def tune(spec: TuningSpec, work_dir: Path) -> int:
    """Run MetaSchedule over the model's fused kernels; returns the number of tasks tuned."""
    import tvm
    from tvm.s_tir import meta_schedule as ms

    target = tvm.target.Target(dict(spec.target))
    if target.kind.name == "llvm":
        _cpu_tensor_intrinsics()
    mod = tuning_module(import_onnx_file(Path(spec.model), spec.input_name, spec.shape), target)
    extracted = ms.relax_integration.extract_tasks(mod, target)
    print(f"tuning {len(extracted)} tasks with {spec.trials} trials for {json.dumps(dict(spec.target))}", flush=True)
    options = dict(spec.options)
    per_iter = int(options.pop("trials_per_iter", 16))
    strategy = ms.search_strategy.EvolutionarySearch(**options) if options else "evolutionary"
    contexts, weights = ms.relax_integration.extracted_tasks_to_tune_contexts(
        extracted, str(work_dir), strategy=strategy, seed=spec.seed,
        num_threads=int(spec.target.get("num-cores", 1)))
    ms.tune.tune_tasks(
        tasks=contexts, task_weights=weights, work_dir=str(work_dir), max_trials_global=spec.trials,
        max_trials_per_task=max(1, math.ceil(spec.trials / max(1, len(contexts)))),
        num_trials_per_iter=per_iter, builder=_in_process_builder(),
        runner=ms.runner.LocalRunner(timeout_sec=30, evaluator_config=ms.runner.EvaluatorConfig(
            number=3, repeat=1, min_repeat_ms=40, enable_cpu_cache_flush=False)),
        database=ms.database.JSONDatabase(work_dir=str(work_dir)), cost_model=spec.cost_model)
    return len(contexts)


def main(argv: list[str]) -> int:
    work = Path(argv[0])
    raw = json.loads((work / "spec.json").read_text())
    spec = TuningSpec(**{**raw, "shape": tuple(raw["shape"])})
    threads = str(spec.target.get("num-cores", 1))
    os.environ["TVM_NUM_THREADS"] = threads  # the runner's child inherits it
    os.environ.setdefault("TVM_BIND_THREADS", "0")
    started = time.perf_counter()
    tasks = tune(spec, work)
    print(f"tuned {tasks} tasks in {time.perf_counter() - started:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
