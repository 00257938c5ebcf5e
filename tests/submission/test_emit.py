"""Emission keeps what did not change: a re-run of tune or export leaves unchanged bundles byte for
byte (their validation holds), changed ones get a new identity, and studies share a folder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from request_dse.submission import read_bundle
from request_dse.submission.store import ValidationStore
from tests.submission.conftest import run_cli, write


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("emit")
    path = write(tmp, "keep", confirm={"enabled": True, "repeats": 2}, budget={"trials": 3})
    assert run_cli("tune", path, "-q").code == 0
    return path


def test_bundle_folders_carry_the_study_name(study: Path) -> None:
    folder = study.parent / "submissions" / "keep"
    names = [p.name for p in folder.iterdir()]
    assert names and all(n.startswith("keep-") for n in names)
    assert all(read_bundle(folder / n).id == n for n in names)


def test_a_rerun_with_nothing_to_do_keeps_bundles_and_their_validation(study: Path, tmp_path: Path) -> None:
    folder = study.parent / "submissions" / "keep"
    bundle = sorted(folder.iterdir())[0]
    store = tmp_path / "validations.jsonl"
    assert run_cli("validate", bundle, "--tolerance", "10", "--store", store).code in (0, 1)
    before = snapshot(folder)
    assert "validation.json" in {Path(k).name for k in before}
    assert run_cli("tune", study, "-q").code == 0                       # a resume with nothing to do
    assert run_cli("export", study).code == 0
    assert snapshot(folder) == before                                  # byte for byte, validation.json included
    assert ValidationStore(store).get(read_bundle(bundle).digest)["bundle"] == bundle.name
    board = tmp_path / "board.html"
    assert run_cli("scoreboard", folder, "-o", board, "--validations", store).code == 0
    assert '"badge":"functional"' in board.read_text() or '"badge":"reproduced"' in board.read_text()


def test_a_changed_bundle_gets_a_new_identity(study: Path, tmp_path: Path) -> None:
    copy = tmp_path / "project"
    shutil.copytree(study.parent, copy)
    folder = copy / "submissions" / "keep"
    old = {p.name: read_bundle(p).digest for p in folder.iterdir()}
    changed = copy / study.name
    changed.write_text(changed.read_text().replace("name: keep", "name: keep\ndescription: reworded"))
    assert run_cli("export", changed).code == 0
    new = {p.name: read_bundle(p).digest for p in folder.iterdir() if p.is_dir()}
    assert new.keys() == old.keys() and all(new[n] != old[n] for n in new)
    assert not any((folder / n / "validation.json").exists() for n in new)  # no verdict names the new content


def test_two_studies_share_a_folder_without_overwriting(study: Path, tmp_path: Path) -> None:
    other = write(study.parent, "other", confirm={"enabled": False}, budget={"trials": 2})
    assert run_cli("tune", other, "-q", "--no-export").code == 0
    shared = tmp_path / "shared"
    (shared).mkdir()
    (shared / "notes.txt").write_text("mine")
    assert run_cli("export", study, "--out", shared).code == 0
    first = snapshot(shared)
    assert run_cli("export", other, "--out", shared).code == 0
    studies = {json.loads((p / "submission.json").read_text())["study"]["name"] for p in shared.iterdir() if p.is_dir()}
    assert studies == {"keep", "other"}
    assert {k: v for k, v in snapshot(shared).items() if k.startswith("keep-")} == \
        {k: v for k, v in first.items() if k.startswith("keep-")}        # the first study's bundles untouched
    assert (shared / "notes.txt").read_text() == "mine"
