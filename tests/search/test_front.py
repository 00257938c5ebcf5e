"""The front the search keeps, and the noise its snapshots tell the judging sessions."""

from __future__ import annotations

import pytest

from request_dse.results import TrialRecord
from request_dse.search.front import FrontTracker
from request_dse.study import load_plan


def _rec(number: int, acc: float, p90: float, **info: float) -> TrialRecord:
    return TrialRecord(number, "COMPLETE", "ok", {"trial": number}, f"h{number}",
                       {"accuracy_top1": acc, "latency_p90_ms": p90}, info=info)


def test_the_judging_margin_follows_the_judging_sessions_once_one_was_measured(write_study) -> None:  # type: ignore[no-untyped-def]
    """Before any survivor of a judging session is known, the widest spread between two sessions of
    a candidate; then the widest gap between a judging session's estimate and its final figures
    (which a slow-mode session shows too), even when narrower than the sessions' spread."""
    tracker = FrontTracker(load_plan(write_study("front")))
    assert tracker.snapshot().session_noise == 0.0
    tracker.add(_rec(0, 0.9, 0.02, session_spread=0.47))
    assert tracker.snapshot().session_noise == 0.47
    tracker.add(_rec(1, 0.95, 0.03, session_spread=0.6, judge_bias=0.12))
    assert tracker.snapshot().session_noise == 0.12
    tracker.add(_rec(2, 0.97, 0.05, session_spread=0.01, judge_bias=0.3))
    tracker.add(_rec(3, 0.99, 0.08, judge_bias=0.05))
    snap = tracker.snapshot()
    assert snap.session_noise == 0.3 and [p.number for p in snap.points] == [0, 1, 2, 3]


def test_the_judging_margin_covers_three_in_four_survivors_gaps_and_the_slowest_stays_a_second_looks_bar(write_study) -> None:  # type: ignore[no-untyped-def]
    """One slow judging session does not widen the margin for every later candidate: with eight
    survivors the margin is the sixth-smallest gap (nearest rank, from above), while the widest
    gap is still what a doubtful stop is measured against (a second session must agree)."""
    tracker = FrontTracker(load_plan(write_study("front-quantile")))
    gaps = [0.05, 0.6, 0.1, 0.08, 0.2, 0.12, 0.9, 0.15]
    for number, gap in enumerate(gaps):
        tracker.add(_rec(number, 0.9 + number / 100, 0.02 * (number + 1), judge_bias=gap))
    snap = tracker.snapshot()
    assert snap.session_noise == sorted(gaps)[5] == 0.2
    assert snap.slow_session == 0.9
    tracker.add(_rec(8, 0.99, 0.5, judge_bias=1.5))  # nine: ceil(6.75) = the seventh
    assert tracker.snapshot().session_noise == 0.6 and tracker.snapshot().slow_session == 1.5


def test_the_slowest_session_seen_is_the_widest_judging_gap_or_before_one_the_widest_spread(write_study) -> None:  # type: ignore[no-untyped-def]
    """What a doubtful stop is measured against: None until a candidate had two sessions, then the
    widest spread between its sessions until a survivor of a judging session is known, then the
    widest judging gap: judging sessions are read at the host's fast speed, so a whole session in
    a slow spell, which the sessions' spread shows, no longer shows in them."""
    tracker = FrontTracker(load_plan(write_study("slow")))
    assert tracker.snapshot().slow_session is None
    tracker.add(_rec(0, 0.9, 0.02, session_spread=0.1))
    assert tracker.snapshot().slow_session == 0.1
    tracker.add(_rec(1, 0.95, 0.03, session_spread=0.6, judge_bias=0.12))
    assert tracker.snapshot().slow_session == 0.12 and tracker.snapshot().session_noise == 0.12
    tracker.add(_rec(2, 0.97, 0.05, judge_bias=0.9))
    assert tracker.snapshot().slow_session == 0.9


def test_the_hosts_fast_speed_is_the_fastest_probe_of_any_judging_session(write_study) -> None:  # type: ignore[no-untyped-def]
    """Stopped candidates' judging sessions count as well as survivors': every one timed the probe."""
    tracker = FrontTracker(load_plan(write_study("probe")))
    assert tracker.snapshot().host_probe_ns is None
    tracker.add(_rec(0, 0.9, 0.02, host_probe_ns=6100))
    stopped = TrialRecord(1, "COMPLETE", "dominated_early", {"trial": 1}, "h1",
                          {"accuracy_top1": 0.8, "latency_p90_ms": 0.5}, info={"host_probe_ns": 5200})
    tracker.add(stopped)
    tracker.add(_rec(2, 0.95, 0.03, host_probe_ns=9800))
    tracker.add(_rec(3, 0.96, 0.04))
    assert tracker.snapshot().host_probe_ns == 5200


def test_a_waiting_survivor_stands_on_the_snapshot_made_as_much_worse_as_a_survivor_came_out(write_study) -> None:  # type: ignore[no-untyped-def]
    """Until a survivor's final figures are known, waiting survivors are left off the snapshot; then
    each stands on it at its judging figures, its noisy objectives made worse by the widest rise
    (``judge_rise``) seen: 20% here, so 1 ms stands as 1.2 ms, accuracy unchanged."""
    from request_dse.results import TrialRecord
    from request_dse.search.front import FrontTracker
    from request_dse.study import load_plan

    tracker = FrontTracker(load_plan(write_study("front-waiting")))
    assert tracker.snapshot([(5, (0.97, 1.0))]).points == ()
    tracker.add(TrialRecord(0, "COMPLETE", "ok", {}, "h0", {"accuracy_top1": 0.9, "latency_p90_ms": 0.5},
                            info={"judge_rise": 0.2}))
    points = tracker.snapshot([(5, (0.97, 1.0))]).points
    assert [(p.number, p.values, p.waiting) for p in points] == [(0, (0.9, 0.5), False),
                                                                 (5, (0.97, pytest.approx(1.2)), True)]


def test_the_rows_most_often_wrong_come_first_in_every_snapshot(write_study) -> None:  # type: ignore[no-untyped-def]
    """Judging sessions score first the held-out rows the study's trials got wrong most often (ties:
    the lower row first), at most HARD_ROWS of them; a stopped or infeasible trial's rows count too."""
    from request_dse.search.front import HARD_ROWS

    tracker = FrontTracker(load_plan(write_study("hard")))
    assert tracker.snapshot().hard == ()
    tracker.add(_rec(0, 0.9, 0.02, misclassified=[7, 3, 11]))  # type: ignore[arg-type]
    assert tracker.snapshot().hard == (3, 7, 11)
    tracker.add(_rec(1, 0.95, 0.03, misclassified=[11, 40]))  # type: ignore[arg-type]
    stopped = TrialRecord(2, "COMPLETE", "dominated_early", {"trial": 2}, "h2",
                          {"accuracy_top1": 0.8, "latency_p90_ms": 0.5}, info={"misclassified": [40, 11, 2]})
    assert not tracker.add(stopped)                       # not on the front, but its rows count
    assert tracker.snapshot().hard == (11, 40, 2, 3, 7)
    tracker.add(_rec(3, 0.5, 0.01, misclassified=list(range(100, 100 + 2 * HARD_ROWS))))  # type: ignore[arg-type]
    hard = tracker.snapshot().hard
    assert len(hard) == HARD_ROWS and hard[:5] == (11, 40, 2, 3, 7) and hard[5:8] == (100, 101, 102)


@pytest.mark.parametrize("seed", range(3))
def test_the_front_kept_one_trial_at_a_time_is_the_studys_front_and_reused_until_it_changes(write_study, seed) -> None:  # type: ignore[no-untyped-def]
    """After every trial the tracker gives what ``study_front`` computes from all the trials (front,
    reference point, hypervolume), failed and duplicate points included; a trial that changes
    neither the front nor the objectives' range leaves the computed result as it was."""
    import numpy as np

    from request_dse.results import study_front

    plan = load_plan(write_study(f"front-prop-{seed}"))
    tracker, seen, rng = FrontTracker(plan), [], np.random.default_rng(seed)
    for number in range(120):
        acc, p90 = float(rng.choice([0.9, 0.93, 0.95, 0.97])), float(rng.choice([0.5, 1.0, 2.0, 3.0, 4.0]))
        status = "ok" if number % 9 else "failed"
        rec = TrialRecord(number, "COMPLETE", status, {"trial": number}, f"h{number}",
                          {"accuracy_top1": acc, "latency_p90_ms": p90} if status == "ok" else {})
        before = tracker.result() if number else None
        tracker.add(rec)
        seen.append(rec)
        front, reference, hv = tracker.result()
        want_front, want_reference, want_hv = study_front(plan, seen)
        assert [r.number for r in front] == [r.number for r in want_front]
        assert reference == pytest.approx(want_reference) and hv == pytest.approx(want_hv)
        if before is not None and [r.number for r in before[0]] == [r.number for r in front] \
                and before[1] == reference:
            assert tracker.result() is before  # nothing recomputed
