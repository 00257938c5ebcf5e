"""A second look before a doubtful early stop: one slow session must not stop a candidate.

A measurement process can land in a slow mode that no number of runs inside it reveals (on
this project's reference host, some processes run a small model 1.5 times slower than others,
and a judging session has been seen 2.5 times slower than the candidate's final figures). Its
judge then sees the candidate slower than it is, and a candidate close to the front may be
stopped for it. A stop by less than ``early_stop.confirm_within`` beyond the margin (a factor
of 1.5 by default), or than the slowest session the study has seen
(``FrontSnapshot.slow_session``: the widest spread between two sessions of a candidate, or
between a judging session and the final figures), is *doubtful*. The candidate then gets a
second session, in a fresh process, with a judge of its own, run *quiet*: every build on the
host pauses while it runs, since on hosts whose cores share execution units a build on the other
core slows a measurement (up to 1.8 times on the reference host) and two back-to-back sessions
beside one build share that slow spell. It stops only when both sessions say so. Otherwise the
second session, run to its end, is one of the candidate's protocol sessions, and the candidate
runs the rest of the protocol (the judging session, cut short, keeps only its scored outputs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from request_dse.evaluate.early_stop import EXACT_METRICS, FrontSnapshot, verdict
from request_dse.results import TrialResult
from request_dse.targets import MeasureResult


def doubtful(estimate: TrialResult, first: MeasureResult, front: FrontSnapshot, margin: float,
             within: float) -> bool:
    """Whether a stop on this judging session could be a slow session's doing: the front beats the
    candidate beyond the margin by less than ``1 + within`` (``early_stop.confirm_within``) or than
    the slowest session the study has seen; every stop before a candidate had two sessions."""
    samples = np.concatenate([s.samples_ns for s in first.sessions]) / 1e6
    _, factor = verdict(estimate.metrics, samples, front, margin)
    return front.slow_session is None or factor < 1 + max(within, front.slow_session)


def exact(estimate: TrialResult) -> Mapping[str, float]:
    """What the judging session determined exactly (accuracy from its scored outputs, the sizes),
    for the second session's judge; accuracy only where the judging session scored every row
    (else the second session scores the split: :func:`rescore`)."""
    partial = "scored" in estimate.info
    return {m: v for m, v in estimate.metrics.items()
            if m in EXACT_METRICS and not (partial and m.startswith("accuracy_"))}


def rescore(first: MeasureResult) -> bool:
    """Whether the second session must score the held-out split itself: the judging session's
    judge ended its scoring, so its accuracy is a bound, not a figure a survivor could keep."""
    return bool(first.sessions) and first.sessions[0].scored is not None


def confirmed(stopped: TrialResult) -> TrialResult:
    """A stop both sessions made, saying so."""
    info = {**stopped.info, "early_stop": {**stopped.info.get("early_stop", {}), "confirmed": True}}
    return dataclasses.replace(stopped, error=f"{stopped.error}; a second session confirmed it", info=info)
