"""A second look before a doubtful early stop: a slow judging session must not stop a candidate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from request_dse.evaluate import PREDICTIONS
from request_dse.evaluate.early_stop import snapshot, verdict
from request_dse.evaluate.second_look import doubtful
from request_dse.results import TrialResult
from request_dse.targets import MeasureResult, SessionResult

OBJECTIVES = (["accuracy_top1", "latency_p90_ms"], ["maximize", "minimize"])


def judged(p90_ms: float, accuracy: float = 0.97) -> tuple[TrialResult, MeasureResult]:
    """A judging session of steady runs at ``p90_ms`` (its interval is that value), and its estimate."""
    samples = np.full(256, int(p90_ms * 1e6), dtype=np.int64)
    estimate = TrialResult({}, "ok", metrics={"accuracy_top1": accuracy, "latency_p90_ms": p90_ms})
    return estimate, MeasureResult("ok", (SessionResult(samples, 0.0, 0.0, 0.0),), "", 0.1)


def test_verdict_says_how_far_beyond_the_margin_the_front_beats_the_candidate() -> None:
    """1 ms against a front point of 0.5 ms with a 25% margin: beaten 1.6 times beyond it; an
    exact objective alone (accuracy) beats it without limit."""
    front = snapshot(*OBJECTIVES, [(0, (0.97, 0.5))])
    estimate, first = judged(1.0)
    reason, factor = verdict(estimate.metrics, first.sessions[0].samples_ns / 1e6, front, 0.25)
    assert reason is not None and "trial 0" in reason and factor == pytest.approx(1.6)
    assert verdict(estimate.metrics, first.sessions[0].samples_ns / 1e6, front, 1.5) == (None, 0.0)
    exact_only = snapshot(["accuracy_top1"], ["maximize"], [(0, (0.99,))])
    assert verdict({"accuracy_top1": 0.9}, np.empty(0), exact_only, 0.25)[1] == np.inf


@pytest.mark.parametrize(("slow_session", "within", "p90", "doubt"), [
    (None, 0.5, 10.0, True),     # no candidate had two sessions yet: every stop is confirmed
    (0.05, 0.5, 0.9, True),      # 1.44x beyond the margin, within what confirm_within allows for
    (0.05, 0.5, 1.25, False),    # 2x beyond it, more than confirm_within allows for
    (0.05, 0.0, 1.0, False),     # confirm_within 0: only the study's own slow sessions count
    (1.2, 0.5, 1.25, True),      # the study saw a session 2.2x slower than another
])
def test_a_stop_is_doubtful_by_less_than_a_slow_session_beyond_the_margin(slow_session: float | None, within: float,
                                                                          p90: float, doubt: bool) -> None:
    front = snapshot(*OBJECTIVES, [(0, (0.97, 0.5))], slow_session=slow_session)
    estimate, first = judged(p90)
    assert doubtful(estimate, first, front, 0.25, within) is doubt


@pytest.mark.parametrize("confirm_within", [1.0, 0.0])
def test_a_candidate_judged_in_a_slow_mode_session_is_kept_by_the_second_look(write_study,  # type: ignore[no-untyped-def]
                                                                              confirm_within: float) -> None:
    """Two builds of one model whose runs take a steady 0.5 ms; the second one's first measurement
    process runs every call twice as long (the faults backend's ``slow_mode``). Judged on that
    session alone it is 1.6 times beyond the 25% margin from the first: with the second look (a fresh
    process, where it runs at 0.5 ms) it is kept and measured in full; without (confirm_within 0,
    and no slow session seen yet), the slow session stops it."""
    from request_dse.search import records
    from tests.conftest import run_in_order

    space = {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8],
                            "model.precision": ["fp32"]}}
    early = {"enabled": True, "first_runs": 16, "first_time_s": 0.0, "confirm_within": confirm_within}
    path = write_study(f"second-look-{confirm_within}", space=space, executor="local", budget={"trials": 2},
                       frameworks={"faults": {"fault": ["steady", "slow_mode"], "stage": ["measure"]}},
                       measure={"warmup_runs": 5, "min_runs": 64, "min_time_s": 0.05, "max_time_s": 1.0,
                                "repeats": 2, "timeout_s": 60, "early_stop": early})
    # one trial at a time: the steady one is on the front when the other is judged
    search = run_in_order(path, lambda c: c["faults.fault"] != "steady")
    steady, slow = sorted((r for r in records(search.study) if r.measured), key=lambda r: r.number)
    assert steady.params["faults.fault"] == "steady" and steady.status == "ok"
    if confirm_within == 0.0:
        assert slow.status == "dominated_early" and "measure_second_look_s" not in slow.timings
        assert slow.metrics["latency_p90_ms"] > 1.6 * steady.metrics["latency_p90_ms"]  # what the slow session saw
        # the rows the steady build got wrong were scored first: the same model shows them at once
        assert slow.info["scored"]["rows"] < slow.info["scored"]["of"] == 359
        assert slow.metrics["accuracy_top1"] >= steady.metrics["accuracy_top1"]   # a bound on its accuracy
        return
    assert slow.status == "ok" and "measure_second_look_s" in slow.timings, slow.error
    assert slow.timings["measure_unused_s"] == slow.timings["measure_first_s"]  # cut by its judge: set aside
    assert slow.metrics["latency_p90_ms"] < 1.25 * steady.metrics["latency_p90_ms"]
    assert slow.metrics["samples"] >= 2 * 64 and "accuracy_top1" in slow.metrics   # two whole sessions, scored
    # its judging session overstated it, and later margins allow for what it did (how much shows
    # depends on the host: the judge reads runs at the host's fast speed, and the fault's calls are
    # fixed lengths of wall time that, unlike a model's, do not slow down in a slow spell of the host)
    assert slow.info["judge_bias"] >= 0.0
    # the judging session's judge ended its scoring: the second session scored the whole split again
    assert "scored" not in slow.info and slow.metrics["accuracy_top1"] == steady.metrics["accuracy_top1"]
    assert slow.info["misclassified"] == steady.info["misclassified"]
    assert len(np.load(Path(slow.paths["samples"]).parent / PREDICTIONS)) == 359
