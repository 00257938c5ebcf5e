"""Batched journal writes: a block's writes reach the file together, in order, or not at all."""

from __future__ import annotations

import pickle
from pathlib import Path

import optuna

from request_dse.search import open_storage
from request_dse.search._optuna import batched


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


def test_a_result_half_written_by_another_process_is_not_yet_measured(tmp_path: Path, write_study) -> None:  # type: ignore[no-untyped-def]
    """SQLite shows a trial's attributes one by one: a status without its metrics or state yet."""
    from request_dse.results import study_front
    from request_dse.search import records
    from request_dse.study import load_plan

    url = f"sqlite:///{tmp_path / 'study.db'}"
    study = optuna.create_study(study_name="s", storage=open_storage(url), directions=["maximize", "minimize"])
    done, writing = study.ask(), study.ask()
    for trial in (done, writing):
        trial.set_user_attr("status", "ok")
    done.set_user_attr("metrics", {"accuracy_top1": 0.9, "latency_p90_ms": 0.1})
    study.tell(done, [0.9, 0.1])
    recs = {r.number: r for r in records(optuna.load_study(study_name="s", storage=open_storage(url)))}
    assert recs[done.number].measured and not recs[writing.number].measured
    front, _, _ = study_front(load_plan(write_study("s")), list(recs.values()))
    assert [r.number for r in front] == [done.number]
