"""Trial threads: what a study stopped while trials were in flight hands back."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from request_dse.evaluate import TrialJob
from request_dse.execute.threads import INTERRUPTED, ThreadedExecutor
from request_dse.results import TrialResult
from request_dse.space import Candidate


class Gated(ThreadedExecutor):
    """Trials that finish ``ok`` once ``release`` is set."""

    _capacity = 2

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def _trial(self, job: TrialJob) -> TrialResult:
        self.release.wait(30)
        return TrialResult(job.candidate, "ok")

    def shutdown(self) -> list[tuple[TrialJob, TrialResult]]:
        return self._drain(within_s=10)


def _job(number: int, tmp_path: Path) -> TrialJob:
    return TrialJob(number, Candidate.of({"trial": number}), None, None, None, None, tmp_path)  # type: ignore[arg-type]


def test_a_trial_whose_thread_never_started_is_handed_back_interrupted(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C inside ``submit`` (between registering the trial and its thread's start) once made
    the shutdown join a thread that never started, which raises."""
    executor = Gated()
    executor.submit(_job(1, tmp_path))

    def interrupted(self: threading.Thread) -> None:
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(threading.Thread, "start", interrupted)
        with pytest.raises(KeyboardInterrupt):
            executor.submit(_job(2, tmp_path))
    executor.release.set()
    out = {job.number: result for job, result in executor.shutdown()}
    assert out[1].status == "ok"
    assert out[2].status == "interrupted" and out[2].error == INTERRUPTED
    assert executor.in_flight == 0 and executor._drain(within_s=0) == []


def test_a_trial_still_running_at_the_deadline_is_interrupted(tmp_path: Path) -> None:
    executor = Gated()
    executor.submit(_job(1, tmp_path))
    (job, result), = executor._drain(within_s=0.05)
    assert job.number == 1 and result.status == "interrupted"
    executor.release.set()
