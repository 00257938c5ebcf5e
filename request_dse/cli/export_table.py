"""``request-dse export-table STUDY -o FILE``: a study's trials as a replayable table."""

from __future__ import annotations

from pathlib import Path

import click

from request_dse.cli._common import study_argument


@click.command("export-table")
@study_argument
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the JSON Lines table ('-': standard output).")
@click.option("--keep-infeasible", is_flag=True,
              help="Keep 'infeasible' for trials that only broke the study's metric constraints "
                   "(by default they were measured fine and are written as 'ok').")
def command(study: Path, output: Path, keep_infeasible: bool) -> int:
    """Write every distinct candidate STUDY measured, one JSON object per line.

    Each line holds the candidate's knobs, its status and error, every metric, and the
    statistics of its raw latency samples. The `replay` target answers candidates from such a
    table (see targets/replay.yaml), so search strategies can be compared on it in seconds.
    """
    from request_dse.results import rows_from_records, write_table
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan
    from request_dse.text import plural

    plan = load_plan(study)
    all_records = records(load_existing(plan.storage_url, plan.name))
    rows = rows_from_records(all_records, study=plan.name, target=plan.target_spec.name,
                             workload=plan.study.workload.name, metric_constraint_status=keep_infeasible)
    n = write_table(rows, output)
    if str(output) != "-":
        ok = sum(r.status == "ok" for r in rows)
        click.echo(f"{output}: {plural(n, 'candidate')} ({ok} ok, {n - ok} failed or infeasible) from study {plan.name}")
    return 0
