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
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.backends import BuildResult
from request_dse.evaluate import Interval, TrialJob, loadgen_intervals, make_job, metric_intervals
from request_dse.execute import run_jobs
from request_dse.results import TrialRecord, TrialResult, load_samples
from request_dse.space import Candidate
from request_dse.study import Plan
from request_dse.submission.confirmed import (
    ATTR_PREFIX,
    MAX_ROUNDS,
    Confirmation,
    ConfirmOutcome,
    analyse,
    confirm_protocol,
    machine_fingerprint,
    original_intervals,
    protocol_key,
    stored,
    violated,
)
from request_dse.text import plural


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
            self.echo(f"confirming {plural(len(todo), 'candidate')} within noise of the front: "
                      f"{plural(self.repeats, 'fresh session')} each")
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
    def job(self, rec: TrialRecord) -> TrialJob:
        """A job that measures ``rec``'s built artifact again in fresh sessions (rebuilds if it is gone)."""
        plan = self.plan
        candidate = Candidate.of(rec.params)
        job = make_job(plan, rec.number, candidate)
        trial_dir = plan.work_dir / "trials" / (rec.hash or candidate.hash) / "confirm"
        if trial_dir.exists():
            shutil.rmtree(trial_dir)
        trial_dir.mkdir(parents=True)
        protocol = confirm_protocol(job.session.protocol, self.repeats, self.plan.study.confirm.span_s)
        assert job.build is not None  # a fresh job builds
        # LoadGen's compliance tests run with the confirmation, so bundles carry their logs
        session = dataclasses.replace(job.session, protocol=protocol, log_dir=trial_dir / "loadgen",
                                      compliance=protocol.uses_loadgen)
        job = dataclasses.replace(job, trial_dir=trial_dir, session=session,
                                  build=dataclasses.replace(job.build, out_dir=trial_dir / "artifact"))
        artifact = rec.paths.get("artifact")
        if artifact and (Path(artifact) / "meta.json").is_file():
            prepared = plan.workload.prepare(candidate, plan.cache_dir / "prepared")
            reuse = BuildResult("ok", Path(artifact), prepared, build_time_s=rec.metrics.get("build_time_s", 0.0),
                                tuning_time_s=rec.metrics.get("tuning_time_s", 0.0), info=dict(rec.info))
            job = dataclasses.replace(job, reuse=reuse)
        return job

    def measure(self, records: Sequence[TrialRecord]) -> list[Confirmation]:
        by_number = {rec.number: rec for rec in records}
        return [self._store(by_number[job.number], job, result)
                for job, result in run_jobs(self.executor, [self.job(rec) for rec in records])]

    def _store(self, rec: TrialRecord, job: TrialJob, result: TrialResult) -> Confirmation:
        metrics = {k: float(v) for k, v in result.metrics.items() if v is not None and np.isfinite(v)}
        sessions = load_samples(result.samples_path) if result.samples_path and result.samples_path.is_file() else None
        intervals = {**metric_intervals(sessions, metrics, job.session.batch_size),
                     **loadgen_intervals(job.trial_dir)} if result.status == "ok" else {}
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
