"""Batched journal writes: a block's writes reach the file together, in order, or not at all."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna

from request_dse.storage import batched, open_storage


def test_a_block_of_writes_is_one_append(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'study.journal'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url), directions=["minimize"])
    trial = study.ask()
    journal = tmp_path / "study.journal"
    before = journal.read_text().count("\n")
    with batched(study):
        trial.set_user_attr("status", "ok")
        trial.set_user_attr("metrics", {"latency_p90_ms": 0.1})
        trial.set_constraint("c", -1.0)
        trial.suggest_categorical("x", [1, 2])
        study.tell(trial, 0.1)
        assert journal.read_text().count("\n") == before      # nothing written yet
    assert journal.read_text().count("\n") == before + 5      # all five entries at once
    other = optuna.load_study(study_name="s", storage=open_storage(url))
    [t] = other.get_trials()
    assert t.state.name == "COMPLETE" and t.values == [0.1] and t.params == {"x": trial.params["x"]}
    assert t.user_attrs == {"status": "ok", "metrics": {"latency_p90_ms": 0.1}}
    assert t.constraints == {"c": -1.0}


def test_nested_blocks_append_once_and_storage_pickles(tmp_path: Path) -> None:
    url = f"journal:{tmp_path / 'study.journal'}"
    storage = open_storage(url)
    study = optuna.create_study(study_name="s", storage=storage, directions=["minimize"])
    trial = study.ask()
    journal = tmp_path / "study.journal"
    before = journal.read_text().count("\n")
    with batched(study):
        trial.set_user_attr("a", 1)
        with batched(study):
            trial.set_user_attr("b", 2)
        assert journal.read_text().count("\n") == before
    assert journal.read_text().count("\n") == before + 2
    copy = pickle.loads(pickle.dumps(storage))
    assert optuna.load_study(study_name="s", storage=copy).get_trials()[0].user_attrs == {"a": 1, "b": 2}
    # other storages have nothing to batch: the block is a plain block
    memory = optuna.create_study(storage=open_storage("memory"))
    with batched(memory):
        memory.enqueue_trial({"x": 1})
