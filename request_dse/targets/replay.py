"""A target whose measurements are looked up in a recorded table instead of being taken.

Like a tabular benchmark for hyper-parameter optimization: a study on a replay target runs
the normal search (sampler, constraints, duplicates, budget) but each candidate is answered
at once from a JSON Lines table (:mod:`request_dse.results.tables`, looked up by
:mod:`request_dse.evaluate.replay`) -- nothing is built or measured,
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
from typing import Any

from request_dse import sysinfo
from request_dse.fields import Field, Record, Str
from request_dse.targets._base import SessionCall, SessionRequest, Target


class ReplayTarget(Target):
    """Options: ``table`` (path of a table written by ``request-dse export-table``)."""

    kind = "replay"
    options = Record({"table": Field(Str(hint="the path of a JSON Lines table"))})

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"replay"})

    @property
    def table_path(self) -> Path:
        path = Path(self.spec.options["table"])
        return path if path.is_absolute() else self.spec.source.resolve().parent / path

    @property
    def resource(self) -> str:
        return f"replay:{self.spec.name}:{id(self)}"  # lookups never need to wait for each other

    def unavailable(self) -> str | None:
        if not self.table_path.is_file():
            return (f"its table {self.table_path} does not exist (record one with "
                    "`request-dse export-table STUDY -o FILE`)")
        return None

    def cpu_features(self) -> frozenset[str]:
        return sysinfo.cpu_features()

    def build_info(self) -> Mapping[str, Any]:
        return {**super().build_info(), "table": str(self.table_path)}

    def system(self) -> Mapping[str, Any]:
        return {"system_name": f"{self.name} (replay of {self.table_path.name})", "system_type": "replay",
                **self.spec.system}

    def sessions(self, request: SessionRequest) -> list[SessionCall]:
        raise RuntimeError("a replay target answers from its table (request_dse.evaluate.replay); it measures nothing")
