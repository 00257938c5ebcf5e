"""The study in docs/workloads.md runs as written on a user's model, with and without labels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.workloads.user_models import small_cnn

DOC = REPO / "docs" / "workloads.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", DOC.read_text(), re.S)


def _project(tmp_path: Path, labels: bool) -> Path:
    """A project folder with the doc's study in studies/ and a model at the paths it names."""
    (tmp_path / ".git").mkdir()  # the project root: its tracking store goes to tmp_path/mlflow
    study = next(b for b in _blocks("yaml") if b.startswith("name: my-classifier"))
    doc = yaml.safe_load(study)
    if not labels:
        doc.update(yaml.safe_load(next(b for b in _blocks("yaml") if "model_size_bytes" in b)))
    path = tmp_path / "studies" / "my-classifier.yaml"
    path.parent.mkdir()
    path.write_text(study if labels else yaml.safe_dump(doc))
    onnx_path, data_path = small_cnn(tmp_path / "studies" / "models", "my-classifier", labels=labels)
    assert (onnx_path.relative_to(path.parent).as_posix(), data_path.relative_to(path.parent).as_posix()) == (
        doc["workload"]["onnx"], doc["workload"]["data"])
    return path


@pytest.mark.slow
def test_the_documented_study_runs_as_written(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    _project(tmp_path, labels=True)
    monkeypatch.chdir(tmp_path)
    commands = [line.split("#")[0].split()[1:] for block in _blocks("sh") for line in block.splitlines()
                if line.startswith("request-dse ") and "my-classifier" in line]
    assert [c[0] for c in commands] == ["space", "tune", "report"]
    space = cli(*commands[0])
    assert space.code == 0 and "12 distinct candidates" in space.out, space
    tuned = cli(*commands[1])
    assert tuned.code == 0, tuned
    assert "12 trials measured (12 ok" in tuned.out, tuned.out
    report = cli(*commands[2])
    assert report.code == 0 and "workload my-classifier" in report.out, report


def test_without_labels_the_documented_objectives_load(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = _project(tmp_path, labels=False)
    space = cli("space", path)
    assert space.code == 0 and "12 distinct candidates" in space.out, space
    doc = yaml.safe_load(path.read_text())
    doc.pop("constraints")  # the accuracy constraint is refused without labels, like an objective
    doc["constraints"] = ["accuracy_top1 >= 0.5"]
    path.write_text(yaml.safe_dump(doc))
    refused = cli("space", path)
    assert refused.code == 2 and "accuracy_top1 needs labels" in refused.err, refused
