"""Survivors whose other sessions wait (``early_stop.defer``): the search judges them again as the front
improves, resumes the rest, and every result is the one the full protocol gives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from request_dse.backends import BuildResult
from request_dse.evaluate import TrialJob
from request_dse.evaluate.deferral import deferred
from request_dse.evaluate.early_stop import snapshot
from request_dse.protocol import EarlyStopConfig
from request_dse.results import TrialResult
from request_dse.search.waiting import WaitingRoom
from request_dse.targets import MeasureResult, SessionResult

NAMES, DIRECTIONS = ("accuracy_top1", "latency_p90_ms"), ("maximize", "minimize")


class Trial:
    def __init__(self, number: int) -> None:
        self.number = number


def add(room: WaitingRoom, number: int, p90_ms: float, accuracy: float = 0.97) -> None:
    samples = np.full(256, int(p90_ms * 1e6), dtype=np.int64)
    estimate = TrialResult({}, "ok", metrics={"accuracy_top1": accuracy, "latency_p90_ms": p90_ms})
    result = deferred(estimate, BuildResult("ok", Path("/nowhere")),
                      MeasureResult("ok", (SessionResult(samples, 0.0, 0.0, 0.0),), "", 0.1), samples)
    job = TrialJob(number, _Candidate(f"c{number}"), None, None, None, None, Path("/nowhere"))  # type: ignore[arg-type]
    room.add(Trial(number), job, result)


class _Candidate(dict):  # type: ignore[type-arg]
    def __init__(self, key: str) -> None:
        super().__init__()
        self.hash = key


def test_a_survivor_is_resumed_once_defer_more_results_came_oldest_first() -> None:
    room = WaitingRoom(EarlyStopConfig(enabled=True, defer=2), NAMES, DIRECTIONS)
    add(room, 0, 1.0)
    room.clock += 1
    add(room, 1, 2.0)
    assert room.next(everything=False) is None
    room.clock += 1
    trial, job = room.next(everything=False)  # type: ignore[misc]
    assert trial.number == 0 and job.resume is not None and job.reuse is job.resume.build
    assert room.next(everything=False) is None and len(room) == 1   # trial 1 (2 ms) waits for trial 0's result
    room.finished("c0")
    trial, _ = room.next(everything=False)  # type: ignore[misc]
    assert trial.number == 1 and room.clock == 3


def test_at_the_end_the_most_promising_survivor_is_resumed_first() -> None:
    """Trial 0 (2 ms) and trial 2 (1.5 ms, less accurate) are each dominated by trial 1 (1 ms): trial 1
    goes first, whose result may stop them both."""
    room = WaitingRoom(EarlyStopConfig(enabled=True, defer=100), NAMES, DIRECTIONS)
    add(room, 0, 2.0)
    add(room, 1, 1.0)
    add(room, 2, 1.5, accuracy=0.9)
    assert room.next(everything=False) is None
    trial, _ = room.next(everything=True)  # type: ignore[misc]
    assert trial.number == 1
    stopped = room.rejudge(lambda key: snapshot(NAMES, DIRECTIONS, [(1, (0.97, 0.2))], slow_session=0.05))
    assert sorted(w.trial.number for w, _ in stopped) == [0, 2] and len(room) == 0 and room.stopped == 2


def test_a_waiting_survivor_is_judged_against_the_others_but_not_itself() -> None:
    room = WaitingRoom(EarlyStopConfig(enabled=True, margin=0.25, defer=100), NAMES, DIRECTIONS)
    add(room, 0, 1.8)
    add(room, 1, 1.0)
    assert room.points() == [(0, (0.97, 1.8)), (1, (0.97, 1.0))] and room.points("c1") == [(0, (0.97, 1.8))]
    seen: list[str] = []

    def front(key: str):  # type: ignore[no-untyped-def]
        seen.append(key)
        return snapshot(NAMES, DIRECTIONS, [(n, v) for n, v in room.points(key)], slow_session=0.05)

    stopped = room.rejudge(front)   # trial 1 at 1 ms beats trial 0 at 1.8 ms by less than a 1.5x doubt
    assert seen == ["c0", "c1"] and stopped == []
    add(room, 2, 2.0)               # ... and trial 2 at 2 ms by more: it stops, and trial 0 stays
    assert [w.trial.number for w, _ in room.rejudge(front)] == [2] and len(room) == 2


@pytest.mark.parametrize(("defer", "doubtful"), [(0, False), (4, False), (4, True)])
def test_a_slow_survivor_waits_and_a_faster_model_of_its_accuracy_stops_it(write_study, defer: int,  # type: ignore[no-untyped-def]
                                                                           doubtful: bool) -> None:
    """A build whose every call takes 0.5 ms is judged first, against a front with nothing on it yet,
    and survives; then the same model at its own speed (tens of microseconds). Without ``defer`` the
    slow one runs its whole protocol. With it, its second session waits; the fast one comes back,
    joins the front, and the slow one is judged again and stopped: its second session never runs.
    Where every stop is doubtful (``confirm_within`` of 1000), the waiting room leaves it, and when it
    resumes it is judged against the front of that moment and takes a second look, which confirms
    the stop. Both studies' fast candidate gets the full protocol's two sessions."""
    from request_dse.search import records
    from tests.conftest import run_in_order

    space = {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8],
                            "model.precision": ["fp32"]}}
    early = {"enabled": True, "first_runs": 16, "first_time_s": 0.0, "defer": defer,
             **({"confirm_within": 1000.0} if doubtful else {})}
    path = write_study(f"defer-{defer}-{doubtful}", space=space, executor="local", budget={"trials": 2},
                       frameworks={"faults": {"fault": ["steady", "none"], "stage": ["measure"]}},
                       constraints=["accuracy_top1 >= 0.5"],  # a judge from the first candidate on
                       measure={"warmup_runs": 5, "min_runs": 64, "min_time_s": 0.05, "max_time_s": 1.0,
                                "repeats": 2, "timeout_s": 60, "early_stop": early})
    # one trial at a time: the slow one is judged before the fast one is measured
    search = run_in_order(path, lambda c: c["faults.fault"] != "steady")
    slow, fast = sorted((r for r in records(search.study) if r.measured), key=lambda r: r.number)
    assert slow.params["faults.fault"] == "steady" and fast.status == "ok", fast.error
    assert fast.metrics["samples"] >= 2 * 64 and "accuracy_top1" in fast.metrics
    assert fast.metrics["measure_time_s"] >= fast.timings["measure_first_s"]
    assert ("measure_resume" in fast.timings) is (defer > 0)   # when its other sessions ran (epoch s)
    if defer == 0:
        assert slow.status == "ok" and slow.metrics["samples"] >= 2 * 64
        return
    assert slow.status == "dominated_early", slow.error
    assert slow.info["early_stop"]["deferred"] is True and f"trial {fast.number}" in slow.error
    if not doubtful:
        assert slow.metrics["measure_time_s"] == pytest.approx(slow.timings["measure_first_s"])  # one session only
        assert "measure_second_look_s" not in slow.timings
        return
    assert "measure_resume" in slow.timings and slow.info["early_stop"]["confirmed"] is True
    assert "a second session confirmed it" in slow.error
    assert slow.metrics["measure_time_s"] == pytest.approx(slow.timings["measure_first_s"]
                                                           + slow.timings["measure_second_look_s"])


def test_a_search_stopped_while_survivors_wait_ends_them_interrupted_and_the_next_run_measures_them(write_study) -> None:  # type: ignore[no-untyped-def]
    """Ctrl-C while a survivor waits: its trial ends ``interrupted`` (not left running), and the next
    run of the study measures its candidate again, first."""
    from request_dse.execute import make_executor
    from request_dse.search import Search, records
    from request_dse.study import load_plan

    class StopWhenOneWaits:
        def on_start(self, search) -> None: ...  # type: ignore[no-untyped-def]
        def on_trial(self, search, rec) -> None: ...  # type: ignore[no-untyped-def]
        def on_end(self, search) -> None: ...  # type: ignore[no-untyped-def]

        def on_tick(self, search) -> None:  # type: ignore[no-untyped-def]
            if search.waiting:
                raise KeyboardInterrupt

    early = {"enabled": True, "first_runs": 16, "first_time_s": 0.0, "defer": 8}
    path = write_study("defer-interrupted", budget={"trials": 2}, constraints=["accuracy_top1 >= 0.5"],
                       measure={"warmup_runs": 2, "min_runs": 16, "min_time_s": 0.0, "repeats": 2, "timeout_s": 60,
                                "early_stop": early})
    plan = load_plan(path)
    runner = make_executor(plan)
    search = Search(plan, runner, observers=[StopWhenOneWaits()])
    with pytest.raises(KeyboardInterrupt):
        search.run()
    runner.shutdown()
    first = [r for r in records(search.study) if r.status == "interrupted"]
    assert all(r.state == "FAIL" for r in first) and any("waited" in r.error for r in first)
    assert not [r for r in records(search.study) if r.state == "RUNNING"]
    runner = make_executor(plan)
    try:
        again = Search(plan, runner).run()
    finally:
        runner.shutdown()
    done = {r.hash for r in records(again.study) if r.measured and r.status in ("ok", "dominated_early")}
    assert {r.hash for r in first} <= done


def test_a_survivor_judged_in_a_slow_mode_session_is_kept_by_a_second_look_when_it_resumes(write_study) -> None:  # type: ignore[no-untyped-def]
    """Two builds of one model whose runs take a steady 0.5 ms, the first one judged in a process that
    runs every call twice as long (``slow_mode``); both survive an empty front and wait. The steady
    one resumes first (the other's judging figures are behind its own), joins the front, and the
    slow one, judged against it when it resumes, takes a second look: in a fresh process it runs at
    0.5 ms and is kept. Its judging session ran to its end, so with the second look it has the
    protocol's two sessions and runs no third."""
    from request_dse.search import records
    from tests.conftest import run_in_order

    space = {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8],
                            "model.precision": ["fp32"]}}
    early = {"enabled": True, "first_runs": 16, "first_time_s": 0.0, "defer": 4, "confirm_within": 1000.0}
    path = write_study("defer-second-look", space=space, executor="local", budget={"trials": 2},
                       frameworks={"faults": {"fault": ["steady", "slow_mode"], "stage": ["measure"]}},
                       constraints=["accuracy_top1 >= 0.5"],
                       measure={"warmup_runs": 5, "min_runs": 64, "min_time_s": 0.05, "max_time_s": 1.0,
                                "repeats": 2, "timeout_s": 60, "max_extra_sessions": 0, "early_stop": early})
    search = run_in_order(path, lambda c: c["faults.fault"] != "slow_mode")
    slow, steady = sorted((r for r in records(search.study) if r.measured), key=lambda r: r.number)
    assert slow.params["faults.fault"] == "slow_mode" and steady.status == "ok"
    assert slow.status == "ok", slow.error
    assert "measure_resume" in slow.timings and "measure_second_look_s" in slow.timings
    assert steady.timings["measure_resume"] < slow.timings["measure_resume"]
    assert slow.metrics["measure_time_s"] == pytest.approx(slow.timings["measure_first_s"]
                                                           + slow.timings["measure_second_look_s"])
    assert slow.metrics["samples"] >= 2 * 64 and "measure_unused_s" not in slow.timings
