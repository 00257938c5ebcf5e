"""Results: what trials ended with, the fronts they form, and how a study's findings are reported.

* :mod:`.records` -- :class:`TrialResult` (a trial's path returns it) and :class:`TrialRecord`
  (the trial as the study's storage holds it), and the statuses;
* :mod:`.fronts` -- Pareto fronts, ranks, hypervolume (moocore) and a study's front;
  :mod:`.noisy` -- the noise-aware front of points with 95% intervals;
* :mod:`.report` -- ``request-dse report`` as JSON and tables;
* :mod:`.tables` -- recorded tables (JSON Lines), :mod:`.samples` -- raw latency samples,
  :mod:`.cache` -- the results cache.
"""

from __future__ import annotations

from request_dse.results.cache import ResultsCache
from request_dse.results.fronts import (
                                        dominates,
                                        front,
                                        front_of,
                                        hypervolume,
                                        hypervolume_min,
                                        nondominated,
                                        ranks,
                                        reference_point,
                                        study_front,
                                        to_minimization,
)
from request_dse.results.noisy import NoisyFront, certainly_dominates, noisy_front
from request_dse.results.records import (
                                        DETERMINISTIC_FAILURES,
                                        DOMINATED_EARLY,
                                        STATUSES,
                                        Status,
                                        TrialRecord,
                                        TrialResult,
)
from request_dse.results.report import build_report, candidate_label, pareto_table, render_text, trials_table
from request_dse.results.samples import load_samples, save_samples
from request_dse.results.tables import FORMAT, Row, Table, read_table, rows_from_records, sample_stats, write_table

__all__ = ["DETERMINISTIC_FAILURES", "DOMINATED_EARLY", "FORMAT", "STATUSES", "NoisyFront", "ResultsCache", "Row",
           "Status", "Table", "TrialRecord", "TrialResult", "build_report", "candidate_label", "certainly_dominates",
           "dominates", "front",
           "front_of", "hypervolume", "hypervolume_min", "load_samples", "noisy_front", "nondominated",
           "pareto_table", "ranks", "read_table", "reference_point", "render_text", "rows_from_records",
           "sample_stats", "save_samples", "study_front", "to_minimization", "trials_table", "write_table"]
