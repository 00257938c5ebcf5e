"""A candidate answered from a replay target's recorded table instead of being built and measured.

* a candidate in the table gets its recorded status, metrics and error (recorded failures
  are replayed as failures);
* a candidate missing from the table is ``infeasible``, with that reason.
"""

from __future__ import annotations

from typing import Any

from request_dse.results import TrialResult, read_table
from request_dse.space import Candidate


def replay(target: Any, candidate: Candidate) -> TrialResult:
    """The recorded outcome of ``candidate`` on a replay ``target`` (its ``table_path``)."""
    table = read_table(target.table_path)
    row = table.get(candidate)
    if row is None:
        return TrialResult(candidate, "infeasible", error=f"not in the replay table {table.path.name} "
                                                         f"({len(table)} recorded candidates)",
                           info={"replayed_from": str(table.path)})
    info = {"replayed_from": str(table.path), **{f"recorded_{k}": v for k, v in row.source.items()}}
    return TrialResult(candidate, row.status, dict(row.metrics), row.error, info=info,
                       timings={"build": 0.0, "measure": 0.0})
