"""Opening the service's database: SQLite (embedded default) or PostgreSQL, migrated by Alembic.

SQLite runs in WAL mode with a busy timeout, so the server's request threads, its validation
workers and ``request-dse admin`` share one file; PostgreSQL is any SQLAlchemy URL
(``postgresql+psycopg2://user@host/db``; passwords through libpq's ``~/.pgpass`` or ``PGPASSWORD``).
:func:`migrate` brings any database to the current schema, one process at a time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from request_dse.errors import UserError
from request_dse.files import lock
from request_dse.service.tables import meta

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def utcnow() -> dt.datetime:
    """Now, as the database stores times: naive UTC, whole microseconds."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # transactions begin where _sqlite_begin says, not in the driver
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an accepted submission survives a power cut, not only a crash
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_begin(conn: Connection) -> None:
    # a writer takes the write lock at once: a read-then-write transaction that upgrades later
    # fails at once ("database is locked") when another writer went first
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("writing") else "BEGIN")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for any other database)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def open_engine(url: str) -> Engine:
    """An engine for ``url``; a SQLite file's folder is created. Bad URLs are a UserError."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise UserError(f"database {url!r}: not a database URL ({exc})") from None
    path = sqlite_path(url)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{path.parent}: cannot create the database folder ({exc.strerror or exc})") from None
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        sa.event.listen(engine, "begin", _sqlite_begin)
        return engine
    try:
        return sa.create_engine(parsed, pool_pre_ping=True, pool_size=8, max_overflow=8)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise UserError(f"database {parsed.render_as_string(hide_password=True)}: {exc}") from None


def migrate(engine: Engine) -> None:
    """Create or upgrade the schema to the newest revision (concurrent callers wait in turn)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    path = sqlite_path(str(engine.url))
    try:
        if path is not None:
            with lock(path, suffix=".migrate.lock"), engine.begin() as conn:
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        else:
            with engine.begin() as conn:
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(847001)"))
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
    except sa.exc.OperationalError as exc:
        where = path or engine.url.render_as_string(hide_password=True)
        raise UserError(f"database {where}: cannot be opened ({str(exc.orig).splitlines()[0]})") from None


def connect(url: str) -> Engine:
    """An engine on a migrated database."""
    engine = open_engine(url)
    migrate(engine)
    return engine


@contextlib.contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A transaction that writes: committed at the end of the block, rolled back on an exception."""
    with engine.connect() as conn:
        conn.execution_options(writing=True)
        with conn.begin():
            yield conn


def bump(conn: Connection) -> None:
    """Mark a change the scoreboard shows (live pages reload when the revision moves)."""
    conn.execute(meta.update().where(meta.c.key == "revision").values(value=meta.c.value + 1))


def revision(conn: Connection) -> int:
    return int(conn.execute(sa.select(meta.c.value).where(meta.c.key == "revision")).scalar_one())
