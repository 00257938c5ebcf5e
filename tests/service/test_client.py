"""``request-dse submit`` before and without a server: what it refuses itself, in one line each."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from request_dse.testing.postgres import free_port
from tests.service.conftest import run_cli

TOKEN = "rdse_" + "x" * 43


def test_a_broken_bundle_is_refused_before_it_is_sent(tmp_path: Path, tiny_bundles: list[Path]) -> None:
    tampered = tmp_path / "tampered"
    shutil.copytree(tiny_bundles[0], tampered)
    (tampered / "README.md").write_text("changed\n")
    plain = tmp_path / "notes.txt"
    plain.write_text("hello")
    # nothing listens on this port: the refusals happen before any connection
    result = run_cli("submit", tampered, plain, "--server", f"http://127.0.0.1:{free_port()}", "--token", TOKEN)
    assert result.code == 2, result
    lines = result.out.splitlines()
    assert lines[0].startswith(f"{tampered}: refused before sending: ") and "(tampered)" in lines[0]
    assert lines[1].startswith(f"{plain}: refused before sending: ") and "not_a_bundle" in lines[1]
    assert lines[2] == "0 accepted (0 already there), 2 refused"


def test_an_unreachable_server_and_a_bad_url_are_one_line(tiny_bundles: list[Path],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUEST_DSE_TOKEN", raising=False)
    down = run_cli("submit", tiny_bundles[0], "--server", f"http://127.0.0.1:{free_port()}", "--token", TOKEN)
    assert down.code == 2 and down.err.startswith("request-dse: error: http://127.0.0.1:") and \
        "cannot reach the server" in down.err and down.err.count("\n") == 1, down
    bad = run_cli("submit", tiny_bundles[0], "--server", "ftp://example.org", "--token", TOKEN)
    assert bad.code == 2 and bad.err.strip() == ("request-dse: error: --server 'ftp://example.org': must be an "
                                                 "http:// or https:// URL")
    missing = run_cli("submit", tiny_bundles[0], "--server", "http://127.0.0.1:1")
    assert missing.code == 2 and "--token" in missing.err
