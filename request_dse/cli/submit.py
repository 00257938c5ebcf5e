"""``request-dse submit BUNDLE... --server URL --token T``: send bundles to a tournament server."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("submit")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--server", required=True, metavar="URL", help="The tournament server, e.g. http://127.0.0.1:8470.")
@click.option("--token", envvar="REQUEST_DSE_TOKEN", required=True, metavar="TOKEN",
              help="Your token (or set REQUEST_DSE_TOKEN, which keeps it out of the shell's history).")
@click.option("--track", metavar="NAME", help="The track to enter (default: the one that takes the bundle's "
                                               "workload on its target).")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=None, metavar="SECONDS",
              help="Then wait up to SECONDS for the validations and print each badge.")
def command(bundles: tuple[Path, ...], server: str, token: str, track: str | None, wait_s: float | None) -> int:
    """Submit each BUNDLE (a bundle folder or a .tar.gz / .zip archive) to a tournament.

    Each bundle is verified here (checksums, schema), packed if it is a folder, and uploaded; the
    server verifies it again, checks the track's rules and queues its validation. The same bundle
    sent twice is one entry. One line per bundle: accepted (with the entry's page), already there,
    or refused and why.

    Exit code 0 when every bundle was accepted (with --wait: and reproduced), 1 when a validation
    ended without "reproduced", 2 when a bundle was refused or the server could not be reached.
    """
    from request_dse.service.client import Client, submit, wait_for

    client = Client(server, token)
    if client.insecure:
        click.echo(f"request-dse: warning: {server} is plain http to another machine: the token travels "
                   "unencrypted (use https)", err=True)
    accepted, refused = submit(list(bundles), client, track=track, echo=click.echo)
    click.echo(f"{len(accepted)} accepted ({sum(a['duplicate'] for a in accepted)} already there), {refused} refused")
    if refused:
        return 2
    if wait_s is None:
        return 0
    badges = wait_for(client, list(dict.fromkeys(a["entry"] for a in accepted)), wait_s, echo=click.echo)
    pending = [e for e, b in badges.items() if b == "pending"]
    if pending:
        click.echo(f"still pending after {wait_s:g} s: {', '.join(pending)}")
    return 0 if all(b == "reproduced" for b in badges.values()) else 1
