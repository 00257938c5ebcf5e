"""``request-dse serve TOURNAMENT``: the tournament service (submissions, validation queue, live scoreboard)."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("serve")
@click.argument("tournament", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on. Anything but loopback is reachable from other machines: it says what that "
                   "exposes; put a TLS reverse proxy in front (docs/service.md).")
@click.option("--port", type=click.IntRange(1, 65535), default=8470, show_default=True, help="Port to listen on.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="How much the server logs (debug adds one line per request).")
def command(tournament: Path, host: str, port: int, log_level: str) -> None:
    """Serve the tournament TOURNAMENT (a YAML file: tracks, database, bundle store, limits).

    Participants submit bundles (`request-dse submit`, or POST /api/v1/submissions) with a token
    (`request-dse admin TOURNAMENT token add NAME`). Each accepted bundle is validated by a queued
    job -- in a sandbox on this machine, or as a Ray task on the node owning the target -- and the
    live scoreboard at / ranks the reproduced entries of each track. The JSON API is under
    /api/v1/ (OpenAPI: /api/v1/openapi.json). The database (SQLite by default, or PostgreSQL)
    keeps everything: a server stopped or killed resumes its queue when it starts again.
    Runs until Ctrl-C.
    """
    from request_dse.service import load_tournament
    from request_dse.service.server import serve

    serve(load_tournament(tournament), host, port, echo=click.echo, log_level=log_level)
