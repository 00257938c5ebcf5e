"""``request-dse space STUDY``: the search space a study explores."""

from __future__ import annotations

from pathlib import Path

import click

from request_dse.cli._common import study_argument


@click.command("space")
@study_argument
def command(study: Path) -> int:
    """Print every dimension of STUDY, its domain and condition, and the number of candidates."""
    from request_dse.study import load_plan
    from request_dse.text import plural, table

    plan = load_plan(study)
    space = plan.space
    rows = [[d.name, d.describe_domain(), d.when.text if d.when else "always", d.origin] for d in space.dimensions]
    click.echo(table(["dimension", "domain", "exists when", "declared by"], rows))
    if space.constraints:
        click.echo("\nconstraints (a candidate must satisfy all):")
        for c in space.constraints:
            click.echo(f"  {c.expression.text}    [{c.reason or c.origin}]")
    if plan.notes:
        click.echo("\nleft out of the space:")
        for note in plan.notes:
            click.echo(f"  {note}")
    learned = _learned(plan)
    if learned:
        click.echo("\nlearned from the study's failures (no longer proposed):")
        for exclusion in learned:
            click.echo(f"  {exclusion.describe()}")
    count = space.count()
    size = "infinitely many distinct candidates (continuous dimensions)" if count == float("inf") else \
        f"{count:,.0f} distinct {'candidate' if count == 1 else 'candidates'}"
    click.echo(f"\n{size}; budget {plural(plan.study.trials, 'trial')}")
    return 0


def _learned(plan: object) -> list:  # type: ignore[type-arg]
    """The exclusions the study (when it has run) learned from its failures."""
    from pathlib import Path

    from request_dse.errors import UserError
    from request_dse.search import load_existing
    from request_dse.search.exclusions import stored

    url = plan.storage_url  # type: ignore[attr-defined]
    if url.startswith("sqlite:///") and not Path(url[len("sqlite:///"):]).exists():
        return []  # not run yet (and opening it would create it)
    try:
        return stored(load_existing(plan.storage_url, plan.name))  # type: ignore[attr-defined]
    except UserError:
        return []
