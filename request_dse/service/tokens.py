"""Access tokens: random, shown once, stored as their sha256; a name and a role each.

A token is ``rdse_`` and 43 URL-safe characters (256 random bits), so a fast hash is enough:
guessing one is out of reach, and the database never holds a token that works.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from request_dse.errors import UserError
from request_dse.service.database import utcnow, writing
from request_dse.service.tables import tokens

ROLES = ("participant", "organizer")
PREFIX = "rdse_"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class Principal:
    """Who sent a request: the token's name and role."""

    name: str
    role: str

    @property
    def organizer(self) -> bool:
        return self.role == "organizer"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise UserError(f"token name {name!r}: must be 1-64 letters, digits, '.', '_' or '-', starting with a "
                        "letter or digit")
    return name


def add_token(engine: Engine, name: str, role: str = "participant") -> str:
    """A new token for ``name``: returned once, stored hashed. A name holds one live token."""
    check_name(name)
    if role not in ROLES:
        raise UserError(f"role {role!r}: must be one of {', '.join(ROLES)}")
    token = PREFIX + secrets.token_urlsafe(32)
    with writing(engine) as conn:
        row = conn.execute(sa.select(tokens.c.revoked, tokens.c.role).where(tokens.c.name == name)).first()
        if row is not None and row.revoked is None:
            raise UserError(f"token {name!r} exists; revoke it first (`admin ... token revoke {name}`)")
        if row is not None and row.role != role:
            raise UserError(f"{name!r} was a {row.role}; a name keeps its role (choose another name)")
        if row is None:
            conn.execute(tokens.insert().values(name=name, role=role, token_hash=token_hash(token),
                                                created=utcnow(), revoked=None))
        else:
            conn.execute(tokens.update().where(tokens.c.name == name)
                         .values(token_hash=token_hash(token), created=utcnow(), revoked=None))
    return token


def revoke_token(engine: Engine, name: str) -> None:
    with writing(engine) as conn:
        done = conn.execute(tokens.update().where(tokens.c.name == name, tokens.c.revoked.is_(None))
                            .values(revoked=utcnow()))
        if done.rowcount == 0:
            raise UserError(f"no live token named {name!r}")


def principal(conn: Connection, token: str) -> Principal | None:
    """The holder of ``token``; None for an unknown, malformed or revoked one."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = conn.execute(sa.select(tokens.c.name, tokens.c.role)
                       .where(tokens.c.token_hash == token_hash(token), tokens.c.revoked.is_(None))).first()
    return Principal(row.name, row.role) if row else None


def list_tokens(conn: Connection) -> list[dict[str, object]]:
    rows = conn.execute(sa.select(tokens.c.name, tokens.c.role, tokens.c.created, tokens.c.revoked)
                        .order_by(tokens.c.name)).all()
    return [dict(r._mapping) for r in rows]
