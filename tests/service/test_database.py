"""The service's database on SQLite and PostgreSQL: Alembic's migrations create exactly the schema
the code uses, run once however many processes start at once, and tokens are stored hashed."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from request_dse.service.database import connect, revision
from request_dse.service.tables import metadata, tokens
from request_dse.service.tokens import add_token, principal, revoke_token
from request_dse.testing.postgres import PostgresServer
from tests.service.conftest import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state' / 'tournament.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return fresh_database(server, f"db_{tmp_path.name.lower()[-40:].replace('-', '_')}")


def test_migrations_make_the_schema_the_code_uses_once_however_many_start(url: str) -> None:
    engines: list[sa.engine.Engine] = []
    errors: list[BaseException] = []

    def start() -> None:
        try:
            engines.append(connect(url))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(engines) == 3
    engine = engines[0]
    with engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one() == "0001"
        assert revision(conn) == 0
    connect(url).dispose()  # again: nothing to do
    for e in engines:
        e.dispose()


def test_tokens_are_stored_hashed_and_revoked_at_once(url: str) -> None:
    engine = connect(url)
    token = add_token(engine, "alice")
    assert token.startswith("rdse_") and len(token) == 48
    with engine.connect() as conn:
        (stored,) = conn.execute(sa.select(tokens.c.token_hash)).scalars()
        assert stored == hashlib.sha256(token.encode()).hexdigest() and token not in stored
        assert principal(conn, token).name == "alice"
        assert principal(conn, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    revoke_token(engine, "alice")
    with engine.connect() as conn:
        assert principal(conn, token) is None
    again = add_token(engine, "alice")
    with engine.connect() as conn:
        assert principal(conn, again).name == "alice" and principal(conn, token) is None
    engine.dispose()
