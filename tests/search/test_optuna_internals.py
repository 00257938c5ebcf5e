"""Optuna's private names that request-dse uses (search/_optuna.py) still exist in the installed
release: when an upgrade moves one, this fails naming it (pyproject.toml bounds the version)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileBackend, JournalStorage

from request_dse.search._optuna import INTERNALS


def instances(tmp_path: Path) -> dict[str, object]:
    backend = JournalFileBackend(str(tmp_path / "journal.log"))
    storage = JournalStorage(backend)
    study = optuna.create_study(storage=storage, study_name="internals")
    study.optimize(lambda trial: trial.suggest_float("x", 0, 1), n_trials=1)
    return {"JournalFileBackend": backend, "JournalStorage": storage, "Study": study,
            "FrozenTrial": study.trials[0], "JournalStorageReplayResult": storage._replay_result,
            "Trial": study.ask(), "RDBStorage": optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 'rdb.db'}")}


@pytest.mark.parametrize(("owner", "name"), INTERNALS, ids=[f"{o}.{n}" for o, n in INTERNALS])
def test_private_name_exists(tmp_path: Path, owner: str, name: str) -> None:
    obj = instances(tmp_path)[owner]
    assert hasattr(obj, name), (f"optuna {optuna.__version__}: {owner}.{name} is gone; request_dse/search/_optuna.py "
                                "relies on it -- adapt it, or keep optuna below this release in pyproject.toml")
