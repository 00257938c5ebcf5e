"""``request-dse sync STUDY``: send a study's waiting tracking writes and repair its runs."""

from __future__ import annotations

from pathlib import Path

import click

from request_dse.cli._common import study_argument


@click.command("sync")
@study_argument
def command(study: Path) -> int:
    """Send STUDY's tracking outbox to MLflow and make every trial's run match the study.

    Writes wait in the outbox while the tracking server is down; a run left RUNNING by a
    killed process is closed as KILLED. Safe to repeat: nothing is logged twice.
    Exit code 1 when the tracking server still cannot be reached.
    """
    from request_dse.errors import UserError
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan
    from request_dse.tracking import for_plan, sync_study

    plan = load_plan(study)
    if not plan.study.tracking.enabled:
        raise UserError(f"{study}: tracking.enabled is false; nothing to sync")
    optuna_study = load_existing(plan.storage_url, plan.name)
    target = for_plan(plan)
    result = sync_study(plan, target, optuna_study, records(optuna_study))
    if result.offline:
        click.echo(f"request-dse: tracking: cannot reach {target.uri} ({result.error}); {result.pending} writes "
                   f"still wait", err=True)
        return 1
    click.echo(f"{plan.name}: sent {result.sent} writes to {target.uri}, experiment {target.experiment!r}"
               + (f"; {result.rejected} rejected" if result.rejected else ""))
    return 0
