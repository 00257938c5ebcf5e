"""A study's (confirmed) Pareto set as bundles: ``submissions/<study>/<study>-<NNN>-<hash>/``.

The default folder is ``submissions/<study>/`` in the study's project: the folder that holds
the study's ``studies/`` folder, or the study file's own folder. ``submissions: {dir: ...}``
in the study file sets another. A bundle's folder name (and id) starts with the study's name, so
several studies can share a folder: each emission replaces only its own study's bundles, and
keeps byte for byte those whose content did not change, with any verdict on them
(:mod:`.replace`).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from request_dse import sysinfo
from request_dse.errors import UserError
from request_dse.evaluate import protocol_for
from request_dse.files import lock, sha256_file
from request_dse.results import candidate_label, study_front
from request_dse.search import records
from request_dse.space import Candidate
from request_dse.study import Plan
from request_dse.submission import system
from request_dse.submission.confirm import ConfirmPhase
from request_dse.submission.confirmed import ConfirmOutcome, Point, confirm_protocol, stored
from request_dse.submission.entries import make_entry
from request_dse.submission.replace import install
from request_dse.submission.writer import Entry, write_bundle
from request_dse.text import fmt, table


def project_root(study_file: Path) -> Path:
    folder = study_file.resolve().parent
    return folder.parent if folder.name == "studies" else folder


def submissions_dir(plan: Plan) -> Path:
    return plan.study.submissions_dir or project_root(plan.study.source) / "submissions" / plan.name


def display(path: Path) -> str:
    """``path`` relative to the current folder when it is inside it, else absolute."""
    try:
        return os.path.relpath(path.resolve(), Path.cwd()) if path.resolve().is_relative_to(Path.cwd()) else str(path.resolve())
    except ValueError:
        return str(path.resolve())


def bundle_name(plan: Plan, point: Point) -> str:
    """The folder name and id of a point's bundle: the study's name, the trial, the candidate."""
    return f"{plan.name}-{point.record.number:03d}-{point.record.hash}"


def entry_for(plan: Plan, point: Point, ids: Mapping[int, str], out_dir: Path, *, hypervolume: float | None,
              trials_measured: int) -> Entry:
    rec = point.record
    candidate = Candidate.of(rec.params)
    samples = point.samples_path
    artifact = point.artifact_dir
    if samples is None or not samples.is_file() or artifact is None or not artifact.is_dir():
        raise FileNotFoundError(f"trial {rec.number}: its artifact or samples are gone "
                                f"({artifact}, {samples}); run the study again")
    study_file = plan.study.source.resolve()
    try:
        study_rel = study_file.relative_to(project_root(plan.study.source)).as_posix()
    except ValueError:
        study_rel = str(study_file)
    names = plan.study.metric_names
    confirm = None
    if point.confirmation is not None:
        confirm = {"sessions": point.confirmation.sessions,
                   "search_figures": {n: rec.metrics.get(n) for n in names},
                   "why": "figures from fresh sessions only: the search's figures selected the candidate and "
                          "are biased towards luck"}
    pareto = {"rank": point.rank, "confirmed": point.confirmed,
              "dominated_within_noise_by": [ids[n] for n in point.dominated_within_noise_by if n in ids],
              "ties": [ids[n] for n in point.ties if n in ids]}
    study = {"name": plan.name, "description": plan.study.description, "trial": rec.number,
             "candidate_hash": rec.hash or candidate.hash, "file": study_rel, "file_sha256": sha256_file(study_file),
             "trials_measured": trials_measured, "hypervolume": hypervolume}
    return make_entry(
        plan, candidate, kind="study", entry_id=ids[rec.number], label=candidate_label(rec.params),
        metrics=point.metrics, intervals=point.intervals, artifact_dir=artifact, samples_path=samples, info=rec.info,
        repeats=plan.study.confirm.repeats if point.confirmed else plan.study.measure.repeats,
        measure=(confirm_protocol(protocol_for(plan, candidate), plan.study.confirm.repeats, plan.study.confirm.span_s)
                 if point.confirmed else None),
        location=display(out_dir), rebuild=f"request-dse tune {study_rel}", pareto=pareto, study=study,
        study_file=study_file, confirm=confirm,
        constraints=[(str(c), c.violation(point.metrics[c.metric]) <= 0) for c in plan.study.constraints
                     if c.metric in point.metrics])


def emit(plan: Plan, outcome: ConfirmOutcome, *, out: Path | None = None, hypervolume: float | None = None,
         trials_measured: int = 0, echo: Callable[[str], None] | None = None) -> list[Path]:
    """Write one bundle per point of ``outcome.front`` into ``out`` (default: :func:`submissions_dir`),
    in place of the study's previous bundles there (unchanged ones are kept as they were).
    Returns the bundle folders."""
    echo = echo or (lambda _: None)
    out = (out or submissions_dir(plan)).resolve()
    points = sorted(outcome.front, key=lambda p: p.record.number)
    ids = {p.record.number: bundle_name(plan, p) for p in points}
    out.parent.mkdir(parents=True, exist_ok=True)
    with lock(out.with_name(f".{out.name}")):  # several processes may share a study
        return _emit_locked(plan, points, ids, out, hypervolume, trials_measured)


def _emit_locked(plan: Plan, points: list[Any], ids: dict[int, str], out: Path, hypervolume: float | None,
                 trials_measured: int) -> list[Path]:
    if out.exists() and not out.is_dir():
        raise UserError(f"{out}: not a folder; bundles go into a folder")
    staging = out.with_name(f".{out.name}.{plan.name}.new")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    written: list[str] = []
    systems: dict[str, dict[str, Any]] = {}
    try:
        for point in points:
            name = ids[point.record.number]
            entry = entry_for(plan, point, ids, out / name, hypervolume=hypervolume, trials_measured=trials_measured)
            key = f"{entry.backend} {entry.backend_version} {entry.software.get('id')}"
            if key not in systems:
                systems[key] = system.describe_entry(entry, versions=sysinfo.versions())
            write_bundle(entry, staging / name, systems[key])
            written.append(name)
        placed, _ = install(staging, written, out, plan.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return placed


def emit_records(plan: Plan, study: Any, all_records: Sequence[Any], *, executor: Any = None, confirm: bool | None = None,
                 out: Path | None = None, echo: Callable[[str], None] | None = None) -> tuple[ConfirmOutcome, list[Path]]:
    """The confirm phase (measuring with ``executor`` where needed) and the bundles of its front."""
    enabled = plan.study.confirm.enabled if confirm is None else confirm
    outcome = ConfirmPhase(plan, study, executor, echo=echo).run(all_records, enabled=enabled)
    _, _, hv = study_front(plan, all_records)
    measured = sum(1 for r in all_records if r.measured)
    paths = emit(plan, outcome, out=out, hypervolume=hv, trials_measured=measured, echo=echo) if outcome.front else []
    return outcome, paths


def confirmed_table(plan: Plan, outcome: ConfirmOutcome) -> str:
    """The emitted set: each objective's figure with its 95% interval, and ties."""
    names = list(plan.study.metric_names)
    rows = []
    shown = {p.record.number for p in outcome.front}
    for p in sorted(outcome.front, key=lambda p: p.metrics[names[-1]]):
        cells = []
        for n in names:
            low, high, _ = p.intervals.get(n, (p.metrics[n], p.metrics[n], ""))
            cells.append(fmt(p.metrics[n], n) + ("" if low == high else f" [{fmt(low, n)}, {fmt(high, n)}]"))
        near = sorted((set(p.ties) | set(p.dominated_within_noise_by)) & shown)
        rows.append([p.record.number, "yes" if p.confirmed else "no", *cells,
                     ",".join(map(str, near)) or "-", candidate_label(p.record.params)])
    return table(["trial", "confirmed", *names, "ties", "candidate"], rows,
                 align="rl" + "r" * len(names) + "ll")


def confirm_front(plan: Plan, study: Any, executor: Any, *, echo: Callable[[str], None]) -> ConfirmOutcome:
    """End of ``tune``, while the executor runs: the confirm phase on the study's records."""
    outcome = ConfirmPhase(plan, study, executor, echo=echo).run(records(study), enabled=plan.study.confirm.enabled)
    for rec, why in outcome.dropped:
        echo(f"trial {rec.number} left the front: {why}")
    return outcome


def write_front(plan: Plan, study: Any, outcome: ConfirmOutcome, out: Path | None = None) -> list[Path]:
    """End of ``tune``, once the executor has stopped (and the driver has all its cores back,
    as the system description reads them): the bundles of the confirmed front."""
    if not outcome.front:
        return []
    all_records = records(study)
    _, _, hv = study_front(plan, all_records)
    try:
        return emit(plan, outcome, out=out, hypervolume=hv, trials_measured=sum(1 for r in all_records if r.measured))
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None


def confirmed_report(plan: Plan, study: Any, all_records: Sequence[Any]) -> tuple[ConfirmOutcome | None, list[dict[str, Any]]]:
    """The front on the confirmations stored in the study (nothing is measured); (None, []) when the
    study has none yet."""
    if not plan.study.confirm.enabled or not stored(study):
        return None, []
    outcome = ConfirmPhase(plan, study, None).run(all_records)
    names = plan.study.metric_names
    rows = [{"number": p.record.number, "confirmed": p.confirmed, "rank": p.rank,
             "metrics": {n: p.metrics[n] for n in names},
             "intervals": {n: list(p.intervals[n][:2]) for n in names if n in p.intervals},
             "ties": list(p.ties), "dominated_within_noise_by": list(p.dominated_within_noise_by)}
            for p in sorted(outcome.front, key=lambda p: p.record.number)]
    return outcome, rows
