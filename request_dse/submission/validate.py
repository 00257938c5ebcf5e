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
from request_dse.submission.bundle import Bundle, open_bundle, validation_path
from request_dse.submission.errors import BundleError

#: Compared exactly.
EXACT = ("accuracy_top1", "accuracy_top5", "artifact_size_bytes")
#: Compared within the recorded interval or the tolerance, whichever is larger.
TIMED = ("latency_p50_ms", "latency_p90_ms", "latency_p99_ms", "latency_mean_ms", "latency_per_sample_ms",
         "throughput_ips", "energy_mj_per_inference", "cost_usd_per_1m")
#: Limits on what an untrusted bundle's protocol may ask of the validating machine.
PROTOCOL_CAPS = {"warmup_runs": 1000, "min_runs": 100_000, "max_runs": 100_000, "min_time_s": 30.0,
                 "max_time_s": 60.0, "repeats": 20, "timeout_s": 600.0, "memory_limit_mb": 32768}
DEFAULT_TOLERANCE = 0.25


@dataclass(frozen=True)
class Check:
    metric: str
    recorded: float
    measured: float | None
    low: float                        # the band the claim allows
    high: float
    ok: bool
    rule: str
    measured_low: float | None = None  # the re-run's own 95% interval
    measured_high: float | None = None

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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


def _protocol(doc: Mapping[str, Any]) -> tuple[Any, list[str]]:
    from request_dse.config import MeasureConfig

    names = {f.name for f in dataclasses.fields(MeasureConfig)} - {"early_stop"}
    raw = doc["measurement"]["protocol"]
    values, notes = {}, []
    for name in names:
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
    return protocol, notes


def _prepared(bundle: Bundle) -> Any:
    from request_dse.workloads._base import PreparedModel

    w = bundle.submission["workload"]
    root = bundle.root
    assert root is not None
    model = bundle.path("artifact") / "model.onnx"
    return PreparedModel(model_id=w["model_id"], onnx_path=model, sha256=w.get("model_sha256", ""),
                         input_name=w.get("input_name", "input"), sample_shape=tuple(w.get("sample_shape", ())),
                         num_classes=None, precision=w["precision"], data_path=bundle.path("inputs"),
                         reference_path=bundle.path("reference"),
                         tolerance=tuple(w.get("tolerance", (1e-3, 1e-3))))  # type: ignore[arg-type]


def _target_spec(name: str) -> Any:
    from request_dse.config import available_names, find_data_file, load_target
    from request_dse.errors import UserError
    from request_dse.targets import option_specs

    path = find_data_file("targets", name, Path.cwd())
    if path is None:
        known = available_names("targets", Path.cwd())
        raise UserError(f"no target named {name!r} here (available: {', '.join(known) or 'none'}); "
                        "name one with --target")
    return load_target(path, option_specs(), expected_name=path.stem)


def workload_data(bundle: Bundle) -> tuple[bool | None, str, Any]:
    """The workload's own data and reference for this candidate (zoo workloads): whether the
    bundled inputs equal them, why, and the workload's prepared model (None when unavailable).

    A bundle's own ``data/reference.npy`` and tolerance are claims like any other; with the
    workload at hand the validator checks outputs against its own reference and tolerance."""
    from request_dse.config import WorkloadRef
    from request_dse.plan import cache_root
    from request_dse.space import Candidate
    from request_dse.workloads import ZOO, get_workload

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


def _band(recorded: float, low: float, high: float, tolerance: float) -> tuple[float, float]:
    return max(0.0, min(low, recorded * (1 - tolerance))), max(high, recorded * (1 + tolerance))


def compare(doc: Mapping[str, Any], measured: Mapping[str, float], tolerance: float, two_sided: bool,
            intervals: Mapping[str, tuple[float, float, str]] | None = None) -> tuple[list[Check], dict[str, float]]:
    """Each recorded metric against the re-run. A timed metric holds when the re-run's own 95%
    interval reaches the allowed band: the larger of the recorded interval and ``tolerance``
    around the recorded value (one-sided: the re-run may be better; ``two_sided``: it must overlap)."""
    intervals = intervals or {}
    checks, other = [], {}
    for name, entry in doc["metrics"].items():
        recorded = float(entry["value"])
        value = measured.get(name)
        if name in EXACT:
            ok = value is not None and abs(value - recorded) <= 1e-12 * max(1.0, abs(recorded))
            checks.append(Check(name, recorded, value, recorded, recorded, ok, "exact"))
        elif name in TIMED:
            low, high = _band(recorded, float(entry.get("low", recorded)), float(entry.get("high", recorded)),
                              tolerance)
            better = entry.get("better", "minimize")
            m_low, m_high = intervals.get(name, (value, value, ""))[:2] if value is not None else (None, None)
            if value is None or m_low is None or m_high is None:
                ok = False
            elif two_sided:
                ok = m_low <= high and m_high >= low
            else:
                ok = m_low <= high if better == "minimize" else m_high >= low
            rule = (f"the re-run's 95% interval reaches the larger of the recorded interval and ±{tolerance:g} "
                    "relative" + ("" if two_sided else f" (one-sided: {'no slower' if better == 'minimize' else 'no lower'}"
                                                       " than the band allows)"))
            checks.append(Check(name, recorded, value, low, high, ok, rule, m_low, m_high))
        elif value is not None:
            other[name] = value
    return checks, other


def run_bundle(bundle: Bundle, spec: Any, echo: Callable[[str], None],
               own: Any = None) -> tuple[Any, Any, list[str], str]:
    """Run the bundle's artifact on the target in child processes: (measure result, prepared, notes, log).
    ``own``: the workload's prepared model, whose data, reference and tolerance then replace the bundle's."""
    from request_dse.backends import BACKENDS, get_backend
    from request_dse.execute._process import ProcessRunner
    from request_dse.records import MeasureResult, SessionRequest
    from request_dse.targets import make_target

    doc = bundle.submission
    backend_name = doc["framework"]["name"]
    protocol, notes = _protocol(doc)
    if backend_name not in BACKENDS:
        return MeasureResult("run_error", error=f"backend {backend_name!r} is not installed here"), None, notes, ""
    backend = get_backend(backend_name)
    reason = backend.unavailable(spec)
    if reason:
        return MeasureResult("run_error", error=f"backend {backend_name} unavailable: {reason}"), None, notes, ""
    prepared = _prepared(bundle)
    if own is not None:
        prepared = dataclasses.replace(prepared, data_path=own.data_path, reference_path=own.reference_path,
                                       tolerance=own.tolerance)
    target = make_target(spec)
    request = SessionRequest(backend_name, bundle.path("artifact"), prepared, int(doc["target"]["batch_size"]),
                             int(doc["target"]["threads"]), protocol, score=True)
    echo(f"running {bundle.id} on {spec.name}: {protocol.repeats} session(s), each in a fresh worker process")
    log = Path(tempfile.mkstemp(prefix="request-dse-validate-", suffix=".log")[1])
    runner = ProcessRunner(preload=tuple(backend.preload))
    try:
        result = target.measure(request, runner, log)
    finally:
        runner.close()
    try:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        log.unlink()
    except OSError:
        tail = ""
    return result, prepared, notes, tail


def measured_metrics(bundle: Bundle, result: Any, prepared: Any, spec: Any) -> tuple[dict[str, float], str | None]:
    """The re-run's metrics, and why its outputs are not the declared ones (None when they are)."""
    from request_dse.measure import latency_stats
    from request_dse.metrics import derive
    from request_dse.trial import accuracy, check_outputs

    doc = bundle.submission
    batch, threads = int(doc["target"]["batch_size"]), int(doc["target"]["threads"])
    first = result.sessions[0]
    mismatch = check_outputs(first.check_outputs, prepared)
    metrics = latency_stats(result.sessions, batch)
    metrics.update(accuracy(first.top5, prepared))
    energies = [s.energy_j for s in result.sessions if s.energy_j is not None]
    power = spec.power
    metrics.update(derive(metrics["latency_mean_ms"] / 1e3, batch, threads, cost_per_hour_usd=spec.cost_per_hour_usd,
                          idle_w=power.idle_w if power else None, per_core_w=power.per_core_w if power else None,
                          measured_energy_j=float(np.median(energies)) if energies else None))
    artifact = bundle.path("artifact")
    metrics["artifact_size_bytes"] = float(sum(p.stat().st_size for p in artifact.rglob("*") if p.is_file()))
    metrics["load_time_s"] = float(np.median([s.load_time_s for s in result.sessions]))
    metrics["memory_peak_mb"] = float(max(s.memory_peak_mb for s in result.sessions))
    if mismatch is None and "accuracy_top1" in doc["metrics"] and "accuracy_top1" not in metrics:
        mismatch = "no accuracy could be computed on the bundled inputs"
    return metrics, mismatch


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
    result, prepared, notes, log_tail = run_bundle(bundle, spec, echo, own)
    if notes:
        verdict.info["protocol_notes"] = notes
    if result.status != "ok":
        verdict.reason = f"the artifact did not run: {result.status}: {result.error.splitlines()[0] if result.error else ''}"
        if log_tail:
            verdict.info["log_tail"] = log_tail
        echo(f"not functional: {verdict.reason}")
        return
    measured, mismatch = measured_metrics(bundle, result, prepared, spec)
    if mismatch:
        verdict.reason = f"the outputs are not the declared ones: {mismatch}"
        echo(f"not functional: {verdict.reason}")
        return
    verdict.badges.append("functional")
    verdict.status = "functional"
    echo("functional (ran in child processes; outputs match the " + ("workload's" if own is not None else "bundled")
         + " reference)")
    from request_dse.intervals import metric_intervals

    batch = int(bundle.submission["target"]["batch_size"])
    intervals = metric_intervals([x.samples_ns for x in result.sessions], measured, batch)
    checks, other = compare(bundle.submission, measured, tolerance, two_sided, intervals)
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
