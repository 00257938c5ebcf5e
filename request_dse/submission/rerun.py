"""Running a bundle from someone else again: its settings checked, its code sandboxed.

Nothing of a bundle runs, and none of its data is loaded, in the validating process:

* :func:`check_settings` -- before anything is loaded, every setting the artifact would apply
  when loaded must be one the organizer's catalog of its backend allows
  (:meth:`request_dse.backends.Backend.check_artifact`): a bundle naming an output path, an
  environment variable or an option the catalog lacks is rejected (``unsafe_settings``).
* :func:`check_data` -- the bundle's data files' declared sizes (headers only) are within
  limits, so what the validating process later reads of them (labels, reference) is bounded.
* :func:`workload_data` and :func:`run_bundle` -- comparing the bundled inputs with the
  workload's own split, and every measurement session, run in sandboxed workers
  (:class:`request_dse.execute.sandbox.SandboxRunner`) that answer as data only.
"""

from __future__ import annotations

import dataclasses
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import BuildResult, UnsafeSettings, bundled_catalog, get_backend, load_catalog, names
from request_dse.bounded import Refused, npy_array, npz_arrays, read_json
from request_dse.cachedir import cache_root
from request_dse.envs import EnvError, read_bounded, recreate
from request_dse.errors import UserError
from request_dse.evaluate import Interval, TrialJob, metric_intervals
from request_dse.execute import LocalExecutor, LocalRuntime, run_jobs
from request_dse.execute.sandbox import SandboxRunner
from request_dse.protocol import SPAN_S, MeasureConfig
from request_dse.results import TrialResult, load_samples
from request_dse.space import Candidate
from request_dse.study import BuildConfig, available_names, compatible, find_data_file
from request_dse.submission.bundle import Bundle
from request_dse.submission.compliance import LOADGEN_KEYS, SESSION_CAPS, bundle_protocol
from request_dse.submission.errors import BundleError
from request_dse.targets import SessionRequest, SessionResult, TargetSpec, load_target, make_target, option_specs
from request_dse.workloads import ZOO, PreparedModel, WorkloadRef, get_workload

#: Limits on what an untrusted bundle's protocol may ask of the validating machine.
PROTOCOL_CAPS = {"warmup_runs": 1000, "min_runs": 100_000, "max_runs": 100_000, "min_time_s": 30.0,
                 "max_time_s": 60.0, "repeats": 20, "timeout_s": 600.0, "memory_limit_mb": 8192, **SESSION_CAPS}
#: Largest data the validating process reads from a bundle (labels, reference outputs).
MAX_DATA_BYTES = 512 << 20


def protocol_of(doc: Mapping[str, Any]) -> tuple[MeasureConfig, list[str]]:
    settable = {f.name for f in dataclasses.fields(MeasureConfig)} - {"early_stop", *LOADGEN_KEYS}
    raw = doc["measurement"]["protocol"]
    values, notes = {}, []
    for name in sorted(settable):
        if name not in raw:
            continue
        value = raw[name]
        kind = type(getattr(MeasureConfig(), name))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not value >= 0 or value == float("inf"):
            notes.append(f"protocol {name}={value!r} ignored (not a finite non-negative number)")
            continue
        cap = PROTOCOL_CAPS.get(name)
        if cap is not None and value > cap:
            notes.append(f"protocol {name}={value} capped at {cap}")
            value = cap
        values[name] = kind(value)
    protocol = MeasureConfig(**values)
    if protocol.min_runs > protocol.max_runs or protocol.min_time_s > protocol.max_time_s or protocol.repeats < 1:
        notes.append("inconsistent protocol replaced by the defaults")
        protocol = MeasureConfig()
    protocol, loadgen_notes = bundle_protocol(raw, protocol)
    return protocol, notes + loadgen_notes


def prepared_of(bundle: Bundle) -> PreparedModel:
    w = bundle.submission["workload"]
    return PreparedModel(model_id=w["model_id"], onnx_path=bundle.path("artifact") / "model.onnx",
                         sha256=w.get("model_sha256", ""), input_name=w.get("input_name", "input"),
                         sample_shape=tuple(w.get("sample_shape", ())), num_classes=None, precision=w["precision"],
                         data_path=bundle.path("inputs"), reference_path=bundle.path("reference"),
                         tolerance=tuple(w.get("tolerance", (1e-3, 1e-3))))  # type: ignore[arg-type]


def target_spec(name: str) -> TargetSpec:
    path = find_data_file("targets", name, Path.cwd())
    if path is None:
        known = available_names("targets", Path.cwd())
        raise UserError(f"no target named {name!r} here (available: {', '.join(known) or 'none'}); "
                        "name one with --target")
    return load_target(path, option_specs(), expected_name=path.stem)


def check_settings(bundle: Bundle) -> None:
    """The artifact's settings against the organizer's catalog of its backend (one found here:
    ``backends/`` of the current folder, ``$REQUEST_DSE_PATH``, the repository, or beside the
    backend's code). A backend not installed here is left to :func:`run_bundle` to report."""
    name = bundle.framework
    if name not in names():
        return
    backend = get_backend(name)
    path = find_data_file("backends", name, Path.cwd()) or bundled_catalog(name)
    if path is None:
        raise UserError(f"no catalog of backend {name} here to check the bundle's settings against")
    catalog = load_catalog(path, backend.apply_kinds, expected_backend=name)
    try:
        backend.check_artifact(bundle.path("artifact"), catalog)
    except UnsafeSettings as exc:
        raise BundleError(bundle.source, "unsafe_settings", f"{bundle.submission['files']['artifact']}/{exc} "
                                                            f"(checked against {path.name})") from None


def check_data(bundle: Bundle) -> None:
    """Declared sizes of the bundle's inputs and reference, from their headers."""
    for key, read in (("inputs", npz_arrays), ("reference", npy_array)):
        rel = bundle.submission["files"].get(key)
        if rel is None:
            continue
        try:
            read(bundle.path(key), MAX_DATA_BYTES)
        except FileNotFoundError:
            raise BundleError(bundle.source, "missing_file", f"{rel}: missing") from None
        except Refused as exc:
            raise BundleError(bundle.source, "too_large", f"{rel}: {exc}") from None
        except (OSError, ValueError) as exc:
            raise BundleError(bundle.source, "bad_json", f"{rel}: not a readable NumPy file ({type(exc).__name__})") \
                from None


def compare_inputs(args: tuple[str, str]) -> tuple[bool, str]:
    """(runs in a sandboxed worker) Whether the bundled inputs hold the workload's own split."""
    ours_path, theirs_path = args
    with np.load(ours_path) as ours, np.load(theirs_path, allow_pickle=False) as theirs:
        for key in ("x_eval", "y_eval", "x_check"):
            if key in ours.files and (key not in theirs.files or not np.array_equal(ours[key], theirs[key])):
                return False, key
    return True, ""


def workload_data(bundle: Bundle) -> tuple[bool | None, str, PreparedModel | None]:
    """The workload's own data and reference for this candidate (zoo workloads): whether the
    bundled inputs equal them, why, and the workload's prepared model (None when unavailable).

    A bundle's own ``data/reference.npy`` and tolerance are claims like any other; with the
    workload at hand the validator checks outputs against its own reference and tolerance."""
    name = bundle.workload
    if name not in ZOO:
        return None, f"workload {name!r} is not in this installation's zoo: the bundled data and reference are used", None
    try:
        own = get_workload(WorkloadRef(name)).prepare(Candidate.of(dict(bundle.submission["candidate"])),
                                                      cache_root() / "prepared")
    except Exception as exc:  # noqa: BLE001 - an odd candidate in someone's bundle
        return None, f"could not prepare workload {name} for this candidate ({type(exc).__name__}: {exc})", None
    inputs = bundle.path("inputs")
    with tempfile.TemporaryDirectory(prefix="request-dse-compare-") as tmp:
        runner = SandboxRunner(readonly=[inputs, own.data_path])
        outcome = runner.run(compare_inputs, (str(own.data_path), str(inputs)), timeout_s=120, memory_limit_mb=2048,
                             label="compare", log_path=Path(tmp) / "compare.log")
    if outcome.status != "ok":
        return False, f"data/inputs.npz could not be compared with workload {name}'s own split ({outcome.status}: " \
                      f"{outcome.error.splitlines()[0] if outcome.error else ''})", own
    same, key = outcome.value
    if not same:
        return False, f"data/inputs.npz: {key} differs from workload {name}'s own held-out split", own
    return True, f"data/inputs.npz is workload {name}'s held-out split; outputs checked against its own reference", own


def scratch_of(artifact: Path) -> list[Path]:
    """Folders of the artifact its backend writes to when loading (``caches`` in its
    ``meta.json``: torch's Inductor cache), each a plain sub-folder: in the sandbox they are
    private writable copies over the read-only bundle. Names that are not are ignored."""
    try:
        caches = read_json(artifact / "meta.json", 1 << 20).get("caches", [])
    except (OSError, ValueError, AttributeError):
        return []
    found = []
    for name in caches if isinstance(caches, list) else []:
        path = artifact / str(name)
        if isinstance(name, str) and re.fullmatch(r"[A-Za-z0-9_.-]+", name) and name not in (".", "..") \
                and path.is_dir() and not path.is_symlink():
            found.append(path)
    return found


def _tail(log: Path, lines: int = 20) -> str:
    """The last lines of a worker's log (written in the sandbox: read from its end only)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 16384))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def run_bundle(bundle: Bundle, spec: TargetSpec, echo: Callable[[str], None], own: PreparedModel | None = None,
               span_s: float = SPAN_S) -> tuple[TrialResult, list[str], str, dict[str, Interval]]:
    """Run the bundle's artifact on the target as a trial whose sessions each run in a sandboxed
    worker (alone on their cores), and score it: (result, protocol notes, log tail, intervals).
    ``own``: the workload's prepared model, whose data, reference and tolerance then replace the bundle's;
    ``span_s``: the validator's floor on the wall time the sessions spread over (sessions that sample
    the host's states, not one slow spell)."""
    doc = bundle.submission
    backend_name = doc["framework"]["name"]
    candidate = Candidate.of(dict(doc["candidate"]))
    protocol, notes = protocol_of(doc)
    protocol = protocol.spread(span_s)
    if backend_name not in names():
        return TrialResult(candidate, "run_error", error=f"backend {backend_name!r} is not installed here"), notes, "", {}
    backend = get_backend(backend_name)
    target = make_target(spec)
    reason = compatible(backend, target) or backend.unavailable(target.capabilities)
    if reason:
        return TrialResult(candidate, "run_error", error=f"backend {backend_name} unavailable: {reason}"), notes, "", {}
    try:  # the software the bundle was measured with, recreated from its lock (request_dse.envs)
        lock, env_note = recreate(read_bounded(bundle.path("environment_lock")) if "environment_lock" in
                                  doc["files"] else None, label=f"{backend_name} {doc['framework'].get('version')}",
                                  distribution=backend.distribution, version=doc["framework"].get("version"),
                                  checks=backend.preload[:1])
    except (EnvError, OSError) as exc:
        return TrialResult(candidate, "run_error", error=f"its software environment cannot be recreated here: {exc}"), \
            notes, "", {}
    prepared = prepared_of(bundle)
    if own is not None:
        prepared = dataclasses.replace(prepared, data_path=own.data_path, reference_path=own.reference_path,
                                       tolerance=own.tolerance)
    artifact = bundle.path("artifact")
    batch = int(doc["target"]["batch_size"])
    session = SessionRequest(backend_name, artifact, prepared, batch, int(doc["target"]["threads"]), protocol,
                             score=True, environment=lock, compliance=True)
    echo(f"running {bundle.id} on {spec.name}: {protocol.repeats} session(s), each in a fresh sandboxed process")
    with tempfile.TemporaryDirectory(prefix="request-dse-validate-") as work:
        job = TrialJob(0, candidate, None, BuildConfig(), dataclasses.replace(session, log_dir=Path(work) / "loadgen"),
                       spec, Path(work),
                       reuse=BuildResult("ok", artifact, prepared))
        runner = SandboxRunner(readonly=[bundle.root, prepared.data_path], results=[SessionResult],  # type: ignore[list-item]
                               scratch=scratch_of(artifact))
        executor = LocalExecutor(LocalRuntime(runner, 1, target.build_cores() or ()), 1)
        try:
            ((_, result),) = run_jobs(executor, [job])
        finally:
            executor.shutdown()
        tail = _tail(Path(work) / "measure.log")
        intervals = metric_intervals(load_samples(result.samples_path), result.metrics, batch) \
            if result.samples_path is not None and result.samples_path.is_file() else {}
    return dataclasses.replace(result, info={**result.info, "software_environment": env_note}), notes, tail, intervals
