"""The validation store: the organizer's verdicts, keyed by content digest, latest first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from request_dse.errors import UserError
from request_dse.submission.store import ValidationStore, default_path


def test_the_latest_verdict_of_a_digest_counts(tmp_path: Path) -> None:
    store = ValidationStore(tmp_path / "org" / "validations.jsonl")
    store.add({"bundle_digest": "a" * 64, "status": "functional", "badges": ["available", "functional"]})
    store.add({"bundle_digest": "b" * 64, "status": "rejected", "badges": []})
    store.add({"bundle_digest": "a" * 64, "status": "reproduced", "badges": ["available", "functional", "reproduced"]})
    with open(store.path, "a") as f:
        f.write('{"bundle_digest": "c')  # a torn last line (a validator killed mid-write)
    assert store.get("a" * 64)["status"] == "reproduced"
    assert set(store.latest()) == {"a" * 64, "b" * 64} and store.get("c") is None
    with pytest.raises(ValueError, match="names no content"):
        store.add({"status": "reproduced"})


def test_where_it_lives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_DSE_VALIDATIONS", str(tmp_path / "v.jsonl"))
    assert default_path() == tmp_path / "v.jsonl"
    monkeypatch.delenv("REQUEST_DSE_VALIDATIONS")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "request-dse" / "validations.jsonl"
    with pytest.raises(UserError, match="must be a file"):
        ValidationStore(tmp_path)
    assert json.loads(json.dumps({"ok": True}))  # nothing read from an absent store
    assert ValidationStore(tmp_path / "absent.jsonl").latest() == {}
