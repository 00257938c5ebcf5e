"""MLPerf LoadGen as request-dse's second measurement protocol (``measure.protocol: loadgen``).

:func:`measure_session` is the measurement worker's side: LoadGen drives the backend's
:class:`~request_dse.backends.Session` through a system-under-test adapter (:mod:`.sut`), in the
study's scenario, and runs the accuracy mode and the compliance tests TEST01 / TEST04
(:mod:`.compliance`). :mod:`.logs` reads what LoadGen wrote.
"""

from __future__ import annotations

from request_dse.targets.loadgen.logs import (
           ACCURACY,
           DETAIL,
           LOG_FILES,
           SUMMARY,
           LogError,
           detail as read_detail,
           figures,
)
from request_dse.targets.loadgen.session import SESSION_FILE, measure_session
from request_dse.targets.loadgen.settings import SCENARIO_NAMES

__all__ = ["ACCURACY", "DETAIL", "LOG_FILES", "SCENARIO_NAMES", "SESSION_FILE", "SUMMARY", "LogError", "figures",
           "measure_session", "read_detail"]
