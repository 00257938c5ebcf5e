"""Where proposals come from: interrupted candidates first, the pool when the sampler is stuck."""

from __future__ import annotations

from request_dse.results import TrialRecord
from request_dse.search.proposals import STUCK, WINDOW, Proposer
from request_dse.study import load_plan


def _space(write_study):  # type: ignore[no-untyped-def]
    return load_plan(write_study("p")).space  # 2 x 2 x 2 = 8 candidates


def test_grid_draws_each_candidate_once_then_is_exhausted(write_study) -> None:  # type: ignore[no-untyped-def]
    space = _space(write_study)
    proposer, taken = Proposer(space, 0, grid=True), set()
    while True:
        source, candidate = proposer.next(lambda c: c.hash not in taken, [])
        if source == "exhausted":
            break
        assert source == "pool" and candidate is not None and candidate.hash not in taken
        taken.add(candidate.hash)
    assert len(taken) == space.count() == 8
    assert proposer.mode == ""  # the grid's own way: nothing to say


def test_an_interrupted_candidate_comes_first(write_study) -> None:  # type: ignore[no-untyped-def]
    space = _space(write_study)
    lost = next(iter(space.enumerate()))
    rec = TrialRecord(3, "FAIL", "interrupted", lost.params, lost.hash)
    assert Proposer(space, 0, grid=False).next(lambda c: True, [rec]) == ("requeued", lost)
    # once measured (not free), the sampler is asked again
    assert Proposer(space, 0, grid=False).next(lambda c: c.hash != lost.hash, [rec]) == ("sampler", None)


def test_a_stuck_sampler_hands_over_to_the_pool_and_says_so(write_study) -> None:  # type: ignore[no-untyped-def]
    proposer = Proposer(_space(write_study), 0, grid=False)
    for _ in range(STUCK):
        assert proposer.next(lambda c: True, [])[0] == "sampler"
        proposer.sampler_said(True)
    assert "sampler stuck on known candidates" in proposer.mode
    sources = [proposer.next(lambda c: True, [])[0] for _ in range(WINDOW)]
    assert sources == ["pool"] * WINDOW and proposer.mode == ""
    assert proposer.next(lambda c: True, [])[0] == "sampler"  # the sampler gets its turn back
