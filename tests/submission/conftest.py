"""A small real study run once for the submission tests: tune -> confirmed bundles."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST_MEASURE, CliResult, run_cli, study_doc


def write(tmp: Path, name: str, **overrides: object) -> Path:
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(study_doc(name, **overrides)))
    return path


@pytest.fixture(scope="session")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, CliResult, list[Path]]:
    """A four-trial ONNX Runtime study with the confirm phase on: (study file, tune output, bundles)."""
    tmp = tmp_path_factory.mktemp("tuned")
    study = write(tmp, "sub", confirm={"enabled": True, "repeats": 2}, budget={"trials": 4},
                  measure={**FAST_MEASURE, "min_runs": 20})
    result = run_cli("tune", study, "-q")
    assert result.code == 0, result
    bundles = sorted(p for p in (tmp / "submissions" / "sub").iterdir() if p.is_dir())
    assert bundles, result
    return study, result, bundles


@pytest.fixture
def bundle_copy(tuned: tuple[Path, CliResult, list[Path]], tmp_path: Path) -> Callable[[], Path]:
    """A fresh copy of the study's first bundle, to tamper with."""

    def copy() -> Path:
        dest = tmp_path / f"copy{len(list(tmp_path.iterdir()))}" / tuned[2][0].name
        shutil.copytree(tuned[2][0], dest, symlinks=True)
        return dest

    return copy
