"""``request-dse env list|prune``, and what ``doctor`` says about the installer and its registry."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from request_dse.envs import EnvError, ensure, failure, find, resolve, spec_for
from request_dse.envs.store import USED
from request_dse.testing.index import local_index
from request_dse.testing.probe import DISTRIBUTION, MODULE


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("REQUEST_DSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_list_shows_environments_and_failures_and_prune_trims_them(cache: Path, tmp_path: Path, cli: Callable[..., Any],
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with local_index(tmp_path / "index", DISTRIBUTION, MODULE, ["1.0"], missing=["3.0"]) as index:
        monkeypatch.setenv("UV_EXTRA_INDEX_URL", index.url)
        good = resolve(spec_for("probe 1.0", DISTRIBUTION, "1.0"))
        env, _ = ensure(good)
        bad = resolve(spec_for("probe 3.0", DISTRIBUTION, "3.0"))
        with pytest.raises(EnvError):
            ensure(bad)
    listed = cli("env", "list")
    assert listed.code == 0
    assert f"{good.id}  probe 1.0" in listed.out and "MB" in listed.out
    assert f"failed: {bad.id} (probe 3.0)" in listed.out and "could not be created: Failed to download" in listed.out

    assert cli("env", "prune").code == 2  # says what to remove
    assert "removed 0 environment(s) and 1 failure record(s)" in cli("env", "prune", "--all").out
    assert find(good) is not None  # used a moment ago: kept whatever is asked
    assert failure(bad) is None  # --all forgot the failure
    os.utime(env.root / USED, (0, 0))
    assert "removed 0 environment(s)" in cli("env", "prune", "--unused-days", "100000").out
    pruned = cli("env", "prune", "--unused-days", "1")
    assert "removed 1 environment(s) and 0 failure record(s)" in pruned.out and good.id in pruned.out
    assert find(good) is None and not env.root.exists()
    assert "  none" in cli("env", "list").out


def test_doctor_says_whether_the_installer_reaches_its_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    from request_dse.cli.doctor import _environment_lines  # the end of doctor's output (tests/cli/test_cli.py)

    lines = _environment_lines()
    assert lines[0].startswith("installer: uv 0.13.")
    assert lines[1].startswith("registry: reachable: resolved packaging==")
    monkeypatch.setenv("UV_INDEX_URL", "http://127.0.0.1:9/simple")  # nothing listens there
    lines = _environment_lines()
    assert lines[1].startswith("registry: not reachable:") and "127.0.0.1:9" in lines[1]
    monkeypatch.setenv("REQUEST_DSE_UV", "/nonexistent/uv")
    assert _environment_lines() == ["installer: uv does not run (/nonexistent/uv): library versions cannot be "
                                    "explored (pip install uv)"]
