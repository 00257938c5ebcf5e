"""``request-dse report STUDY``: what a study found, as tables or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import click

from request_dse.cli._common import study_argument


@click.command("report")
@study_argument
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report on stdout.")
@click.option("--all", "include_skipped", is_flag=True, help="Also list skipped proposals (duplicates, excluded).")
def command(study: Path, as_json: bool, include_skipped: bool) -> int:
    """Print every trial of STUDY, the Pareto front and its hypervolume.

    Exit code 3 when no trial of the study succeeded.
    """
    from request_dse.results import build_report, render_text
    from request_dse.search import load_existing, records
    from request_dse.search.exclusions import stored
    from request_dse.study import load_plan
    from request_dse.submission.emit import confirmed_report, confirmed_table
    from request_dse.text import plural

    plan = load_plan(study)
    optuna_study = load_existing(plan.storage_url, plan.name)
    all_records = records(optuna_study)
    report = build_report(plan, all_records, include_skipped=include_skipped)
    confirmed, rows = confirmed_report(plan, optuna_study, all_records)
    if rows:
        report["confirmed"] = rows
    exclusions = stored(optuna_study)
    if exclusions:
        report["exclusions"] = [e.to_json() for e in exclusions]
    if as_json:
        click.echo(json.dumps(report, indent=1, default=str))
    else:
        click.echo(render_text(plan, all_records))
        if exclusions:
            click.echo("\nLearned from failures (no longer proposed):")
            for exclusion in exclusions:
                click.echo(f"  {exclusion.describe()}")
        if confirmed is not None and confirmed.front:
            click.echo(f"\nConfirmed Pareto set ({plural(len(confirmed.front), 'entry')}; 95% intervals; ties: "
                       "intervals overlap):")
            click.echo(confirmed_table(plan, confirmed))
    return 0 if report["pareto"] else 3
