"""A full disk under the study's work dir: a clear error, and nothing recorded is lost."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import FAST_MEASURE
from tests.reliability._procs import Tree

SIZE_MB = 16


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real filesystem of SIZE_MB megabytes (tmpfs), so writes fail with ENOSPC."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE_MB}m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here (needs root or CAP_SYS_ADMIN): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 16))
                f.flush()
        except OSError:
            pass
    return filler


def _tune(path: Path, tmp: Path, trials: int) -> tuple[int, str, str]:
    return Tree(["tune", str(path), "-q", "--trials", str(trials), "--no-export"], tmp).wait(600)


def _report(path: Path, tmp: Path) -> dict:  # type: ignore[type-arg]
    code, out, err = Tree(["report", str(path), "--json"], tmp).wait(120)
    assert code == 0, err
    return json.loads(out)


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["journal", "sqlite"])
def test_full_disk_loses_nothing(write_study, small_disk: Path, tmp_path: Path, storage: str) -> None:  # type: ignore[no-untyped-def]
    path = write_study(f"full-{storage}", work_dir=str(small_disk / "work"), storage=storage,
                       sampler={"name": "grid"}, measure=dict(FAST_MEASURE))
    tmp = tmp_path / "tmpdir"
    code, _, err = _tune(path, tmp, 2)
    assert code == 0, err
    before = _report(path, tmp)["trials"]
    assert len(before) == 2

    filler = _fill(small_disk)
    code, out, err = _tune(path, tmp, 4)
    assert code == 2, (out, err)
    assert "Traceback" not in err and "No space left on device" in err, err
    assert len(err.strip().splitlines()) == 1, err

    filler.unlink()
    assert _report(path, tmp)["trials"][:2] == before  # nothing recorded was lost
    code, _, err = _tune(path, tmp, 4)
    assert code == 0, err
    after = _report(path, tmp)["trials"]
    assert [t for t in after if t["status"] != "interrupted"][:2] == before
    assert len([t for t in after if t["status"] != "interrupted"]) == 4
