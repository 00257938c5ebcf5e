"""``request-dse validate``: check a bundle, run it again, compare, award badges.

Order (nothing of the bundle is loaded before its checksums and schema pass):

1. **available** -- the bundle is complete: safe extraction, no link out, every file listed in
   ``checksums.sha256`` and matching it, nothing unlisted, ``submission.json`` and
   ``system.json`` valid against the schema, every setting its artifact would apply allowed by
   the organizer's catalog of its backend, its data within size limits. Otherwise it is
   rejected (exit code 2).
2. **functional** -- the artifact loads and runs on the target *in sandboxed child processes*
   (:mod:`request_dse.execute.sandbox`), and produces the declared outputs: their shape, and
   values within tolerance of the reference on the check inputs. For a zoo workload the
   validator uses the workload's own held-out split, reference and tolerance (and checks, in a
   sandboxed child too, that the bundled inputs are that split); otherwise the bundle's
   ``data/`` and declared tolerance.
3. **reproduced** -- every compared metric holds: accuracy exactly (same artifact, same data),
   artifact size exactly, latency-derived metrics (percentiles, mean, throughput, energy, cost)
   when the re-run's own 95% interval reaches the band the claim allows: the larger of the
   recorded 95% interval and a relative tolerance (``--tolerance``) around the recorded figure.
   One-sided by default (a faster re-run holds the claim); ``--two-sided`` asks for overlap.
   Machine-dependent figures (build and load time, memory, spread) are reported, not compared.

The verdict names the content it judged (the sha256 of the checksums file) and the isolation
its children ran in. It is appended to the organizer's validation store
(:mod:`request_dse.submission.store`), the only record badges are taken from, and copied to
``validation.json`` inside the bundle folder (beside an archive: ``<name>.validation.json``)
for the participant to read.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse import sysinfo
from request_dse.errors import UserError
from request_dse.execute.sandbox import isolation
from request_dse.files import write_atomic
from request_dse.protocol import SPAN_S
from request_dse.submission.bundle import Bundle, open_bundle, validation_path
from request_dse.submission.checks import Check, compare
from request_dse.submission.compliance import record_compliance
from request_dse.submission.errors import BundleError
from request_dse.submission.rerun import check_data, check_settings, run_bundle, target_spec, workload_data
from request_dse.submission.store import SCHEMA, ValidationStore
from request_dse.targets import make_target
from request_dse.text import escape

DEFAULT_TOLERANCE = 0.25


@dataclass
class Verdict:
    bundle: str
    badges: list[str] = field(default_factory=list)
    status: str = "rejected"          # rejected | available | functional | reproduced | not validated
    reason: str = ""
    checks: list[Check] = field(default_factory=list)
    not_compared: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    digest: str | None = None         # the content judged (None: not even readable)
    record: dict[str, Any] | None = None

    @property
    def exit_code(self) -> int:
        return 0 if self.status == "reproduced" else 1 if self.status in ("available", "functional") else 2

    def line(self, source: str | Path) -> str:
        """The one line ``validate`` prints for this bundle (escaped)."""
        if self.status in ("rejected", "not validated"):
            return escape(self.reason if self.reason.startswith(str(source)) else f"{source}: {self.status}: {self.reason}")
        badges = ", ".join(self.badges) or "none"
        return escape(f"{source}: {self.status} (badges: {badges})"
                      + (f"; {self.reason}" if self.reason and self.status != "reproduced" else ""))


def validate(path: str | Path, *, target: str | None = None, tolerance: float = DEFAULT_TOLERANCE,
             two_sided: bool = False, echo: Callable[[str], None] | None = None, write: bool = True,
             store: ValidationStore | str | Path | None = None, span_s: float = SPAN_S) -> Verdict:
    """Validate the bundle at ``path``; its sessions spread over ``span_s`` of wall time at least
    (:mod:`request_dse.evaluate.repeatability`). With ``write``, the verdict is appended to ``store`` (the
    organizer's validation store; default :func:`request_dse.submission.store.default_path`) and
    copied to ``validation.json``. A rejected bundle raises :class:`BundleError` after that."""
    echo = echo or (lambda _: None)
    source = Path(path)
    verdict = Verdict(str(source))
    records = (store if isinstance(store, ValidationStore) else ValidationStore(store)) if write else None
    try:
        with open_bundle(source) as bundle:
            verdict.digest = bundle.digest
            verdict.bundle = bundle.id
            check_settings(bundle)
            check_data(bundle)
            verdict.badges.append("available")
            verdict.status = "available"
            echo(escape(f"{source}: available (checksums of every file, the schema and the artifact's settings "
                        "verified)"))
            _functional_and_reproduced(bundle, verdict, target, tolerance, two_sided, echo, span_s)
    except BundleError as exc:
        verdict.reason = str(exc)
        verdict.status = "rejected"
        verdict.badges = []
        if records is not None:
            _record(records, source, verdict, tolerance, target)
        raise
    if records is not None:
        _record(records, source, verdict, tolerance, target)
    return verdict


def validate_all(paths: Iterable[str | Path], *, report: Callable[[Path, Verdict], None] | None = None,
                 **options: Any) -> list[Verdict]:
    """:func:`validate` each of ``paths`` in turn, whatever the others' verdicts, handing each
    verdict to ``report`` as it comes. A rejected bundle is a verdict, not an error; so is a
    problem of this machine with one bundle (no such target here: ``not validated``)."""
    report = report or (lambda _p, _v: None)
    verdicts = []
    for path in paths:
        try:
            verdict = validate(path, **options)
        except BundleError as exc:
            verdict = Verdict(str(path), status="rejected", reason=str(exc))
        except UserError as exc:
            verdict = Verdict(str(path), status="not validated", reason=str(exc))
        report(Path(path), verdict)
        verdicts.append(verdict)
    return verdicts


def _functional_and_reproduced(bundle: Bundle, verdict: Verdict, target: str | None, tolerance: float,
                               two_sided: bool, echo: Callable[[str], None], span_s: float) -> None:
    spec = target_spec(target or bundle.target)
    verdict.info["target"] = spec.name
    verdict.info["isolation"] = isolation().to_json()
    data_ok, data_note, own = workload_data(bundle)
    verdict.info["data"] = data_note
    result, notes, log_tail, intervals = run_bundle(bundle, spec, echo, own, span_s)
    if notes:
        verdict.info["protocol_notes"] = notes
    if "software_environment" in result.info:
        verdict.info["software_environment"] = result.info["software_environment"]
    if result.status not in ("ok", "wrong_answer"):
        verdict.reason = f"the artifact did not run: {result.status}: {result.error.splitlines()[0] if result.error else ''}"
        if log_tail:
            verdict.info["log_tail"] = log_tail
        echo(escape(f"not functional: {verdict.reason}"))
        return
    mismatch = result.error if result.status == "wrong_answer" else None
    if mismatch is None and "accuracy_top1" in bundle.submission["metrics"] and "accuracy_top1" not in result.metrics:
        mismatch = "no accuracy could be computed on the bundled inputs"
    if mismatch:
        verdict.reason = f"the outputs are not the declared ones: {mismatch}"
        echo(escape(f"not functional: {verdict.reason}"))
        return
    problem = record_compliance(result.info, verdict.info, echo, make_target(spec))
    if problem:
        verdict.reason = f"MLPerf compliance: {problem}"
        echo(escape(f"not functional: {verdict.reason}"))
        return
    verdict.badges.append("functional")
    verdict.status = "functional"
    echo("functional (ran in sandboxed child processes; outputs match the "
         + ("workload's" if own is not None else "bundled") + " reference)")
    checks, other = compare(bundle.submission, result.metrics, tolerance, two_sided, intervals)
    if data_ok is False:
        checks.append(Check("data", 1.0, 0.0, 1.0, 1.0, False, data_note))
    verdict.checks, verdict.not_compared = checks, other
    failed = [c for c in checks if not c.ok]
    for c in checks:
        shown = "-" if c.measured is None else f"{c.measured:.6g}"
        if c.measured_low is not None and c.measured_high is not None and c.measured_low != c.measured_high:
            shown += f" [{c.measured_low:.4g}, {c.measured_high:.4g}]"
        echo(escape(f"  {'ok  ' if c.ok else 'FAIL'} {c.metric}: recorded {c.recorded:.6g}, measured {shown} "
                    f"(allowed {c.low:.6g} .. {c.high:.6g})"))
    if failed:
        verdict.reason = "not reproduced: " + ", ".join(c.metric for c in failed)
        echo(escape(verdict.reason))
        return
    verdict.badges.append("reproduced")
    verdict.status = "reproduced"
    echo("reproduced")


def record_of(source: Path, verdict: Verdict, tolerance: float, target: str | None) -> dict[str, Any]:
    """The verdict as the store keeps it (and ``validation.json`` shows it)."""
    env = sysinfo.environment()
    return {
        "schema": SCHEMA, "schema_version": 2, "bundle": verdict.bundle, "source": source.name,
        "bundle_digest": verdict.digest, "validated": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "status": verdict.status, "badges": verdict.badges, "reason": verdict.reason,
        "tolerance": tolerance, "target": verdict.info.get("target", target),
        "isolation": verdict.info.get("isolation", isolation().to_json()),
        "checks": [c.to_json() for c in verdict.checks], "not_compared": verdict.not_compared,
        "info": {k: v for k, v in verdict.info.items() if k not in ("target", "isolation")},
        "validator": {"host": env["host"], "cpu_model": env["cpu_model"], "versions": env["versions"],
                      "git_revision": env["git_revision"]},
    }


def _record(store: ValidationStore, source: Path, verdict: Verdict, tolerance: float, target: str | None) -> None:
    """Into the store (when the content could be named at all), and the participant's copy --
    a convenience, never read back as a badge, written by replacing whatever is there (a link
    planted in its place is replaced, never followed)."""
    verdict.record = record_of(source, verdict, tolerance, target)
    if verdict.digest is not None:
        store.add(verdict.record)
    if not source.exists():
        return
    text = json.dumps(verdict.record, indent=1, default=str) + "\n"
    try:
        write_atomic(validation_path(source), lambda tmp: tmp.write_text(text))
    except OSError:
        pass
