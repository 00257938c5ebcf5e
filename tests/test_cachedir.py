"""The shared cache stays within its size limit, evicting least recently used entries."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from request_dse.cachedir import entries, max_bytes, prune
from request_dse.errors import UserError
from request_dse.files import cached
from request_dse.results import ResultsCache


def _file(path: Path, size: int, age_s: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    t = time.time() - age_s
    os.utime(path, (t, t))
    return path


def test_least_recently_used_entries_go_first(tmp_path: Path) -> None:
    old = _file(tmp_path / "prepared" / "models" / "old.onnx", 4000, 7200)
    mid = _file(tmp_path / "results" / "ab" / "mid.json", 4000, 3600)
    new = _file(tmp_path / "prepared" / "models" / "new.onnx", 4000, 1800)
    done = prune(tmp_path, 8000)
    assert (done.entries, done.bytes_before, done.bytes_freed) == (1, 12000, 4000)
    assert not old.exists() and mid.exists() and new.exists()


def test_a_hit_makes_an_entry_recent(tmp_path: Path) -> None:
    results = ResultsCache(tmp_path / "results")
    results.put("ab" * 32, {"status": "ok", "metrics": {}})
    path = next((tmp_path / "results").rglob("*.json"))
    os.utime(path, (time.time() - 7200,) * 2)
    model = _file(tmp_path / "prepared" / "m.onnx", 10, 3600)
    assert results.get("ab" * 32) is not None  # the hit refreshes it
    assert cached(model, lambda tmp: None) == model
    assert min(e.used for e in entries(tmp_path)) > time.time() - 60


def test_a_tuning_database_is_evicted_whole(tmp_path: Path) -> None:
    db = tmp_path / "metaschedule" / "key1"
    _file(db / "database_workload.json", 3000, 7200)
    _file(db / "database_tuning_record.json", 3000, 7200)
    assert [e.path for e in entries(tmp_path)] == [db]
    prune(tmp_path, 0)
    assert not db.exists()


def test_entries_in_use_are_kept(tmp_path: Path) -> None:
    fresh = _file(tmp_path / "prepared" / "fresh.onnx", 4000, 5)
    assert prune(tmp_path, 0).entries == 0 and fresh.exists()


def test_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_DSE_CACHE_MAX_MB", "1.5")
    assert max_bytes() == 3 << 19
    monkeypatch.setenv("REQUEST_DSE_CACHE_MAX_MB", "lots")
    with pytest.raises(UserError, match="REQUEST_DSE_CACHE_MAX_MB"):
        max_bytes()


def test_cache_command(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path))
    _file(tmp_path / "prepared" / "old.onnx", 2 << 20, 7200)
    info = cli("cache", "info")
    assert info.code == 0 and "prepared" in info.out and "2.0 MB" in info.out
    pruned = cli("cache", "prune", "--max-mb", "1")
    assert pruned.code == 0 and "evicted 1 entry (2.0 MB)" in pruned.out


@pytest.mark.parametrize("text", ["inf", "nan", "1e400", "-1"])
def test_a_limit_that_is_no_finite_size_is_refused(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setenv("REQUEST_DSE_CACHE_MAX_MB", text)
    with pytest.raises(UserError, match=f"must be a finite number of megabytes in \\[0, 1073741824\\]; got '{text}'"):
        max_bytes()


def test_a_cache_that_is_a_file_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from request_dse.cachedir import cache_root

    (tmp_path / "file").write_text("x")
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path / "file"))
    with pytest.raises(UserError, match="REQUEST_DSE_CACHE: .*/file is not a folder"):
        cache_root()
