"""Hostile and malformed inputs made at run time (request_dse/testing/hostile.py and
bundle_cases.py): each ends as it must -- bad input with exit code 2 and one escaped line naming
the file and the rule, before its deadline, with no traceback and nothing written where the
input chose; a scoreboard with a bad bundle in it still written, the bundle listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from request_dse.testing import bundle_cases, hostile
from request_dse.testing.bundles import Kit

CASES = (*hostile.CASES, *bundle_cases.CASES)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    return Kit(tmp_path_factory.mktemp("kit"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_input_is_handled(case: hostile.Case, tmp_path: Path, kit: Kit) -> None:
    why = case.available()
    if why:
        pytest.skip(why)
    outcome = hostile.run(case, tmp_path, kit)
    assert outcome.problems(case, tmp_path) == [], outcome
