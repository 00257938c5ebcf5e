"""``request-dse env``: the software environments candidates were built and measured in."""

from __future__ import annotations

import time

import click


def _mb(n: int) -> str:
    return f"{n / (1 << 20):.0f} MB"


def _ago(when: float) -> str:
    from request_dse.text import duration

    return duration(time.time() - when) + " ago" if when else "-"


@click.group("env")
def command() -> None:
    """The software environments of the shared cache.

    A candidate whose backend has a version of its own (frameworks: {onnxruntime: {version:
    [...]}}) or whose study pins libraries (environment: {extra: {...}}) runs in an environment
    built by uv from its lock, once, in $REQUEST_DSE_CACHE/envs/<lock id>; every candidate, study
    and process that resolves to the same lock reuses it. The cache's size limit evicts the least
    recently used ones (request-dse cache prune); these commands show and trim them.
    """


@command.command("list")
def list_() -> None:
    """Print each environment (id, what it is for, size, when created and last used, how long
    its creation took) and each lock whose environment failed to be created, with why."""
    from request_dse.envs import environments, store
    from request_dse.text import table

    rows, failed = [], []
    for info in environments():
        if info.failure:
            failed.append(info)
            continue
        rows.append([info.id, info.label or "-", info.packages, _mb(info.size), _ago(info.created), _ago(info.used),
                     f"{info.create_s:.1f} s"])
    click.echo(f"environments in {store.root()}:")
    if rows:
        click.echo(table(["id", "for", "packages", "size", "created", "used", "creation"], rows, align="llrrrrr"))
    else:
        click.echo("  none")
    for info in failed:
        click.echo(f"failed: {info.id} ({info.label or 'unknown'}), {_ago(info.created)}: {info.failure}")
    if failed:
        click.echo("a failed lock is not tried again; `request-dse env prune --failed` forgets the failures")


@command.command("prune")
@click.option("--unused-days", type=click.FloatRange(min=0), default=None,
              help="Remove environments not used for this many days.")
@click.option("--failed", is_flag=True, help="Forget the failed creations (their versions are tried again).")
@click.option("--all", "everything", is_flag=True, help="Remove every environment and failure record.")
def prune(unused_days: float | None, failed: bool, everything: bool) -> None:
    """Remove environments and failure records. An environment used in the last ten minutes is
    kept whatever is asked (a study may be running in it); it is created again when needed."""
    from request_dse.envs import prune as do_prune
    from request_dse.errors import UserError

    if unused_days is None and not failed and not everything:
        raise UserError("env prune: say what to remove: --unused-days N, --failed or --all")
    removed = do_prune(unused_days=unused_days, failed=failed, everything=everything)
    envs = [i for i in removed if not i.failure]
    click.echo(f"removed {len(envs)} environment(s) and {len(removed) - len(envs)} failure record(s)")
    for info in removed:
        click.echo(f"  {info.id} {info.label}{' (failure record)' if info.failure else ''}")
