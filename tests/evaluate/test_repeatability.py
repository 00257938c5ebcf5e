"""Sessions in a slow mode are set aside and measured again, never averaged in; the trial says
which and why. Unit checks on recorded-like samples, then a real trial whose first measurement
process lands in a slow mode (the faults backend's ``slow_mode``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from request_dse.evaluate.repeatability import agree, consensus, settle
from request_dse.targets import MeasureResult, SessionResult
from tests.conftest import FAST_MEASURE

RNG = np.random.default_rng(7)


def session(median_us: float, n: int = 800, **fields: Any) -> SessionResult:
    samples = RNG.normal(median_us * 1e3, median_us * 10, n).astype(np.int64)  # ~1% spread, as one process shows
    return SessionResult(samples, 0.01, 1.0, 0.5, **fields)


def supply(*medians: float) -> tuple[Callable[[int], MeasureResult], list[int]]:
    """A source of new sessions (as the runtime measures them), and the sizes it was asked for."""
    queue, asked = list(medians), []

    def more(n: int) -> MeasureResult:
        asked.append(n)
        taken = [session(queue.pop(0)) for _ in range(n)]
        return MeasureResult("ok", tuple(taken), "", 0.1 * n)

    return more, asked


def test_sessions_that_agree_are_scored_as_measured() -> None:
    measured = MeasureResult("ok", (session(20.0), session(20.2), session(19.9)), "", 1.5)
    more, asked = supply()
    result, report = settle(measured, 3, 0.05, 3, more)
    assert all(a is b for a, b in zip(result.sessions, measured.sessions, strict=True))
    assert report is None and asked == []


def test_a_slow_session_is_set_aside_and_measured_again() -> None:
    scored = session(36.1, check_outputs=np.ones(3), top5=np.zeros((4, 5), dtype=int),
                     loadgen={"dir": "/x/session-a", "accuracy": {"disagree": 0}, "scored_dir": "/x/session-a"})
    measured = MeasureResult("ok", (scored, session(19.6), session(19.5)), "", 1.5)
    more, asked = supply(19.7)
    result, report = settle(measured, 3, 0.05, 3, more)
    assert asked == [1] and len(result.sessions) == 3 and result.wall_s == pytest.approx(1.6)
    medians = [float(np.median(s.samples_ns)) / 1e3 for s in result.sessions]
    assert max(medians) < 21
    assert report["measured"] == 4 and report["kept"] == 3 and report["extra"] == 1 and report["settled"]
    (discarded,) = report["discarded"]
    assert discarded["session"] == 0 and "a slow mode" in discarded["why"] and "1.8" in discarded["why"]
    head = result.sessions[0]  # the scored session's outputs and LoadGen accuracy move to the first kept one
    assert head.check_outputs is scored.check_outputs and head.top5 is scored.top5
    assert head.loadgen["accuracy"] == {"disagree": 0} and head.loadgen["scored_dir"] == "/x/session-a"


def test_two_sessions_that_disagree_need_a_third_to_tell() -> None:
    measured = MeasureResult("ok", (session(30.0), session(20.0)), "", 1.0)
    more, asked = supply(29.8)
    result, report = settle(measured, 2, 0.05, 1, more)
    # the two slow ones agree with each other and the fast one with none: one session is no group
    assert asked == [1] and report["kept"] == 2
    assert sorted(round(float(np.median(s.samples_ns)) / 1e3) for s in result.sessions) == [30, 30]


def test_a_faster_state_seen_once_is_measured_until_confirmed() -> None:
    """Slow spells of the host: a faster session that agrees with no other one is not dropped while
    the budget lasts; sessions are measured until a second one confirms it."""
    measured = MeasureResult("ok", (session(30.0), session(20.0), session(29.8)), "", 1.5)
    more, asked = supply(30.1, 20.2, 19.9)
    result, report = settle(measured, 3, 0.05, 5, more)
    assert asked == [1, 1, 1] and report["settled"] and report["kept"] == 3
    assert sorted(round(float(np.median(s.samples_ns)) / 1e3) for s in result.sessions) == [20, 20, 20]
    assert {d["session"] for d in report["discarded"]} == {0, 2, 3}


@pytest.mark.parametrize(("max_extra", "extra"), [(10, 7), (3, 3)])
def test_sessions_spread_over_the_span_within_the_budget(max_extra: int, extra: int) -> None:
    """``settle_span_s``: sessions that all agree still keep coming until they span that much wall
    time (0.1 s each here), as far as ``max_extra_sessions`` allows."""
    measured = MeasureResult("ok", (session(20.0), session(20.1), session(19.9)), "", 0.3)
    more, asked = supply(*[20.0] * 10)
    result, report = settle(measured, 3, 0.05, max_extra, more, span_s=0.95)
    assert asked == [1] * extra and len(result.sessions) == 3 + extra
    assert report["settled"] and report["extra"] == extra and report["discarded"] == []
    assert report["span_s"] == pytest.approx(0.3 + 0.1 * extra)
    assert report["windows"]["kept"] == report["windows"]["measured"]


def test_a_slow_spell_inside_a_session_is_cut_out() -> None:
    """The host slows down half way through a session: the windows of the spell are set aside and
    the session keeps the rest of its runs."""
    fast, slow = session(20.0, n=2000), session(31.0, n=2000)
    spell = dataclasses.replace(fast, samples_ns=np.concatenate([fast.samples_ns[:1000], slow.samples_ns[:1000]]))
    measured = MeasureResult("ok", (spell, session(20.1, n=2000), session(19.9, n=2000)), "", 1.5)
    more, asked = supply()
    result, report = settle(measured, 3, 0.05, 3, more)
    assert asked == [] and report["settled"] and report["kept"] == 3 and report["discarded"] == []
    assert len(result.sessions[0].samples_ns) == 1000 and result.sessions[0].check_outputs is spell.check_outputs
    assert report["windows"]["runs_set_aside"] == 1000 and report["windows"]["kept"] < report["windows"]["measured"]
    assert float(np.median(np.concatenate([s.samples_ns for s in result.sessions]))) / 1e3 < 20.5


def test_the_fastest_agreeing_group_wins_and_the_budget_bounds_the_work() -> None:
    measured = MeasureResult("ok", (session(20.0), session(33.0), session(24.0)), "", 1.5)
    more, asked = supply(20.1, 31.0, 27.0)
    result, report = settle(measured, 3, 0.05, 2, more)
    assert sum(asked) == 2  # max_extra_sessions
    assert report["kept"] == 2 and report["settled"]
    assert sorted(round(float(np.median(s.samples_ns)) / 1e3) for s in result.sessions) == [20, 20]


def test_when_no_two_sessions_agree_every_session_is_kept_and_said() -> None:
    measured = MeasureResult("ok", (session(20.0), session(26.0)), "", 1.0)
    more, _ = supply(33.0)
    result, report = settle(measured, 2, 0.05, 1, more)
    assert len(result.sessions) == 3 and not report["settled"] and report["discarded"] == []


def test_agreement_is_the_median_within_the_other_interval_widened_by_the_tolerance() -> None:
    assert agree((20.0, 19.9, 20.1), (21.0, 20.9, 21.1), 0.05)        # 21.0 <= 20.1 * 1.05
    assert not agree((20.0, 19.9, 20.1), (21.2, 21.1, 21.3), 0.05)
    assert agree((20.0, 19.9, 20.1), (21.2, 21.1, 21.3), 0.06)
    assert consensus([session(30.0), session(20.0), session(20.1)], 0.05) == [1, 2]
    assert consensus([session(30.0), session(20.0)], 0.05) == []   # one session alone is no group
    assert consensus([session(20.0)], 0.05) == [0]                 # unless it is the only one


@pytest.mark.parametrize("status", ["run_error", "crashed"])
def test_failed_or_single_measurements_are_left_alone(status: str) -> None:
    more, asked = supply()
    failed = MeasureResult(status, (session(20.0),), "boom", 1.0)
    assert settle(failed, 3, 0.05, 3, more) == (failed, None)
    single = MeasureResult("ok", (session(20.0),), "", 1.0)
    assert settle(single, 1, 0.05, 3, more) == (single, None) and asked == []


def test_a_trial_sets_its_slow_mode_session_aside(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    """The faults backend's ``slow_mode``: the first process that loads the artifact (the scored
    session) runs every call twice as long as the others, whose calls take a steady 0.5 ms; the trial
    measures one more session and says why."""
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    study = write_study("slowmode", frameworks={"faults": {"fault": ["slow_mode"]}},
                        space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                              "model.resolution": [8], "model.precision": ["fp32"]}},
                        budget={"trials": 1}, measure={**FAST_MEASURE, "min_runs": 300, "repeats": 2})
    result = cli("tune", study, "-q")
    assert result.code == 0, result
    plan = load_plan(study)
    (rec,) = [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]
    assert rec.status == "ok" and "accuracy_top1" in rec.metrics
    report = rec.info["sessions"]
    assert report["measured"] >= 3 and report["kept"] == 2 and report["settled"], report
    first = next(d for d in report["discarded"] if d["session"] == 0)
    ratio = float(re.search(r"\(([0-9.]+)x their median: a slow mode\)", first["why"]).group(1))
    assert 1.8 <= ratio <= 2.1, first
    assert rec.metrics["samples"] >= 600


def test_a_trial_cuts_a_slow_spell_out_of_a_session(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    """The faults backend's ``slow_spell``: 60 ms of every 200 ms of the scored session run at 1 ms a
    call instead of 0.5 ms; those runs are set aside, the session is kept, and the figures are the
    steady ones."""
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    study = write_study("slowspell", frameworks={"faults": {"fault": ["slow_spell"]}},
                        space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                              "model.resolution": [8], "model.precision": ["fp32"]}},
                        budget={"trials": 1}, measure={**FAST_MEASURE, "min_runs": 400, "repeats": 2})
    assert cli("tune", study, "-q").code == 0
    plan = load_plan(study)
    (rec,) = [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]
    assert rec.status == "ok", rec
    report = rec.info["sessions"]
    assert report["settled"] and report["discarded"] == [] and report["kept"] == report["measured"], report
    assert 30 <= report["windows"]["runs_set_aside"] <= 400, report
    assert 0.5 <= rec.metrics["latency_p50_ms"] < 0.55 and rec.metrics["latency_p90_ms"] < 0.6, rec.metrics
