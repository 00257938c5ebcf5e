"""``request-dse serve``: the tournament's application under uvicorn, on a socket bound first (a
busy port is one line, not a traceback), on 127.0.0.1 unless another address is asked for --
and then it says what that exposes."""

from __future__ import annotations

import ipaddress
import logging
import signal
import socket
from collections.abc import Callable

from request_dse.errors import UserError
from request_dse.service.app import create_app
from request_dse.service.database import sqlite_path
from request_dse.service.sandbox import bubblewrap
from request_dse.service.tournament import Tournament

DEFAULT_PORT = 8470


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or a UserError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UserError(f"--host {host}: not an address of this machine ({exc.strerror})") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise UserError(f"{host}:{port}: cannot listen there ({exc.strerror}); another server may be running: "
                        "choose another --port") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def exposure(host: str, port: int) -> list[str]:
    """What a bind on ``host`` exposes, for the organizer to read (nothing to say on loopback)."""
    if is_loopback(host):
        return []
    return [f"warning: listening on {host}:{port}: reachable from other machines.",
            "  Public to anyone who reaches it: the scoreboard, entry pages, the entries' bundle archives and the "
            "read API (/api/v1/entries, /tracks, /events, /openapi.json).",
            "  With a token: submissions (participants) and revalidation, all jobs and uploads (organizers). Tokens "
            "travel in clear text without TLS:",
            "  serve on 127.0.0.1 behind a reverse proxy with TLS (docs/service.md, 'Deployment')."]


def describe(tournament: Tournament) -> list[str]:
    db = sqlite_path(tournament.database)
    database = f"SQLite {db}" if db else tournament.database.split("@")[-1]
    settings = tournament.validation
    if settings.workers == 0:
        validation = "off in this server (another server validates)"
    elif settings.executor == "ray":
        validation = f"Ray tasks on each target's node ({settings.ray_address or 'RAY_ADDRESS or a local instance'})"
    else:
        found, version = bubblewrap()
        box = version if found and settings.sandbox != "process" else f"process sandbox ({version})"
        validation = f"on this machine, one job per target at a time, sandbox: {box}"
    tracks = ", ".join(f"{t.name} ({t.workload} on {t.target})" for t in tournament.tracks)
    return [f"tournament {tournament.name}: {len(tournament.tracks)} track(s): {tracks}",
            f"database: {database}; bundle store: {tournament.store}", f"validation: {validation}"]


def serve(tournament: Tournament, host: str = "127.0.0.1", port: int = DEFAULT_PORT, *,
          echo: Callable[[str], None] = print, log_level: str = "info") -> None:
    """Run the service until interrupted (Ctrl-C, SIGTERM): running validations go back to the queue."""
    import uvicorn

    app = create_app(tournament)
    sock = bind(host, port)
    shown = f"[{host}]" if ":" in host else host
    for line in describe(tournament):
        echo(line)
    for line in exposure(host, port):
        echo(line)
    echo(f"scoreboard: http://{shown}:{port}/   API: http://{shown}:{port}/api/v1/ "
         f"(OpenAPI: /api/v1/openapi.json)   stop: Ctrl-C")
    logging.basicConfig(level=getattr(logging, log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    config = uvicorn.Config(app, log_level=log_level, access_log=log_level == "debug", timeout_graceful_shutdown=5,
                            server_header=False)
    # uvicorn shuts down gracefully on SIGINT/SIGTERM, then raises the signal again for the handler it
    # found: let that be a no-op, so a stop asked for ends the command normally (exit code 0)
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sock.close()
    echo("stopped (a validation that was running is queued again)")
