"""Several ``request-dse tune`` processes on the same study cooperate: the budget is met exactly,
no candidate is measured twice, nothing is left waiting in the storage."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST_MEASURE, REPO
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


def _noop_study(write_study, tmp_path: Path, name: str, sampler: str, budget: int) -> Path:  # type: ignore[no-untyped-def]
    """60 candidates of the zero-cost backend, each measured for about 0.1 s, so three processes overlap."""
    target = yaml.safe_load((REPO / "targets" / "local-cpu.yaml").read_text())
    target.update({"target": "noop-cpu", "frameworks": ["noop"]})
    (tmp_path / "targets").mkdir(exist_ok=True)
    (tmp_path / "targets" / "noop-cpu.yaml").write_text(yaml.safe_dump(target))
    return write_study(name, target="noop-cpu", executor="inline", budget={"trials": budget},
                       frameworks={"noop": {"quality": list(range(10)), "a": list(range(6))}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                             "model.resolution": [4], "model.precision": ["fp32"]}},
                       sampler={"name": sampler, "seed": 0},
                       measure={"warmup_runs": 0, "min_runs": 5, "min_time_s": 0.1, "max_time_s": 1.0, "repeats": 1})


def _finished(path: Path, name: str) -> tuple[list[str], int]:
    """Hashes of the measured trials, and how many trials wait in the storage's queue."""
    import optuna

    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    study = load_existing(load_plan(path).storage_url, name)
    waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
    return [r.hash for r in records(study) if r.measured], waiting


@pytest.mark.slow
@pytest.mark.parametrize(("sampler", "budget"), [("grid", 45), ("random", 45), ("grid", 70)])
def test_three_processes_meet_the_budget_exactly(write_study, tmp_path: Path, sampler: str, budget: int) -> None:  # type: ignore[no-untyped-def]
    name = f"three-{sampler}-{budget}"
    path = _noop_study(write_study, tmp_path, name, sampler, budget)
    tmp = tmp_path / "tmpdir"
    trees = [Tree(["tune", str(path), "-q", "--no-export"], tmp) for _ in range(3)]
    for tree in trees:
        code, _, err = tree.wait(600)
        assert code == 0, err
    hashes, waiting = _finished(path, name)
    expected = min(budget, 60)
    assert len(hashes) == expected, f"{len(hashes)} of {expected} measured"
    assert len(set(hashes)) == len(hashes), "a candidate was measured twice"
    assert waiting == 0, f"{waiting} trials left waiting in the storage"
    # a later run with one more trial measures exactly one more (when the space has one left)
    code, _, err = Tree(["tune", str(path), "-q", "--no-export", "--trials", str(budget + 1)], tmp).wait(600)
    assert code == 0, err
    again, waiting = _finished(path, name)
    assert len(again) == min(budget + 1, 60) and len(set(again)) == len(again) and waiting == 0
