"""TVM RPC endpoints: ``host:port`` parsing, a reachability probe, and the tracker's summary.

The tracker speaks a tiny protocol (a magic number, then length-prefixed JSON messages); it
is spoken here directly so that checking a target (``request-dse doctor``, loading a study)
costs a TCP round trip, not an ``import tvm``.
"""

from __future__ import annotations

import json
import socket
import struct
from dataclasses import dataclass
from typing import Any

#: ``tvm.rpc.base.RPC_TRACKER_MAGIC`` and ``TrackerCode.SUMMARY`` / ``SUCCESS``.
TRACKER_MAGIC = 0x2F271
_SUMMARY, _SUCCESS = 6, 0


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def parse_endpoint(text: str) -> Endpoint:
    """``host:port`` (``[v6addr]:port`` for IPv6) -> Endpoint; ValueError names the rule."""
    host, sep, port = text.strip().rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"must be host:port with a port in [1, 65535]; got {text!r}")
    return Endpoint(host, int(port))


def probe(endpoint: Endpoint, timeout_s: float = 2.0) -> str | None:
    """Why a TCP connection to ``endpoint`` fails, or None when it is accepted."""
    try:
        with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s):
            return None
    except OSError as exc:
        return f"{endpoint} is not reachable ({exc.strerror or exc.__class__.__name__})"


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError("the tracker closed the connection")
        data += chunk
    return data


def tracker_summary(endpoint: Endpoint, timeout_s: float = 5.0) -> dict[str, Any]:
    """The tracker's ``{"queue_info": {key: {free, pending}}, "server_info": [...]}``; raises OSError."""
    with socket.create_connection((endpoint.host, endpoint.port), timeout=timeout_s) as sock:
        sock.sendall(struct.pack("<i", TRACKER_MAGIC))
        if struct.unpack("<i", _recv_exact(sock, 4))[0] != TRACKER_MAGIC:
            raise ConnectionError(f"{endpoint} is not a TVM RPC tracker")
        body = json.dumps([_SUMMARY]).encode()
        sock.sendall(struct.pack("<i", len(body)) + body)
        size = struct.unpack("<i", _recv_exact(sock, 4))[0]
        reply = json.loads(_recv_exact(sock, size))
    if not isinstance(reply, list) or reply[0] != _SUCCESS:
        raise ConnectionError(f"unexpected reply from the tracker at {endpoint}: {reply!r}")
    return reply[1]


def servers_for(summary: dict[str, Any], key: str) -> tuple[int, int]:
    """(servers registered under ``key``, of which free) in a tracker summary."""
    registered = sum(1 for s in summary.get("server_info", []) if s.get("key") == f"server:{key}")
    free = int(summary.get("queue_info", {}).get(key, {}).get("free", 0))
    return registered, free


def tracker_problem(endpoint: Endpoint, key: str, timeout_s: float = 5.0) -> str | None:
    """Why no measurement can be had from ``key`` at the tracker now, or None."""
    try:
        summary = tracker_summary(endpoint, timeout_s)
    except (OSError, ValueError) as exc:
        return f"the RPC tracker at {endpoint} does not answer ({exc})"
    registered, _ = servers_for(summary, key)
    if registered == 0:
        keys = sorted({s.get("key", "")[len("server:"):] for s in summary.get("server_info", [])} - {""})
        return (f"no RPC server is registered under key {key!r} at the tracker {endpoint} "
                f"(keys there: {', '.join(keys) or 'none'})")
    return None
