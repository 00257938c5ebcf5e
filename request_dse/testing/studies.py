"""Run a study in this process, as ``request-dse tune`` does, for tests and plug-in authors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from request_dse.execute import make_executor
from request_dse.search import Search
from request_dse.study import load_plan


def run_study(path: str | Path, executor: str | None = None, cache: Any = None) -> Any:
    """Load the study at ``path``, run its search to the end and return the finished ``Search``
    (its executor shut down)."""
    plan = load_plan(path)
    runner = make_executor(plan, executor)
    search = Search(plan, runner, cache=cache)
    try:
        search.run()
    finally:
        runner.shutdown()
    return search
