"""The service's database: tokens, entries, the uploads that made them, validation jobs and
their results. Alembic migrations (``migrations/versions/``) create exactly these tables;
``tests/service/test_database.py`` holds the two to each other.

Times are naive UTC. JSON documents are stored as text (the same on SQLite and PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

#: One row: the revision, bumped by every change the scoreboard shows (pages poll it).
meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

tokens = Table(
    "tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),                 # participant | organizer
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created", DateTime, nullable=False),
    Column("revoked", DateTime, nullable=True),
)

entries = Table(
    "entries", metadata,
    Column("id", String(16), primary_key=True),                 # from the track and the content digest
    Column("track", String(64), nullable=False),
    Column("digest", String(64), nullable=False),               # sha256 of the bundle's checksums file
    Column("participant", String(64), nullable=False),          # the token name that submitted it first
    Column("bundle_id", String(200), nullable=False),           # the bundle's own id
    Column("archive", String(200), nullable=False),             # file name in the bundle store
    Column("size", Integer, nullable=False),
    Column("submission", Text, nullable=False),                 # submission.json
    Column("system", Text, nullable=False),                     # system.json
    Column("created", DateTime, nullable=False),
    Column("badge", String(16), nullable=False),                # pending | available | functional | reproduced | failed
    Column("reason", Text, nullable=False, default=""),
    Column("validated", DateTime, nullable=True),
    Column("withdrawn", Boolean, nullable=False, default=False),
    UniqueConstraint("track", "digest", name="uq_entries_track_digest"),
)

submissions = Table(
    "submissions", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", String(16), ForeignKey("entries.id"), nullable=False),
    Column("participant", String(64), nullable=False),
    Column("received", DateTime, nullable=False),
    Column("size", Integer, nullable=False),
    Column("outcome", String(16), nullable=False),              # accepted | duplicate
    Index("ix_submissions_participant", "participant"),
)

jobs = Table(
    "jobs", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", String(16), ForeignKey("entries.id"), nullable=False),
    Column("target", String(64), nullable=False),
    Column("state", String(16), nullable=False),                # queued | running | done
    Column("attempts", Integer, nullable=False, default=0),
    Column("created", DateTime, nullable=False),
    Column("started", DateTime, nullable=True),
    Column("finished", DateTime, nullable=True),
    Column("owner", String(200), nullable=True),                # host:pid:start of the server running it
    Column("heartbeat", Float, nullable=True),                  # epoch seconds of the owner's last sign of life
    Column("note", Text, nullable=False, default=""),
    Column("requested_by", String(64), nullable=False),
    Index("ix_jobs_state_target", "state", "target"),
    Index("ix_jobs_entry", "entry_id"),
)

validations = Table(
    "validations", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("jobs.id"), nullable=False, unique=True),
    Column("entry_id", String(16), ForeignKey("entries.id"), nullable=False),
    Column("status", String(16), nullable=False),               # available | functional | reproduced | failed
    Column("reason", Text, nullable=False, default=""),
    Column("result", Text, nullable=False),                     # checks, measured figures, info (JSON)
    Column("isolation", Text, nullable=False),
    Column("node", String(200), nullable=False),
    Column("finished", DateTime, nullable=False),
    Index("ix_validations_entry", "entry_id"),
)
