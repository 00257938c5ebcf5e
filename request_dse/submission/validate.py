"""``request-dse validate``: check a bundle, run it again, compare, award badges.

Order (nothing of the bundle is loaded before its checksums and schema pass):

1. **available** -- the bundle is complete: safe extraction, no link out, every file listed in
   ``checksums.sha256`` and matching it, nothing unlisted, ``submission.json`` and
   ``system.json`` valid against the schema. Otherwise it is rejected (exit code 2).
2. **functional** -- the artifact loads and runs on the target *in a child process*, and
   produces the declared outputs: their shape, and values within tolerance of the reference on
   the check inputs. For a zoo workload the validator uses the workload's own held-out split,
   reference and tolerance (and checks that the bundled inputs are that split); otherwise the
   bundle's ``data/`` and declared tolerance.
3. **reproduced** -- every compared metric holds: accuracy exactly (same artifact, same data),
   artifact size exactly, latency-derived metrics (percentiles, mean, throughput, energy, cost)
   when the re-run's own 95% interval reaches the band the claim allows: the larger of the
   recorded 95% interval and a relative tolerance (``--tolerance``) around the recorded figure.
   One-sided by default (a faster re-run holds the claim); ``--two-sided`` asks for overlap. Machine-dependent figures (build and load time, memory, spread) are
   reported, not compared.

The verdict goes to ``validation.json`` inside the bundle folder (beside an archive:
``<name>.validation.json``); it names the content it judged by the sha256 of the checksums file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from request_dse import sysinfo
from request_dse.backends import BuildResult, get_backend, names
from request_dse.cachedir import cache_root
from request_dse.errors import UserError
from request_dse.evaluate import Interval, TrialJob, metric_intervals
from request_dse.execute import local_executor, run_jobs
from request_dse.protocol import MeasureConfig
from request_dse.results import TrialResult, load_samples
from request_dse.space import Candidate
from request_dse.study import BuildConfig, available_names, compatible, find_data_file
from request_dse.submission.bundle import Bundle, open_bundle, validation_path
from request_dse.submission.checks import Check, compare
from request_dse.submission.compliance import LOADGEN_KEYS, SESSION_CAPS, bundle_protocol, record_compliance
from request_dse.submission.errors import BundleError
from request_dse.targets import SessionRequest, TargetSpec, load_target, make_target, option_specs
from request_dse.workloads import ZOO, PreparedModel, WorkloadRef, get_workload

#: Limits on what an untrusted bundle's protocol may ask of the validating machine.
PROTOCOL_CAPS = {"warmup_runs": 1000, "min_runs": 100_000, "max_runs": 100_000, "min_time_s": 30.0,
                 "max_time_s": 60.0, "repeats": 20, "timeout_s": 600.0, "memory_limit_mb": 32768, **SESSION_CAPS}
DEFAULT_TOLERANCE = 0.25


@dataclass
class Verdict:
    bundle: str
    badges: list[str] = field(default_factory=list)
    status: str = "rejected"          # rejected | available | functional | reproduced
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    not_compared: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "reproduced" else 2 if self.status == "rejected" else 1


def _protocol(doc: Mapping[str, Any]) -> tuple[MeasureConfig, list[str]]:
    settable = {f.name for f in dataclasses.fields(MeasureConfig)} - {"early_stop", *LOADGEN_KEYS}
    raw = doc["measurement"]["protocol"]
    values, notes = {}, []
    for name in sorted(settable):
        if name not in raw:
            continue
        value = raw[name]
        kind = type(getattr(MeasureConfig(), name))
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            notes.append(f"protocol {name}={value!r} ignored (not a non-negative number)")
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


def _prepared(bundle: Bundle) -> PreparedModel:
    w = bundle.submission["workload"]
    root = bundle.root
    assert root is not None
    model = bundle.path("artifact") / "model.onnx"
    return PreparedModel(model_id=w["model_id"], onnx_path=model, sha256=w.get("model_sha256", ""),
                         input_name=w.get("input_name", "input"), sample_shape=tuple(w.get("sample_shape", ())),
                         num_classes=None, precision=w["precision"], data_path=bundle.path("inputs"),
                         reference_path=bundle.path("reference"),
                         tolerance=tuple(w.get("tolerance", (1e-3, 1e-3))))  # type: ignore[arg-type]


def _target_spec(name: str) -> TargetSpec:
    path = find_data_file("targets", name, Path.cwd())
    if path is None:
        known = available_names("targets", Path.cwd())
        raise UserError(f"no target named {name!r} here (available: {', '.join(known) or 'none'}); "
                        "name one with --target")
    return load_target(path, option_specs(), expected_name=path.stem)


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
        with np.load(own.data_path) as ours, np.load(bundle.path("inputs")) as theirs:
            for key in ("x_eval", "y_eval", "x_check"):
                if key in ours.files and (key not in theirs.files or not np.array_equal(ours[key], theirs[key])):
                    return False, f"data/inputs.npz: {key} differs from workload {name}'s own held-out split", own
    except Exception as exc:  # noqa: BLE001 - an odd candidate in someone's bundle
        return None, f"could not prepare workload {name} for this candidate ({type(exc).__name__}: {exc})", None
    return True, f"data/inputs.npz is workload {name}'s held-out split; outputs checked against its own reference", own


def run_bundle(bundle: Bundle, spec: TargetSpec, echo: Callable[[str], None],
               own: PreparedModel | None = None) -> tuple[TrialResult, list[str], str, dict[str, Interval]]:
    """Run the bundle's artifact on the target as a trial of the local executor (measurements in
    child processes, alone on their cores) and score it: (result, protocol notes, log tail, intervals).
    ``own``: the workload's prepared model, whose data, reference and tolerance then replace the bundle's."""
    doc = bundle.submission
    backend_name = doc["framework"]["name"]
    candidate = Candidate.of(dict(doc["candidate"]))
    protocol, notes = _protocol(doc)
    if backend_name not in names():
        return TrialResult(candidate, "run_error", error=f"backend {backend_name!r} is not installed here"), notes, "", {}
    backend = get_backend(backend_name)
    target = make_target(spec)
    reason = compatible(backend, target) or backend.unavailable(target.capabilities)
    if reason:
        return TrialResult(candidate, "run_error", error=f"backend {backend_name} unavailable: {reason}"), notes, "", {}
    prepared = _prepared(bundle)
    if own is not None:
        prepared = dataclasses.replace(prepared, data_path=own.data_path, reference_path=own.reference_path,
                                       tolerance=own.tolerance)
    artifact = bundle.path("artifact")
    batch = int(doc["target"]["batch_size"])
    session = SessionRequest(backend_name, artifact, prepared, batch, int(doc["target"]["threads"]), protocol,
                             score=True, compliance=True)
    echo(f"running {bundle.id} on {spec.name}: {protocol.repeats} session(s), each in a fresh worker process")
    with tempfile.TemporaryDirectory(prefix="request-dse-validate-") as work:
        job = TrialJob(0, candidate, None, BuildConfig(), dataclasses.replace(session, log_dir=Path(work) / "loadgen"),
                       spec, Path(work),
                       reuse=BuildResult("ok", artifact, prepared))
        executor = local_executor(spec, tuple(backend.preload), workers=1)
        try:
            ((_, result),) = run_jobs(executor, [job])
        finally:
            executor.shutdown()
        log = Path(work) / "measure.log"
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.is_file() else ""
        intervals = metric_intervals(load_samples(result.samples_path), result.metrics, batch) \
            if result.samples_path is not None and result.samples_path.is_file() else {}
    return result, notes, tail, intervals


def validate(path: str | Path, *, target: str | None = None, tolerance: float = DEFAULT_TOLERANCE,
             two_sided: bool = False, echo: Callable[[str], None] | None = None, write: bool = True) -> Verdict:
    """Validate the bundle at ``path``; writes ``validation.json`` (unless ``write`` is false)."""
    echo = echo or (lambda _: None)
    source = Path(path)
    verdict = Verdict(str(source))
    digest = None
    try:
        with open_bundle(source) as bundle:
            digest = bundle.digest
            verdict.bundle = bundle.id
            verdict.badges.append("available")
            verdict.status = "available"
            echo(f"{source}: available (checksums of every file and the schema verified)")
            _functional_and_reproduced(bundle, verdict, target, tolerance, two_sided, echo)
    except BundleError as exc:
        verdict.reason = str(exc)
        verdict.status = "rejected"
        verdict.badges = []
        if write and source.exists():
            _write(source, verdict, digest, tolerance, target)
        raise
    if write:
        _write(source, verdict, digest, tolerance, target)
    return verdict


def _functional_and_reproduced(bundle: Bundle, verdict: Verdict, target: str | None, tolerance: float,
                               two_sided: bool, echo: Callable[[str], None]) -> None:
    spec = _target_spec(target or bundle.target)
    verdict.info["target"] = spec.name
    data_ok, data_note, own = workload_data(bundle)
    verdict.info["data"] = data_note
    result, notes, log_tail, intervals = run_bundle(bundle, spec, echo, own)
    if notes:
        verdict.info["protocol_notes"] = notes
    if result.status not in ("ok", "wrong_answer"):
        verdict.reason = f"the artifact did not run: {result.status}: {result.error.splitlines()[0] if result.error else ''}"
        if log_tail:
            verdict.info["log_tail"] = log_tail
        echo(f"not functional: {verdict.reason}")
        return
    mismatch = result.error if result.status == "wrong_answer" else None
    if mismatch is None and "accuracy_top1" in bundle.submission["metrics"] and "accuracy_top1" not in result.metrics:
        mismatch = "no accuracy could be computed on the bundled inputs"
    if mismatch:
        verdict.reason = f"the outputs are not the declared ones: {mismatch}"
        echo(f"not functional: {verdict.reason}")
        return
    problem = record_compliance(result.info, verdict.info, echo, make_target(spec))
    if problem:
        verdict.reason = f"MLPerf compliance: {problem}"
        echo(f"not functional: {verdict.reason}")
        return
    verdict.badges.append("functional")
    verdict.status = "functional"
    echo("functional (ran in child processes; outputs match the " + ("workload's" if own is not None else "bundled")
         + " reference)")
    checks, other = compare(bundle.submission, result.metrics, tolerance, two_sided, intervals)
    if data_ok is False:
        checks.append(Check("data", 1.0, 0.0, 1.0, 1.0, False, data_note))
    verdict.checks, verdict.not_compared = checks, other
    failed = [c for c in checks if not c.ok]
    for c in checks:
        shown = "-" if c.measured is None else f"{c.measured:.6g}"
        if c.measured_low is not None and c.measured_high is not None and c.measured_low != c.measured_high:
            shown += f" [{c.measured_low:.4g}, {c.measured_high:.4g}]"
        echo(f"  {'ok  ' if c.ok else 'FAIL'} {c.metric}: recorded {c.recorded:.6g}, measured {shown} "
             f"(allowed {c.low:.6g} .. {c.high:.6g})")
    if failed:
        verdict.reason = "not reproduced: " + ", ".join(c.metric for c in failed)
        echo(verdict.reason)
        return
    verdict.badges.append("reproduced")
    verdict.status = "reproduced"
    echo("reproduced")


def _write(source: Path, verdict: Verdict, digest: str | None, tolerance: float, target: str | None) -> Path | None:
    env = sysinfo.environment()
    doc = {
        "schema": "request-dse/validation", "schema_version": 1, "bundle": verdict.bundle, "source": str(source),
        "bundle_digest": digest, "validated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": verdict.status, "badges": verdict.badges, "reason": verdict.reason,
        "tolerance": tolerance, "target": verdict.info.get("target", target),
        "checks": [c.to_json() for c in verdict.checks], "not_compared": verdict.not_compared,
        "info": {k: v for k, v in verdict.info.items() if k != "target"},
        "validator": {"host": env["host"], "cpu_model": env["cpu_model"], "versions": env["versions"],
                      "git_revision": env["git_revision"]},
    }
    path = validation_path(source)
    try:
        path.write_text(json.dumps(doc, indent=1, default=str) + "\n")
    except OSError:
        return None
    return path
