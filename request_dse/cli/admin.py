"""``request-dse admin TOURNAMENT ...``: tokens, revalidation and a listing, on the tournament's database."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("admin")
@click.argument("tournament", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def command(ctx: click.Context, tournament: Path) -> None:
    """Organizer's operations on the tournament TOURNAMENT's database (the server need not run).

    \b
      token add NAME [--role participant|organizer]   a new token, printed once (last line)
      token revoke NAME                               the token stops working at once
      revalidate ENTRY                                queue a new validation of an entry
      list                                            tokens, entries and the queue
      export [-o scoreboard.html] [--url URL]         the scoreboard page as a file, offline
    """
    ctx.obj = tournament


def _open(ctx: click.Context):  # type: ignore[no-untyped-def]
    from request_dse.service import load_tournament
    from request_dse.service.database import connect

    tournament = load_tournament(ctx.obj)
    return tournament, connect(tournament.database)


@command.group("token")
def token() -> None:
    """Add or revoke tokens. Tokens are random, shown once, and stored only as their sha256."""


@token.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice(["participant", "organizer"]), default="participant", show_default=True,
              help="participant: submits and manages its own entries; organizer: also revalidates and sees all "
                   "jobs and uploads.")
@click.pass_context
def token_add(ctx: click.Context, name: str, role: str) -> None:
    """A new token for NAME (its participant name on the scoreboard); the token alone on the last line."""
    from request_dse.service.tokens import add_token

    _, engine = _open(ctx)
    secret = add_token(engine, name, role)
    click.echo(f"token for {name} ({role}); it is shown only now -- keep it:", err=True)
    click.echo(secret)


@token.command("revoke")
@click.argument("name")
@click.pass_context
def token_revoke(ctx: click.Context, name: str) -> None:
    """Revoke NAME's token (its entries stay)."""
    from request_dse.service.tokens import revoke_token

    _, engine = _open(ctx)
    revoke_token(engine, name)
    click.echo(f"token {name} revoked")


@command.command("revalidate")
@click.argument("entry")
@click.pass_context
def revalidate(ctx: click.Context, entry: str) -> None:
    """Queue a new validation of ENTRY (its id, or the first characters of it)."""
    from request_dse.service.admin import revalidate as queue_again

    tournament, engine = _open(ctx)
    entry_id, job = queue_again(engine, tournament, entry)
    click.echo(f"entry {entry_id}: validation job {job} queued")


@command.command("list")
@click.pass_context
def listing(ctx: click.Context) -> None:
    """Tokens (names and roles, never the tokens), entries with their badges, and the queue."""
    from request_dse.service.admin import listing as text

    _, engine = _open(ctx)
    click.echo(text(engine))


@command.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("scoreboard.html"),
              show_default=True, help="Where to write the page.")
@click.option("--url", default="", metavar="URL",
              help="The server's public URL, for the links to entry pages (default: relative links).")
@click.pass_context
def export(ctx: click.Context, output: Path, url: str) -> None:
    """Write the live scoreboard -- tracks, frontiers, hypervolumes and this service's badges -- as one
    self-contained HTML file that needs no server (the same page as / without its live updates)."""
    from request_dse.service.admin import export as write_page

    tournament, engine = _open(ctx)
    path = write_page(engine, tournament, output, url.rstrip("/") + "/" if url else "")
    click.echo(f"scoreboard of tournament {tournament.name} -> {path}")
