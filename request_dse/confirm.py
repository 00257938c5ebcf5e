"""The confirm phase: no lucky measurement becomes a submission.

Before a study emits its Pareto set, every candidate on the front *within measurement noise*
(no other candidate beats it beyond the 95% intervals of both) is measured again in
``confirm.repeats`` fresh sessions, through the study's executor (measurements exclusive per
target, each session in its own worker process), from the artifact the search built. The
confirmed figures come from the fresh sessions only: the search picked the candidate *because*
its figures looked good, so they are biased towards luck, and fresh ones are not.

The front is then recomputed on the confirmed figures; a candidate that only looked good is
replaced by whoever it hid, who gets confirmed in turn, until every candidate on the front is
confirmed. Points whose intervals overlap are reported as ties (and as "dominated within noise")
rather than silently ranked. A confirmation that fails, gives a wrong answer or breaks a
constraint takes the candidate off the front.

Confirmations are kept in the study's storage (study attributes ``confirmed:<hash>``), so
``request-dse export`` and a re-run of ``tune`` reuse them while the machine, the libraries and
the protocol are the same.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from request_dse import pareto, sysinfo
from request_dse.intervals import Interval, metric_intervals, objective_bounds
from request_dse.plan import Plan, make_job
from request_dse.storage import TrialRecord

ATTR_PREFIX = "confirmed:"
#: Rounds of confirm-then-recompute before giving up (each round confirms every new front member).
MAX_ROUNDS = 10


@dataclass(frozen=True)
class Confirmation:
    """The fresh measurement of one candidate, as stored in the study."""

    hash: str
    trial: int
    status: str
    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    trial_dir: str
    sessions: int
    fingerprint: str
    protocol: str
    error: str = ""
    created: str = ""
    artifact: str = ""

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["intervals"] = {k: list(v) for k, v in self.intervals.items()}
        return out

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Confirmation:
        fields = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in doc.items() if k in fields}
        values["intervals"] = {k: (float(v[0]), float(v[1]), str(v[2])) for k, v in doc.get("intervals", {}).items()}
        return cls(**values)

    @property
    def samples_path(self) -> Path:
        return Path(self.trial_dir) / "samples.npz"


@dataclass(frozen=True)
class Point:
    """One candidate of the final analysis: its figures (confirmed or not) and where it stands."""

    record: TrialRecord
    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    confirmation: Confirmation | None
    rank: int = 0
    dominated_within_noise_by: tuple[int, ...] = ()   # trial numbers
    ties: tuple[int, ...] = ()                         # trial numbers

    @property
    def confirmed(self) -> bool:
        return self.confirmation is not None

    @property
    def artifact_dir(self) -> Path | None:
        if self.confirmation is not None and self.confirmation.artifact:
            return Path(self.confirmation.artifact)
        path = self.record.paths.get("artifact")
        return Path(path) if path else None

    @property
    def samples_path(self) -> Path | None:
        if self.confirmation is not None:
            return self.confirmation.samples_path
        path = self.record.paths.get("samples")
        return Path(path) if path else None


@dataclass
class ConfirmOutcome:
    """The front after the confirm phase (``front``: rank-1 points, confirmed where enabled)."""

    front: list[Point] = field(default_factory=list)
    confirmed: list[Confirmation] = field(default_factory=list)    # measured in this run
    dropped: list[tuple[TrialRecord, str]] = field(default_factory=list)  # taken off the front, and why
    enabled: bool = True


def machine_fingerprint() -> str:
    """CPU, ISA features, library versions and the machine's CPU count: what must match for a
    stored confirmation to stand (not the cores this process is pinned to at the moment)."""
    import os

    return sysinfo.fingerprint({**sysinfo.environment(), "cores": os.cpu_count()})


def protocol_key(plan: Plan, repeats: int) -> str:
    return repr(dataclasses.replace(plan.study.measure, repeats=repeats))


def stored(study: Any) -> dict[str, Confirmation]:
    """The confirmations kept in a study's storage, by candidate hash."""
    out = {}
    for key, value in study.user_attrs.items():
        if key.startswith(ATTR_PREFIX) and isinstance(value, Mapping):
            try:
                out[key[len(ATTR_PREFIX):]] = Confirmation.from_json(value)
            except (TypeError, ValueError, KeyError, IndexError):
                continue
    return out


def load_sessions(path: Path | None) -> list[np.ndarray] | None:
    if path is None or not path.is_file():
        return None
    from request_dse.measure import load_samples

    try:
        return load_samples(path)
    except (OSError, ValueError, KeyError, IndexError):
        return None


def original_intervals(plan: Plan, rec: TrialRecord) -> dict[str, Interval]:
    """The intervals of a search trial's figures, from its raw samples (none when they are gone)."""
    path = rec.paths.get("samples")
    sessions = load_sessions(Path(path) if path else None)
    return metric_intervals(sessions, rec.metrics, plan.batch_size(_candidate(rec)))


def _candidate(rec: TrialRecord) -> Any:
    from request_dse.space import Candidate

    return Candidate.of(rec.params)


def violated(plan: Plan, metrics: Mapping[str, float]) -> str | None:
    for c in plan.study.constraints:
        value = metrics.get(c.metric)
        if value is None or c.violation(value) > 0:
            return f"violates {c} (confirmed {c.metric} = {value})"
    return None


def analyse(plan: Plan, figures: Sequence[tuple[TrialRecord, Mapping[str, float], Mapping[str, Interval],
                                                Confirmation | None]]) -> list[Point]:
    """Noise-aware ranks, ties and 'dominated within noise' of candidates with their figures."""
    names = plan.study.metric_names
    directions = [o.direction for o in plan.study.objectives]
    if not figures:
        return []
    bounds = [objective_bounds(m, iv, names) for _, m, iv, _ in figures]
    analysis = pareto.noisy_front(np.array([b[0] for b in bounds]), np.array([b[1] for b in bounds]),
                                  np.array([b[2] for b in bounds]), directions)
    points = []
    for i, (rec, metrics, intervals, confirmation) in enumerate(figures):
        points.append(Point(rec, metrics, intervals, confirmation, int(analysis.ranks[i]),
                            tuple(figures[j][0].number for j in analysis.dominated_within_noise_by[i]),
                            tuple(figures[j][0].number for j in analysis.ties[i])))
    return points


class ConfirmPhase:
    """Runs the confirm phase of one study with an executor (``None``: analyse without measuring)."""

    def __init__(self, plan: Plan, study: Any, executor: Any = None, *, repeats: int | None = None,
                 echo: Callable[[str], None] | None = None) -> None:
        self.plan = plan
        self.study = study
        self.executor = executor
        self.repeats = repeats or plan.study.confirm.repeats
        self.echo = echo or (lambda _: None)
        self.key = protocol_key(plan, self.repeats)
        self.fingerprint = machine_fingerprint()

    def valid(self, c: Confirmation) -> bool:
        return c.fingerprint == self.fingerprint and c.protocol == self.key

    def run(self, all_records: Sequence[TrialRecord], *, enabled: bool = True) -> ConfirmOutcome:
        ok = [r for r in all_records if r.measured and r.status == "ok" and r.skip is None and r.hash]
        seen: set[str] = set()
        ok = [r for r in ok if not (r.hash in seen or seen.add(r.hash))]  # type: ignore[func-returns-value]
        outcome = ConfirmOutcome(enabled=enabled)
        originals = {r.hash: original_intervals(self.plan, r) for r in ok}
        confirmations = {h: c for h, c in stored(self.study).items() if self.valid(c)} if enabled else {}
        for _ in range(MAX_ROUNDS):
            figures, dropped = self._figures(ok, originals, confirmations)
            points = analyse(self.plan, figures)
            front = [p for p in points if p.rank == 1]
            todo = [p.record for p in front if p.confirmation is None]
            if not enabled or not todo or self.executor is None:
                outcome.front = sorted(front, key=lambda p: p.record.number)
                outcome.dropped = dropped
                return outcome
            self.echo(f"confirming {len(todo)} candidate(s) within noise of the front: "
                      f"{self.repeats} fresh session(s) each")
            for c in self.measure(todo):
                confirmations[c.hash] = c
                outcome.confirmed.append(c)
        raise RuntimeError(f"the confirm phase did not settle in {MAX_ROUNDS} rounds")

    def _figures(self, ok: Sequence[TrialRecord], originals: Mapping[str, Mapping[str, Interval]],
                 confirmations: Mapping[str, Confirmation]) -> tuple[list[Any], list[tuple[TrialRecord, str]]]:
        figures, dropped = [], []
        names = self.plan.study.metric_names
        for r in ok:
            c = confirmations.get(r.hash)  # type: ignore[arg-type]
            if c is None:
                figures.append((r, r.metrics, originals[r.hash], None))  # type: ignore[index]
                continue
            reason = (f"confirmation {c.status}: {c.error.splitlines()[0] if c.error else ''}" if c.status != "ok"
                      else violated(self.plan, c.metrics))
            if reason is None and any(n not in c.metrics for n in names):
                reason = "the confirmation produced no " + ", ".join(n for n in names if n not in c.metrics)
            if reason:
                dropped.append((r, reason))
                continue
            figures.append((r, c.metrics, c.intervals, c))
        return figures, dropped

    # -- measuring --------------------------------------------------------------------------------
    def job(self, rec: TrialRecord) -> Any:
        """A job that measures ``rec``'s built artifact again in fresh sessions (rebuilds if it is gone)."""
        from request_dse.records import BuildResult

        plan = self.plan
        candidate = _candidate(rec)
        job = make_job(plan, rec.number, candidate)
        trial_dir = plan.work_dir / "trials" / (rec.hash or candidate.hash) / "confirm"
        if trial_dir.exists():
            shutil.rmtree(trial_dir)
        trial_dir.mkdir(parents=True)
        protocol = dataclasses.replace(plan.study.measure, repeats=self.repeats)
        job = dataclasses.replace(job, trial_dir=trial_dir, session=dataclasses.replace(job.session, protocol=protocol),
                                  build=dataclasses.replace(job.build, out_dir=trial_dir / "artifact"))
        artifact = rec.paths.get("artifact")
        if artifact and (Path(artifact) / "meta.json").is_file():
            prepared = plan.workload.prepare(candidate, plan.cache_dir / "prepared")
            reuse = BuildResult("ok", Path(artifact), prepared, build_time_s=rec.metrics.get("build_time_s", 0.0),
                                tuning_time_s=rec.metrics.get("tuning_time_s", 0.0), info=dict(rec.info))
            job = dataclasses.replace(job, reuse=reuse)
        return job

    def measure(self, records: Sequence[TrialRecord]) -> list[Confirmation]:
        executor = self.executor
        pending = {rec.number: (rec, self.job(rec)) for rec in records}
        queue = list(pending.values())
        out = []
        while queue or executor.in_flight:
            while queue and executor.in_flight < executor.capacity:
                _, job = queue.pop(0)
                executor.submit(job)
            for job, result in executor.wait(timeout=0.25):
                rec, _ = pending[job.number]
                out.append(self._store(rec, job, result))
        return out

    def _store(self, rec: TrialRecord, job: Any, result: Any) -> Confirmation:
        from request_dse.measure import load_samples

        metrics = {k: float(v) for k, v in result.metrics.items() if v is not None and np.isfinite(v)}
        sessions = load_samples(result.samples_path) if result.samples_path and result.samples_path.is_file() else None
        intervals = metric_intervals(sessions, metrics, job.session.batch_size) if result.status == "ok" else {}
        c = Confirmation(rec.hash or job.candidate.hash, rec.number, result.status, metrics, intervals,
                         str(job.trial_dir), len(sessions or ()), self.fingerprint, self.key, result.error,
                         dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                         str(result.artifact_dir or ""))
        self.study.set_user_attr(ATTR_PREFIX + c.hash, c.to_json())
        names = self.plan.study.metric_names
        before = ", ".join(f"{n}={rec.metrics.get(n, float('nan')):.4g}" for n in names)
        after = ", ".join(f"{n}={metrics.get(n, float('nan')):.4g}" for n in names) if c.status == "ok" else c.status
        self.echo(f"  trial {rec.number}: search {before} -> confirmed {after}")
        return c
