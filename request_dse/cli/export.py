"""``request-dse export STUDY``: the study's confirmed Pareto set as submission bundles."""

from __future__ import annotations

from pathlib import Path

import click

from request_dse.cli._common import study_argument


@click.command("export")
@study_argument
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the bundles (default: the study's submissions.dir, else submissions/<study>/).")
@click.option("--archive", is_flag=True, help="Also pack each bundle as <bundle>.tar.gz beside it.")
@click.option("--no-confirm", is_flag=True, help="Emit the search's figures without the confirm phase.")
@click.option("--executor", type=click.Choice(["inline", "local", "ray"]), help="Override the study's executor.")
@click.option("--mlperf", type=click.Path(file_okay=False, path_type=Path),
              help="Also lay the bundles out as an MLPerf Inference submission tree (open division) in this "
                   "folder (a study measured with `measure.protocol: loadgen`).")
@click.option("--submitter", default="request-dse", show_default=True,
              help="The submitter's name in the MLPerf tree (open/<submitter>/).")
def command(study: Path, out: Path | None, archive: bool, no_confirm: bool, executor: str | None,
            mlperf: Path | None, submitter: str) -> int:
    """Write one submission bundle per point of STUDY's Pareto front.

    \b
    Uses:   the study file and what `tune` recorded (the study's storage in its work dir).
    Writes: one bundle per front point, NNN-<hash>/, in --out (default: the study's
            submissions.dir, else submissions/<study>/ in the project); with --archive, each
            bundle also as <bundle>.tar.gz; confirmations into the study's storage.
    Replaces: the whole --out folder, which may hold only bundles, their archives and
            validation files (anything else is refused, and nothing is written).

    Candidates within measurement noise of the front that were not confirmed yet (by `tune`)
    are measured again first, in fresh sessions (`confirm.repeats` of the study file).
    With --mlperf DIR, the bundles are also laid out as an MLPerf Inference submission
    (DIR/open/<submitter>/systems, results/<system>/<model>/<scenario>/, src/), for a
    submitter to start from (docs/mlperf-export.md).
    Exit code 3 when no trial of the study succeeded.
    """
    from request_dse.results import study_front
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan
    from request_dse.submission.archive import make_archive
    from request_dse.submission.confirm import ConfirmPhase
    from request_dse.submission.emit import confirmed_table, emit, submissions_dir
    from request_dse.submission.mlperf_tree import write_tree

    plan = load_plan(study)
    if mlperf is not None and not plan.study.measure.uses_loadgen:
        from request_dse.errors import UserError

        raise UserError(f"{study}: --mlperf needs LoadGen's logs, and the study measures with the "
                        f"{plan.study.measure.protocol} protocol (set `measure.protocol: loadgen`)")
    optuna_study = load_existing(plan.storage_url, plan.name)
    all_records = records(optuna_study)
    enabled = plan.study.confirm.enabled and not no_confirm
    phase = ConfirmPhase(plan, optuna_study, None, echo=click.echo)
    outcome = phase.run(all_records, enabled=enabled)
    if enabled and any(not p.confirmed for p in outcome.front):
        from request_dse.execute import make_executor

        runner = make_executor(plan, executor)
        try:
            outcome = ConfirmPhase(plan, optuna_study, runner, echo=click.echo).run(all_records, enabled=True)
        finally:
            runner.shutdown()
    if not outcome.front:
        click.echo(f"study {plan.name}: no successful trial to export", err=True)
        return 3
    _, _, hv = study_front(plan, all_records)
    target = out or submissions_dir(plan)
    try:
        paths = emit(plan, outcome, out=target, hypervolume=hv,
                     trials_measured=sum(1 for r in all_records if r.measured))
    except FileNotFoundError as exc:
        from request_dse.errors import UserError

        raise UserError(str(exc)) from None
    for rec, why in outcome.dropped:
        click.echo(f"trial {rec.number} left the front: {why}")
    click.echo(confirmed_table(plan, outcome))
    for path in paths:
        click.echo(str(path))
        if archive:
            click.echo(str(make_archive(path, path.with_name(path.name + ".tar.gz"))))
    if mlperf is not None:
        results = write_tree(paths, mlperf, submitter, plan.study.source)
        click.echo(f"MLPerf Inference submission tree (open division, {len(results)} result(s)): {mlperf}")
    return 0
