"""``kill -9`` of ``request-dse tune`` at random moments, then the same command again.

The study must end with exactly its budget of finished trials, no candidate measured twice,
every candidate a kill interrupted measured again, nothing left RUNNING, and no process or
temporary file of the killed runs left behind.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import FAST_MEASURE
from tests.reliability._procs import Tree, wait_gone

KILLS = 10
BUDGET = 20
#: The shortest a trial's measurement can be (the protocol's ``min_time_s``): the study needs at
#: least BUDGET times this much measuring, whatever the machine's speed.
MIN_MEASURE_S = 1.5
#: Written once per temp dir by a library, not per run: ONNX Runtime's session id.
LIBRARY_FILES = {".ses"}


def _study(write_study):  # type: ignore[no-untyped-def]
    return write_study("killed", frameworks={"onnxruntime": {"graph_optimization_level": ["basic", "extended", "all"]}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                             "model.resolution": [4, 6, 8, 16], "model.precision": ["fp32"]}},
                       sampler={"name": "random", "seed": 3}, budget={"trials": BUDGET},
                       measure={**FAST_MEASURE, "min_runs": 40, "min_time_s": MIN_MEASURE_S, "max_time_s": 3.0,
                                # the models run in microseconds: without this, 10,000 runs (the
                                # default max_runs) end a session long before min_time_s
                                "max_runs": 10_000_000})


def _report(path: Path, tmp: Path) -> dict:  # type: ignore[type-arg]
    code, out, err = Tree(["report", str(path), "--json", "--all"], tmp).wait(120)
    assert code in (0, 3), err
    return json.loads(out)


def _building_since(trials: Path, since: float) -> bool:
    """Whether a build started after ``since`` (trial folders are per candidate: a candidate
    measured again writes its build log again)."""
    for log in trials.glob("*/build.log"):
        try:
            if log.stat().st_mtime >= since:
                return True
        except FileNotFoundError:
            continue
    return False


def _kill_at_a_random_point(tree: Tree, trials: Path, rng: random.Random, during_startup: bool) -> None:
    """Kill the run while it starts, or at most 1.2 s into the first trial it starts: however fast
    the machine, no run measures more than a trial's worth, so the kills cannot outlast the study."""
    if during_startup:
        time.sleep(rng.uniform(0.1, 1.5))
    else:
        deadline = time.monotonic() + 300
        while not _building_since(trials, tree.started):
            assert tree.proc.poll() is None, f"the run ended before starting a trial: {tree.proc.communicate()}"
            assert time.monotonic() < deadline, "the run started no trial"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.2))
    assert tree.proc.poll() is None, f"the run ended before its kill: {tree.proc.communicate()}"
    tree.kill()


@pytest.mark.slow
def test_kill_at_random_points_then_resume(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _study(write_study)
    rng = random.Random(20261128)
    tmp = tmp_path / "tmpdir"
    trials = tmp_path / ".request-dse" / "killed" / "trials"
    assert KILLS * 1.2 < BUDGET * MIN_MEASURE_S / 2  # the kills end well before the study could
    for i in range(KILLS):
        tree = Tree(["tune", str(path), "-q"], tmp)
        _kill_at_a_random_point(tree, trials, rng, during_startup=i % 3 == 2)
        assert not wait_gone(tree.mark), f"kill {i}: processes of the killed run are still alive"

    tree = Tree(["tune", str(path), "-q"], tmp)
    code, out, err = tree.wait(600)
    assert code == 0, err
    assert not wait_gone(tree.mark)

    report = _report(path, tmp)
    statuses = Counter(t["status"] for t in report["trials"])
    finished = [t for t in report["trials"] if "skip" not in t and t["status"] not in ("interrupted", "running")]
    assert len(finished) == BUDGET, statuses
    hashes = [t["hash"] for t in finished]
    assert len(set(hashes)) == BUDGET, "a candidate was measured twice"
    # (a trial killed between its ask and the write of its parameters holds no candidate)
    interrupted = {t["hash"] for t in report["trials"] if t["status"] == "interrupted" and "skip" not in t
                   and t.get("hash")}
    assert interrupted, "no kill interrupted a trial; kill later"
    assert interrupted <= set(hashes), f"interrupted candidates never measured again: {sorted(interrupted - set(hashes))}"
    assert "running" not in statuses
    assert len(report["pareto"]) >= 1
    left = sorted(p.name for p in tmp.iterdir() if p.name not in LIBRARY_FILES)
    assert not left, f"temporary files left behind: {left}"
