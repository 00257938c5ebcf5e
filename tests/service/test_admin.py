"""``request-dse admin``: tokens shown once and stored hashed, revalidation, the listing, and the
scoreboard exported as a file -- on the tournament's database, with no server running."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import sqlalchemy as sa

from request_dse.service import load_tournament
from request_dse.service.database import connect
from request_dse.service.intake import accept
from request_dse.service.tables import jobs, tokens
from request_dse.service.tokens import Principal
from tests.service.conftest import archive, run_cli, write_tournament


def test_a_token_is_printed_once_alone_on_the_last_line_and_stored_hashed(tmp_path: Path) -> None:
    tournament = write_tournament(tmp_path)
    added = run_cli("admin", tournament, "token", "add", "alice")
    assert added.code == 0 and re.fullmatch(r"rdse_[A-Za-z0-9_-]{43}\n", added.out), added
    assert "shown only now" in added.err
    token = added.out.strip()
    again = run_cli("admin", tournament, "token", "add", "alice")
    assert again.code == 2 and again.err.strip() == ("request-dse: error: token 'alice' exists; revoke it first "
                                                     "(`admin ... token revoke alice`)")
    assert run_cli("admin", tournament, "token", "add", "Bad name!").code == 2
    organizer = run_cli("admin", tournament, "token", "add", "org", "--role", "organizer")
    assert organizer.code == 0
    listed = run_cli("admin", tournament, "list")
    assert listed.code == 0 and "alice  participant" in listed.out and "org    organizer" in listed.out
    assert token not in listed.out and "rdse_" not in listed.out
    assert run_cli("admin", tournament, "token", "revoke", "alice").code == 0
    assert run_cli("admin", tournament, "token", "revoke", "alice").err.strip() == \
        "request-dse: error: no live token named 'alice'"
    engine = connect(load_tournament(tournament).database)
    with engine.connect() as conn:
        stored = [r.token_hash for r in conn.execute(sa.select(tokens.c.token_hash))]
    engine.dispose()
    assert token not in stored and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in stored)


def test_revalidate_list_and_export_work_on_the_database(tmp_path: Path, tiny_bundles: list[Path]) -> None:
    tournament = write_tournament(tmp_path / "t")
    t = load_tournament(tournament)
    engine = connect(t.database)
    upload = tmp_path / "upload"
    shutil.copyfile(archive(tiny_bundles[0], tmp_path), upload)
    entry = accept(engine, t, Principal("alice", "participant"), upload, upload.stat().st_size).entry
    listed = run_cli("admin", tournament, "list")
    assert re.search(rf"{entry}\s+digits-cpu\s+alice\s+pending", listed.out) and "jobs: 1 queued" in listed.out
    assert run_cli("admin", tournament, "revalidate", entry[:6]).out.strip() == \
        f"entry {entry}: validation job 1 queued"  # the job already waiting is the one
    with engine.begin() as conn:
        conn.execute(jobs.update().values(state="done"))
    queued = run_cli("admin", tournament, "revalidate", entry[:6])
    assert queued.code == 0 and queued.out.strip() == f"entry {entry}: validation job 2 queued"
    for key, rule in (("zz", "give at least 4 characters"), ("ffffffff", "no entry 'ffffffff'")):
        refused = run_cli("admin", tournament, "revalidate", key)
        assert refused.code == 2 and rule in refused.err and refused.err.count("\n") == 1
    out = tmp_path / "board" / "scoreboard.html"
    exported = run_cli("admin", tournament, "export", "-o", out, "--url", "https://tournament.example.org")
    assert exported.code == 0, exported
    html = out.read_text()
    assert f'"id":"{entry}"' in html and '"badge":"pending"' in html and "api/v1/events" not in html
    assert 'href="https://tournament.example.org/api/v1/entries"' in html
    engine.dispose()
