"""``request-dse serve``: loopback unless told otherwise, what another address exposes, a busy port."""

from __future__ import annotations

import socket
from pathlib import Path

from request_dse.service.server import exposure, is_loopback
from tests.service.conftest import run_cli, write_tournament


def test_loopback_says_nothing_and_any_other_address_says_what_it_exposes() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")
    assert exposure("127.0.0.1", 8470) == []
    text = "\n".join(exposure("0.0.0.0", 8470))
    assert "0.0.0.0:8470: reachable from other machines" in text
    for exposed in ("scoreboard", "bundle archives", "/api/v1/entries", "submissions", "organizers", "TLS",
                    "docs/service.md"):
        assert exposed in text


def test_serve_defaults_to_loopback_and_port_8470() -> None:
    result = run_cli("serve", "--help")
    text = " ".join(result.out.split())
    assert result.code == 0 and "[default: 127.0.0.1]" in text and "[default: 8470;" in text


def test_a_busy_port_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    tournament = write_tournament(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = run_cli("serve", tournament, "--port", port)
    assert result.code == 2, result
    assert result.err.startswith(f"request-dse: error: 127.0.0.1:{port}: cannot listen there (")
    assert result.err.count("\n") == 1 and "choose another --port" in result.err
