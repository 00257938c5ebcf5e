"""``kill -9`` of ``request-dse tune`` at random moments, then the same command again.

The study must end with exactly its budget of finished trials, no candidate measured twice,
nothing left RUNNING, and no process or temporary file of the killed runs left behind.
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
#: Written once per temp dir by a library, not per run: ONNX Runtime's session id.
LIBRARY_FILES = {".ses"}


def _study(write_study):  # type: ignore[no-untyped-def]
    return write_study("killed", frameworks={"onnxruntime": {"graph_optimization_level": ["basic", "extended", "all"]}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                             "model.resolution": [4, 6, 8, 16], "model.precision": ["fp32"]}},
                       sampler={"name": "random", "seed": 3}, budget={"trials": BUDGET},
                       measure={**FAST_MEASURE, "min_runs": 40, "min_time_s": 1.5, "max_time_s": 3.0})  # about 2 s a trial


def _report(path: Path, tmp: Path) -> dict:  # type: ignore[type-arg]
    code, out, err = Tree(["report", str(path), "--json"], tmp).wait(120)
    assert code in (0, 3), err
    return json.loads(out)


@pytest.mark.slow
def test_kill_at_random_points_then_resume(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _study(write_study)
    rng = random.Random(20261128)
    tmp = tmp_path / "tmpdir"
    kills_landed = 0
    for i in range(KILLS):
        tree = Tree(["tune", str(path), "-q"], tmp)
        time.sleep(rng.uniform(0.5, 6.0))
        if tree.proc.poll() is None:
            kills_landed += 1
        tree.kill()
        assert not wait_gone(tree.mark), f"kill {i}: processes of the killed run are still alive"
    assert kills_landed >= KILLS // 2, "the study finished before most kills; lengthen it"

    tree = Tree(["tune", str(path), "-q"], tmp)
    code, out, err = tree.wait(600)
    assert code == 0, err
    assert not wait_gone(tree.mark)

    report = _report(path, tmp)
    statuses = Counter(t["status"] for t in report["trials"])
    finished = [t for t in report["trials"] if t["status"] not in ("interrupted", "running", "skipped", "duplicate")]
    assert len(finished) == BUDGET, statuses
    hashes = [t["hash"] for t in finished]
    assert len(set(hashes)) == BUDGET, "a candidate was measured twice"
    assert "running" not in statuses
    assert len(report["pareto"]) >= 1
    left = sorted(p.name for p in tmp.iterdir() if p.name not in LIBRARY_FILES)
    assert not left, f"temporary files left behind: {left}"
