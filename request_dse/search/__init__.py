"""The search: Optuna's ask/tell loop over a plan's space, its samplers, and the study's storage.

:class:`Search` proposes candidates (:mod:`.samplers`), hands them to an executor and tells the
study what came back (:mod:`.ledger`); several processes may share one study (:mod:`.claims`).
The study's storage (:mod:`.storage`) is the source of truth: everything that reports on a study
reads it back as :class:`~request_dse.results.TrialRecord` s.
"""

from __future__ import annotations

from request_dse.search._base import Counters, Observer, SearchView
from request_dse.search.loop import Search
from request_dse.search.samplers import make_sampler
from request_dse.search.storage import (
                                        load_existing,
                                        measured_records,
                                        open_storage,
                                        owner_alive,
                                        owner_id,
                                        record,
                                        records,
)

__all__ = ["Counters", "Observer", "Search", "SearchView", "load_existing", "make_sampler", "measured_records", "open_storage",
           "owner_alive", "owner_id", "record", "records"]
