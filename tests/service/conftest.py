"""Fixtures for the tournament service: real bundles from tiny studies, tournament files, tokens,
and real servers (``request_dse.testing.service``)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from request_dse.submission.archive import make_archive
from request_dse.submission.checksums import write_checksums
from request_dse.testing.postgres import PostgresServer, start_postgres
from tests.conftest import FAST_MEASURE, run_cli, study_doc

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tournaments" / "example.yaml"


def _tune(root: Path, name: str, **overrides: Any) -> list[Path]:
    study = root / f"{name}.yaml"
    study.write_text(yaml.safe_dump(study_doc(name, **overrides)))
    result = run_cli("tune", study, "-q")
    assert result.code == 0, result
    found = sorted(p for p in (root / "submissions" / name).iterdir() if p.is_dir())
    assert found, result
    return found


@pytest.fixture(scope="session")
def tiny_bundles(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Bundles of a four-trial ONNX Runtime study on the digits zoo (a few seconds to make and to validate)."""
    return _tune(tmp_path_factory.mktemp("tiny"), "tiny", measure={**FAST_MEASURE, "min_runs": 20})


@pytest.fixture(scope="session")
def slow_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One bundle whose every measurement session starts 5 s late (the ``faults`` backend's ``slow``):
    its validation runs long enough to be interrupted."""
    found = _tune(tmp_path_factory.mktemp("slow"), "slow", frameworks={"faults": {"fault": ["slow"],
                                                                                   "stage": ["measure"]}},
                  space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                        "model.resolution": [4], "model.precision": ["fp32"]}},
                  budget={"trials": 1}, measure={**FAST_MEASURE, "min_runs": 20})
    return found[0]


def variant(bundle: Path, dest: Path, tag: str, edit: Callable[[dict[str, Any], dict[str, Any]], None] | None = None
            ) -> Path:
    """A copy of ``bundle`` with other content (its label gets ``tag``), checksums rewritten: a
    different, valid bundle that reproduces like the original."""
    out = dest / f"{bundle.name}-{tag}"
    shutil.copytree(bundle, out)
    (out / "validation.json").unlink(missing_ok=True)
    doc = json.loads((out / "submission.json").read_text())
    system = json.loads((out / "system.json").read_text())
    doc["label"] = f"{doc.get('label', '')} {tag}"
    if edit is not None:
        edit(doc, system)
    (out / "submission.json").write_text(json.dumps(doc, indent=1))
    (out / "system.json").write_text(json.dumps(system, indent=1))
    write_checksums(out)
    return out


def archive(bundle: Path, dest: Path, suffix: str = ".tar.gz") -> Path:
    return make_archive(bundle, dest / f"{bundle.name}{suffix}")


def write_tournament(folder: Path, **overrides: Any) -> Path:
    """The shipped example tournament, in ``folder`` (its state under ``folder``), with ``overrides``
    merged into the top level (``validation`` and ``limits`` are merged key by key)."""
    doc = yaml.safe_load(EXAMPLE.read_text())
    for key, value in overrides.items():
        if key in ("validation", "limits") and isinstance(value, dict):
            doc[key] = {**doc.get(key, {}), **value}
        else:
            doc[key] = value
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "tournament.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def add_token(tournament: Path, name: str, role: str = "participant") -> str:
    result = run_cli("admin", tournament, "token", "add", name, "--role", role)
    assert result.code == 0, result
    return result.out.strip().splitlines()[-1]


def store_files(tournament: Path) -> list[str]:
    """Every file of the tournament's bundle store (uploads in flight included)."""
    from request_dse.service import load_tournament

    store = load_tournament(tournament).store
    return sorted(str(p.relative_to(store)) for p in store.rglob("*") if p.is_file()) if store.exists() else []


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


def fresh_database(server: PostgresServer, name: str) -> str:
    """A new, empty database on the test server; its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return server.url.rsplit("/", 1)[0] + f"/{name}"


from tests.scoreboard.conftest import browser  # noqa: E402,F401 - headless Chromium, shared with the scoreboard's tests
