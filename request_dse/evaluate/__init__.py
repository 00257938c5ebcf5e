"""Evaluating one candidate: build, measure, check, score -- or answer from a recorded table.

:func:`run_trial` follows a :class:`TrialJob` through a :class:`Runtime` (where the steps run,
chosen by the executor); :func:`score` turns sessions into metrics; :mod:`.intervals` gives
every metric its 95% interval; :mod:`.early_stop` stops candidates the front already beats.
"""

from __future__ import annotations

from request_dse.evaluate import early_stop
from request_dse.evaluate._base import Runtime, TrialJob
from request_dse.evaluate.early_stop import FrontSnapshot
from request_dse.evaluate.intervals import Interval, metric_intervals, objective_bounds
from request_dse.evaluate.jobs import make_job, protocol_for
from request_dse.evaluate.loadgen import read_intervals as loadgen_intervals
from request_dse.evaluate.score import PREDICTIONS, accuracy, check_outputs, score
from request_dse.evaluate.stats import latency_stats, session_spread
from request_dse.evaluate.trial import run_trial

__all__ = ["PREDICTIONS", "FrontSnapshot", "Interval", "Runtime", "TrialJob", "accuracy", "check_outputs",
           "early_stop", "latency_stats", "loadgen_intervals", "make_job", "metric_intervals", "objective_bounds",
           "protocol_for", "run_trial", "score", "session_spread"]
