"""Scoring the held-out split in a judging session: hard rows first, the judge asked as it goes."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np
import pytest

from request_dse.evaluate.score import accuracy_bounds
from request_dse.protocol import MeasureConfig
from request_dse.targets import SessionRequest
from request_dse.targets.scoring import FIRST_ROWS, looks, score_judged, scoring_order, top_classes
from request_dse.targets.session import Loaded, time_runs

ROWS, CLASSES = 200, 10


class LookupSession:
    """A classifier whose row ``i`` (its first feature) gets the logits ``table[i]``; each call
    takes ``call_us`` (busy, like a kernel)."""

    def __init__(self, table: np.ndarray, call_us: float = 0.0) -> None:
        self.table, self.call_ns, self.calls = table, int(call_us * 1000), 0

    def place(self, x: np.ndarray) -> np.ndarray:
        return x

    def run(self, placed: np.ndarray) -> np.ndarray:
        self.calls += 1
        end = time.perf_counter_ns() + self.call_ns
        while time.perf_counter_ns() < end:
            pass
        return self.table[placed[:, 0].astype(int)]

    def fetch(self, out: np.ndarray) -> np.ndarray:
        return out


@dataclasses.dataclass
class BoundJudge:
    """Stops once top-1 accuracy on the whole split cannot exceed ``at_most``; records each look."""
    labels: np.ndarray
    at_most: float
    order: tuple[int, ...] = ()
    first_runs: int = 4
    first_time_s: float = 0.0
    looks: list[tuple[int, int | None]] = dataclasses.field(default_factory=list)

    def __call__(self, samples_ns: np.ndarray, top5: np.ndarray | None, scored: np.ndarray | None = None, *,
                 probes_ns: np.ndarray | None = None) -> str | None:
        self.looks.append((len(samples_ns), None if scored is None else len(scored)))
        if top5 is None:
            return None
        hi = accuracy_bounds(top5, self.labels, scored)["accuracy_top1"][1]
        return f"at most {hi:.3f}" if hi <= self.at_most else None


def split(wrong: list[int], seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows (their index as the feature), labels, and logits right everywhere but ``wrong``."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, ROWS)
    logits = rng.normal(size=(ROWS, CLASSES)).astype(np.float32)
    logits[np.arange(ROWS), labels] += 10
    for i in wrong:
        logits[i, labels[i]] -= 20
    x = np.arange(ROWS, dtype=np.float32)[:, None]
    return x, labels, logits


def loaded(x: np.ndarray, session: LookupSession) -> Loaded:
    return Loaded(session, 0.0, 0.0, time.perf_counter(), x, pending=True)


def request(judge: BoundJudge | None, batch: int = 1, **protocol: float) -> SessionRequest:
    config = MeasureConfig(**{"warmup_runs": 2, "min_runs": 64, "min_time_s": 0.0, "max_time_s": 10.0, **protocol})
    return SessionRequest("onnxruntime", Path("."), None, batch, 1, config, score=True, judge=judge)  # type: ignore[arg-type]


def test_the_scoring_order_is_every_row_once_the_given_rows_first() -> None:
    order = scoring_order((9, 3, 9, -1, 500, 0), 12)
    assert order.tolist() == [9, 3, 0, 1, 2, 4, 5, 6, 7, 8, 10, 11]
    assert sorted(scoring_order((), 5).tolist()) == list(range(5))


@pytest.mark.parametrize(("n", "batch", "want"), [
    (359, 1, [16, 32, 64, 128, 256, 359]), (359, 5, [20, 40, 80, 160, 320, 359]), (10, 1, [10]), (16, 1, [16]),
])
def test_the_judge_looks_at_the_scored_rows_at_every_doubling_on_whole_batches(n: int, batch: int,
                                                                                want: list[int]) -> None:
    assert looks(n, batch) == want and FIRST_ROWS == 16


@pytest.mark.parametrize("batch", [1, 3, 8])
def test_scoring_in_the_judges_order_gives_the_splits_own_outputs(batch: int) -> None:
    """A judge that never stops: the top-5 come back in the split's order, as plain scoring gives them."""
    x, labels, logits = split([5, 150, 199])
    judge = BoundJudge(labels, at_most=0.0, order=(199, 150, 7))
    state = loaded(x, LookupSession(logits))
    assert score_judged(state, request(judge, batch), np.ones(4, np.int64)) is None
    assert not state.pending and state.scored is None
    assert np.array_equal(state.top5, top_classes(logits))
    assert [k for _, k in judge.looks] == looks(ROWS, batch)[:-1]


@pytest.mark.parametrize("seed", range(5))
def test_accuracy_bounds_hold_whatever_rows_are_scored(seed: int) -> None:
    """After any k rows, the whole split's accuracy lies within the bounds; exact once all are scored."""
    rng = np.random.default_rng(seed)
    wrong = rng.choice(ROWS, 12, replace=False).tolist()
    x, labels, logits = split(wrong, seed)
    top5 = top_classes(logits)
    true = float(np.mean(top5[:, 0] == labels))
    assert true == 1 - 12 / ROWS
    order = rng.permutation(ROWS)
    for k in (0, 1, 17, 100, ROWS - 1):
        lo, hi = accuracy_bounds(top5[order[:k]], labels, order[:k])["accuracy_top1"]
        assert lo <= true <= hi and hi - lo == pytest.approx((ROWS - k) / ROWS)
    assert accuracy_bounds(top5, labels)["accuracy_top1"] == (true, true)
    assert accuracy_bounds(top5, labels)["accuracy_top5"][0] >= true


def test_a_candidate_that_errs_on_the_hard_rows_stops_after_a_few_of_them() -> None:
    """Eight errors, all on the rows the judge orders first, against a front point with seven: the
    first look (16 rows) shows the accuracy cannot reach it; scoring stops there, not after 200 rows."""
    wrong = [3, 40, 77, 101, 150, 160, 180, 199]
    x, labels, logits = split(wrong)
    judge = BoundJudge(labels, at_most=1 - 7.5 / ROWS, order=tuple(wrong))
    session = LookupSession(logits)
    state = loaded(x, session)
    reason = score_judged(state, request(judge), np.ones(4, np.int64))
    assert reason is not None and reason.startswith("at most")
    assert state.scored.tolist()[:8] == wrong and len(state.scored) == FIRST_ROWS == len(state.top5)
    assert session.calls == FIRST_ROWS
    # in the split's own order, the same candidate is judged only once the last of its errors is scored
    plain = BoundJudge(labels, at_most=1 - 7.5 / ROWS)
    state = loaded(x, LookupSession(logits))
    assert score_judged(state, request(plain), np.ones(4, np.int64)) is None or len(state.scored) == ROWS
    assert [k for _, k in plain.looks][-1] == 128


def test_a_session_scores_at_its_judges_first_look_and_scoring_is_not_run_time() -> None:
    """The timed runs start before the split is scored; the judge's first look scores it (its looks
    during scoring see the same runs), and the time scoring took does not count towards min_time_s."""
    x, labels, logits = split([1, 2])
    judge = BoundJudge(labels, at_most=0.0, first_runs=8)
    session = LookupSession(logits, call_us=200)   # 200 rows: 40 ms of scoring
    state = loaded(x, session)
    started = time.perf_counter()
    samples, _, judged = time_runs(state, request(judge, min_runs=16, min_time_s=0.03))
    wall = time.perf_counter() - started
    assert judged is None and np.array_equal(state.top5, top_classes(logits))
    assert judge.looks[0] == (8, 16) and all(n == 8 for n, k in judge.looks if k is not None)
    assert (8, None) in judge.looks                      # the usual look once every row is scored
    # 30 ms of 0.2 ms runs besides 40 ms of scoring (counted as run time, 16 runs would have ended it)
    assert len(samples) > 100 and wall >= 0.03 + 0.04


def test_a_session_whose_runs_end_before_the_first_look_still_scores_every_row() -> None:
    """A session with a judge runs until its first look, unless it reaches ``max_runs`` first."""
    x, labels, logits = split([4])
    judge = BoundJudge(labels, at_most=1.0, first_runs=1000)   # would stop at once, but never looks
    state = loaded(x, LookupSession(logits))
    samples, _, judged = time_runs(state, request(judge, min_runs=8, max_runs=8))
    assert len(samples) == 8
    assert judged is None and judge.looks == [] and state.scored is None
    assert np.array_equal(state.top5, top_classes(logits))
