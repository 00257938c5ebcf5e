"""Who is asking, and how often: ``Authorization: Bearer <token>`` checked on the server for every
write and every private read, roles checked server-side, a rate per token, and a rate per client
address for failed attempts (a token cannot be guessed, but a flood of guesses costs lookups).
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from fastapi import Depends, HTTPException, Request

from request_dse.service.tokens import Principal, principal

FAILED_PER_MINUTE = 60


class RateLimiter:
    """Token buckets: ``capacity`` requests at once, refilled at ``capacity / period_s`` per second."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, capacity: int, period_s: float) -> float:
        """0 when one more request is allowed now, else the seconds until it is."""
        now = time.monotonic()
        rate = capacity / period_s
        with self._lock:
            level, last = self._buckets.get(key, (float(capacity), now))
            level = min(float(capacity), level + (now - last) * rate)
            if level >= 1.0:
                self._buckets[key] = (level - 1.0, now)
                return 0.0
            self._buckets[key] = (level, now)
            return (1.0 - level) / rate


def too_many(wait: float, what: str) -> HTTPException:
    return HTTPException(429, f"too many {what}: try again in {math.ceil(wait)} s",
                         headers={"Retry-After": str(math.ceil(wait))})


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def participant(request: Request) -> Principal:
    """The token's holder (401 without a valid token; 429 past the tournament's rate)."""
    service: Any = request.app.state.service
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    who = None
    if scheme.lower() == "bearer" and token.strip():
        with service.engine.connect() as conn:
            who = principal(conn, token.strip())
    if who is None:
        wait = service.limiter.take(f"failed:{_client(request)}", FAILED_PER_MINUTE, 60.0)
        if wait:
            raise too_many(wait, "requests with a missing or unknown token")
        rule = "this needs a token: send 'Authorization: Bearer <token>'" if not header else \
            "unknown or revoked token"
        raise HTTPException(401, rule, headers={"WWW-Authenticate": "Bearer"})
    limits = service.tournament.limits
    wait = service.limiter.take(f"requests:{who.name}", limits.requests_per_minute, 60.0)
    if wait:
        raise too_many(wait, f"requests for token {who.name!r} (limit {limits.requests_per_minute} a minute)")
    return who


def organizer(who: Principal = Depends(participant)) -> Principal:  # noqa: B008 - FastAPI's dependency idiom
    if not who.organizer:
        raise HTTPException(403, "organizers only: this token is a participant's")
    return who
