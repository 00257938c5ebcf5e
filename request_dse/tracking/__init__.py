"""MLflow tracking: the study as an MLflow projection, sent without slowing the search.

One experiment per workload, one parent run per study, one child run per trial; see
:mod:`request_dse.tracking._projection` for what each run holds, :mod:`.outbox` for how
nothing is lost while the server is down, and ``docs/tracking.md`` for the user's view.
MLflow itself is imported only by the writer (:mod:`._sink`), never by ``import request_dse``.
"""

from __future__ import annotations

from request_dse.study import Plan
from request_dse.tracking._settings import (
    TrackingTarget,
    check_writable,
    embedded_target,
    for_plan,
    project_root,
    resolve,
)
from request_dse.tracking._sink import MlflowSink, compare_url, find_parent, is_connection_error
from request_dse.tracking.observer import TrackingObserver
from request_dse.tracking.sync import STUDY_ID_ATTR, sync_study

__all__ = ["STUDY_ID_ATTR", "MlflowSink", "TrackingObserver", "TrackingTarget", "compare_url", "embedded_target", "find_parent",
           "for_plan", "is_connection_error", "project_root", "resolve", "sync_study", "tracking_observer"]


def tracking_observer(plan: Plan) -> TrackingObserver:
    """The search observer that tracks ``plan``'s study where its settings say."""
    target = for_plan(plan)
    check_writable(target)
    return TrackingObserver(plan, target)
