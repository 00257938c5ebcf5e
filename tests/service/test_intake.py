"""Intake on PostgreSQL: two participants submit at once with ``request-dse submit``, one of them
the same bundle twice in parallel; every bundle becomes one entry of its sender and is validated."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from request_dse.service.tables import entries, submissions
from request_dse.testing.postgres import PostgresServer
from request_dse.testing.service import ServerProcess
from tests.service.conftest import add_token, fresh_database, variant, write_tournament

pytestmark = pytest.mark.slow  # four real validations


def test_two_participants_submitting_at_once_on_postgresql(tmp_path: Path, tiny_bundles: list[Path],
                                                           postgres: PostgresServer) -> None:
    url = fresh_database(postgres, "intake")
    tournament = write_tournament(tmp_path, database=url, validation={"tolerance": 3.0})
    assert yaml.safe_load(tournament.read_text())["database"].startswith("postgresql")
    alice, bob = add_token(tournament, "alice"), add_token(tournament, "bob")
    mine = {who: [variant(tiny_bundles[i % len(tiny_bundles)], tmp_path, f"{who}{i}") for i in range(2)]
            for who in ("alice", "bob")}
    server = ServerProcess(tournament).start()
    try:
        runs = [(alice, mine["alice"]), (bob, mine["bob"]), (alice, mine["alice"][:1])]
        procs = [subprocess.Popen([sys.executable, "-m", "request_dse", "submit", *map(str, paths), "--server",
                                   server.url, "--token", token], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                  text=True) for token, paths in runs]
        outs = [p.communicate(timeout=120)[0] for p in procs]
        assert [p.returncode for p in procs] == [0, 0, 0], outs
        found = server.get("/api/v1/entries")
        assert sorted(e["participant"] for e in found) == ["alice", "alice", "bob", "bob"], found
        assert sum(out.count("accepted as entry") for out in outs) == 4
        assert sum(out.count("already entry") for out in outs) == 1, outs
        server.wait_for("the four validations", lambda: all(e["badge"] != "pending"
                                                            for e in server.get("/api/v1/entries")), 180)
        assert {e["badge"] for e in server.get("/api/v1/entries")} == {"reproduced"}
    finally:
        server.stop()
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        uploads = conn.execute(sa.select(submissions.c.entry_id, submissions.c.outcome)).all()
        assert sorted(o for _, o in uploads) == ["accepted"] * 4 + ["duplicate"]
        assert conn.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one() == 4
    engine.dispose()
