"""Two ``request-dse tune`` processes on the same study cooperate."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import FAST_MEASURE
from tests.reliability._procs import Tree, wait_gone


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_two_processes_share_one_study(write_study, tmp_path: Path, storage: str) -> None:  # type: ignore[no-untyped-def]
    budget = 8
    path = write_study(f"shared-{storage}",
                       frameworks={"onnxruntime": {"graph_optimization_level": ["basic", "extended", "all"]}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                             "model.resolution": [4, 8], "model.precision": ["fp32"]}},
                       sampler={"name": "random", "seed": 1}, budget={"trials": budget},
                       measure={**FAST_MEASURE, "min_runs": 40}, storage=storage)
    tmp = tmp_path / "tmpdir"
    trees = [Tree(["tune", str(path), "-q"], tmp) for _ in range(2)]
    results = [t.wait(600) for t in trees]
    for code, _, err in results:
        assert code == 0, err
        assert "locked" not in err
    for t in trees:
        assert not wait_gone(t.mark)

    code, out, err = Tree(["report", str(path), "--json"], tmp).wait(120)
    assert code == 0, err
    report = json.loads(out)
    numbers = [t["number"] for t in report["trials"]]
    assert len(numbers) == len(set(numbers))
    finished = [t for t in report["trials"] if t["status"] != "interrupted"]
    hashes = Counter(t["hash"] for t in finished)
    assert max(hashes.values()) == 1, f"measured twice: {[h for h, n in hashes.items() if n > 1]}"
    assert len(finished) == budget, Counter(t["status"] for t in report["trials"])
