"""A target whose measurements are looked up in a recorded table instead of being taken.

Like a tabular benchmark for hyper-parameter optimization: a study on a replay target runs
the normal search (sampler, constraints, duplicates, budget) but each candidate is answered
at once from a JSON Lines table (:mod:`request_dse.replay`) -- nothing is built or measured,
and the same candidate always gets the same answer. Search strategies can so be compared on
real data in seconds.

* a candidate in the table gets its recorded status, metrics and error (recorded failures
  are replayed as failures);
* a candidate missing from the table is ``infeasible``, with that reason.

Options: ``table`` -- the table's path (relative to the target file).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from request_dse import sysinfo
from request_dse.config._schema import Field, Record, Str
from request_dse.targets._base import Target

if TYPE_CHECKING:
    from request_dse.execute._process import ProcessRunner
    from request_dse.records import MeasureResult, SessionRequest, TrialResult
    from request_dse.replay import Table
    from request_dse.space import Candidate


class ReplayTarget(Target):
    """Options: ``table`` (path of a table written by ``request-dse export-table``)."""

    kind = "replay"
    options = Record({"table": Field(Str(hint="the path of a JSON Lines table"))})
    replays = True

    @property
    def table_path(self) -> Path:
        path = Path(self.spec.options["table"])
        return path if path.is_absolute() else self.spec.source.resolve().parent / path

    @property
    def resource(self) -> str:
        return f"replay:{self.spec.name}:{id(self)}"  # lookups never need to wait for each other

    def table(self) -> Table:
        from request_dse.replay import read_table

        return read_table(self.table_path)

    def unavailable(self) -> str | None:
        if not self.table_path.is_file():
            return (f"its table {self.table_path} does not exist (record one with "
                    "`request-dse export-table STUDY -o FILE`)")
        return None

    def cpu_features(self) -> frozenset[str]:
        return sysinfo.cpu_features()

    def build_info(self) -> Mapping[str, Any]:
        return {"kind": self.kind, "name": self.name, "table": str(self.table_path)}

    def system(self) -> Mapping[str, Any]:
        return {"system_name": f"{self.name} (replay of {self.table_path.name})", "system_type": "replay",
                **self.spec.system}

    def replay(self, candidate: Candidate) -> TrialResult:
        """The recorded outcome of ``candidate`` (``infeasible`` when the table lacks it)."""
        from request_dse.records import TrialResult

        table = self.table()
        row = table.get(candidate)
        if row is None:
            return TrialResult(candidate, "infeasible", error=f"not in the replay table {table.path.name} "
                                                             f"({len(table)} recorded candidates)",
                               info={"replayed_from": str(table.path)})
        info = {"replayed_from": str(table.path), **{f"recorded_{k}": v for k, v in row.source.items()}}
        return TrialResult(candidate, row.status, dict(row.metrics), row.error, info=info,
                           timings={"build": 0.0, "measure": 0.0})

    def measure(self, request: SessionRequest, runner: ProcessRunner, log_path: Path | None = None) -> MeasureResult:
        from request_dse.records import MeasureResult

        return MeasureResult("run_error", error="a replay target answers from its table; it measures nothing")
