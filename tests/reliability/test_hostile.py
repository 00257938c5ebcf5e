"""Hostile and malformed inputs made at run time (request_dse/testing/hostile.py): each ends with
exit code 2 and one escaped line naming the file and the rule, before its deadline, with no
traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from request_dse.testing.hostile import CASES, Case, run


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_refused_in_one_line(case: Case, tmp_path: Path) -> None:
    why = case.available()
    if why:
        pytest.skip(why)
    outcome = run(case, tmp_path)
    assert outcome.problems(case) == [], outcome
