"""MLflow tracking: the study as an MLflow projection, sent without slowing the search.

One experiment per workload, one parent run per study, one child run per trial; see
:mod:`request_dse.tracking._projection` for what each run holds, :mod:`.outbox` for how
nothing is lost while the server is down, and ``docs/tracking.md`` for the user's view.
MLflow itself is imported only by the writer (:mod:`._sink`), never by ``import request_dse``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from request_dse.tracking._settings import TrackingTarget, for_plan, project_root, resolve

if TYPE_CHECKING:
    from request_dse.plan import Plan
    from request_dse.tracking.observer import TrackingObserver

__all__ = ["TrackingTarget", "for_plan", "project_root", "resolve", "tracking_observer"]


def tracking_observer(plan: Plan) -> TrackingObserver:
    """The search observer that tracks ``plan``'s study where its settings say."""
    from request_dse.tracking.observer import TrackingObserver

    return TrackingObserver(plan, for_plan(plan))
