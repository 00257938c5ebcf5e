"""``request-dse scoreboard DIR... -o scoreboard.html``: rank bundles (and historical tables) on one page."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("scoreboard")
@click.argument("bundles", nargs=-1, type=click.Path(path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=Path("scoreboard.html"),
              show_default=True, help="Where to write the page.")
@click.option("--import-csv", "csv_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A ReQuEST@ASPLOS'18-style points table, shown as a read-only track (repeatable).")
@click.option("--x", "x_axis", metavar="METRIC", help="Metric on the X axis when the page opens.")
@click.option("--y", "y_axis", metavar="METRIC", help="Metric on the Y axis when the page opens.")
@click.option("--title", default="request-dse scoreboard", show_default=True, help="Title of the page.")
@click.option("--strict", is_flag=True, help="Fail (exit code 2) when any bundle is rejected, instead of listing it.")
@click.option("--validations", type=click.Path(dir_okay=False, path_type=Path),
              help="The organizer's validation store badges are read from (default: $REQUEST_DSE_VALIDATIONS, else "
                   "~/.local/share/request-dse/validations.jsonl).")
def command(bundles: tuple[Path, ...], output: Path, csv_files: tuple[Path, ...], x_axis: str | None,
            y_axis: str | None, title: str, strict: bool, validations: Path | None) -> None:
    """Rank the submission bundles found at or under BUNDLES on one self-contained HTML page.

    The page shows one workload at a time (a select at the top; it opens on the workload with
    the most bundles): its studies' Pareto points, other participants' entries and baselines in
    one table with every metric and validation badge, filters, a choice of X/Y axes, the Pareto
    frontier of the chosen axes and the hypervolume of each participant. Results of different
    workloads are never ranked together. Historical tables (--import-csv) appear as read-only
    tracks beside them. The page needs no network access and names bundles relative to the
    folders given.

    Badges come only from the validation store (what `request-dse validate` recorded on this
    machine); a bundle's own validation.json is shown as "claimed". On a frontier, a star marks
    an entry reproduced by the organizer, an open star one that is not validated. Each rejected
    bundle is reported (and listed on the page) rather than ranked.
    """
    from request_dse.errors import UserError
    from request_dse.scoreboard import build_scoreboard
    from request_dse.submission.store import ValidationStore

    if not bundles and not csv_files:
        raise UserError("scoreboard: give at least one bundle directory or --import-csv FILE")
    result = build_scoreboard(bundles, csv_files=csv_files, output=output, x=x_axis, y=y_axis, title=title,
                              strict=strict, store=ValidationStore(validations))
    for line in result.rejected:
        click.echo(f"request-dse: warning: {line}", err=True)
    click.echo(result.summary())
