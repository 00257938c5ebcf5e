"""The first schema: tokens, entries, submissions, jobs, validations, and the page revision.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("meta", sa.Column("key", sa.String(64), primary_key=True),
                    sa.Column("value", sa.Integer, nullable=False))
    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.DateTime, nullable=True),
    )
    op.create_table(
        "entries",
        sa.Column("id", sa.String(16), primary_key=True),
        sa.Column("track", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("participant", sa.String(64), nullable=False),
        sa.Column("bundle_id", sa.String(200), nullable=False),
        sa.Column("archive", sa.String(200), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("submission", sa.Text, nullable=False),
        sa.Column("system", sa.Text, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("badge", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("validated", sa.DateTime, nullable=True),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.UniqueConstraint("track", "digest", name="uq_entries_track_digest"),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(16), sa.ForeignKey("entries.id"), nullable=False),
        sa.Column("participant", sa.String(64), nullable=False),
        sa.Column("received", sa.DateTime, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
    )
    op.create_index("ix_submissions_participant", "submissions", ["participant"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entry_id", sa.String(16), sa.ForeignKey("entries.id"), nullable=False),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created", sa.DateTime, nullable=False),
        sa.Column("started", sa.DateTime, nullable=True),
        sa.Column("finished", sa.DateTime, nullable=True),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("heartbeat", sa.Float, nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("requested_by", sa.String(64), nullable=False),
    )
    op.create_index("ix_jobs_state_target", "jobs", ["state", "target"])
    op.create_index("ix_jobs_entry", "jobs", ["entry_id"])
    op.create_table(
        "validations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.Integer, sa.ForeignKey("jobs.id"), nullable=False, unique=True),
        sa.Column("entry_id", sa.String(16), sa.ForeignKey("entries.id"), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("result", sa.Text, nullable=False),
        sa.Column("isolation", sa.Text, nullable=False),
        sa.Column("node", sa.String(200), nullable=False),
        sa.Column("finished", sa.DateTime, nullable=False),
    )
    op.create_index("ix_validations_entry", "validations", ["entry_id"])
    op.execute(sa.text("INSERT INTO meta (key, value) VALUES ('revision', 0)"))


def downgrade() -> None:
    for table in ("validations", "jobs", "submissions", "entries", "tokens", "meta"):
        op.drop_table(table)
