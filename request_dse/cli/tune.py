"""``request-dse tune STUDY``: run (or continue) a study."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from request_dse.cli._common import ensure_work_dir, study_argument


@click.command("tune")
@study_argument
@click.option("--executor", type=click.Choice(["inline", "local", "ray"]), help="Override the study's executor.")
@click.option("--trials", type=click.IntRange(min=1), help="Override the budget (trials to measure in all).")
@click.option("--sampler", type=click.Choice(["default", "nsga2", "nsga3", "tpe", "gp", "random", "grid"]),
              help="Override the study's sampler.")
@click.option("--seed", type=click.IntRange(min=0), help="Override the sampler's seed.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@click.option("--no-export", is_flag=True, help="Skip the confirm phase and the submission bundles.")
def command(study: Path, executor: str | None, trials: int | None, sampler: str | None, seed: int | None,
            quiet: bool, no_export: bool) -> int:
    """Explore STUDY's space, measure candidates, print the Pareto front.

    Re-running the same command continues the study: finished trials are kept, trials a
    killed run left behind are re-queued, nothing is measured twice. Ctrl-C or SIGTERM stops
    it within seconds (exit code 130 or 143): trials in flight are marked 'interrupted' and
    measured again by the next run.
    """
    from request_dse.cachedir import cache_root
    from request_dse.cli._progress import Progress
    from request_dse.errors import NothingMeasured
    from request_dse.execute import exit_code, make_executor, stop_on_sigterm, sweep_dead_temp_dirs
    from request_dse.files import sweep_temp
    from request_dse.results import ResultsCache, pareto_table
    from request_dse.search import Search
    from request_dse.study import load_plan
    from request_dse.text import plural

    plan = load_plan(study)
    changes = {}
    if trials is not None:
        changes["trials"] = trials
    if sampler is not None or seed is not None:
        changes["sampler"] = dataclasses.replace(plan.study.sampler, **({"name": sampler} if sampler else {}),
                                                 **({"seed": seed} if seed is not None else {}))
    if changes:
        plan = dataclasses.replace(plan, study=dataclasses.replace(plan.study, **changes))
    ensure_work_dir(plan.work_dir)
    sweep_dead_temp_dirs()  # what killed runs left in the temp dir, even when this run starts no worker
    sweep_temp(cache_root())  # and half-written files of killed writers in the cache
    runner = make_executor(plan, executor)
    observers = [] if quiet else [Progress()]
    if plan.study.tracking.enabled:
        from request_dse.tracking import tracking_observer

        observers.append(tracking_observer(plan))
    search = Search(plan, runner, observers, cache=ResultsCache(cache_root() / "results"))
    outcome = None
    try:
        with stop_on_sigterm():  # SIGTERM stops the study as Ctrl-C does
            search.run()
            if not no_export and search.counters.ok and not plan.target.replays:  # a replay has no artifacts
                from request_dse.submission.emit import confirm_front

                outcome = confirm_front(plan, search.study, runner, echo=click.echo)
    except KeyboardInterrupt as stop:
        click.echo("\nrequest-dse: interrupted; in-flight trials were marked 'interrupted'. "
                   "Run the same command to continue the study.", err=True)
        return exit_code(stop)
    finally:
        runner.shutdown()
        _prune_cache()
    bundles = []
    if outcome is not None:  # after the executor stopped: the driver has its cores back for system.json
        from request_dse.submission.emit import write_front

        bundles = write_front(plan, search.study, outcome)
    front, _, hv = search.front()
    c = search.counters
    early = f", {c.dominated_early} stopped early (dominated)" if c.dominated_early else ""
    click.echo(f"\n{plan.name}: {plural(c.measured, 'trial')} measured ({c.ok} ok, {c.failed} failed, "
               f"{c.measured - c.ok - c.failed - c.dominated_early} infeasible{early}), "
               f"{plural(c.skipped, 'proposal')} skipped; "
               f"{search.stop_reason or 'done'}")
    if not front:
        raise NothingMeasured(f"study {plan.name}: no trial succeeded; see `request-dse report {study}`")
    click.echo(f"Pareto front ({plural(len(front), 'trial')}, hypervolume {hv:.6g}):")
    click.echo(pareto_table(plan, front))
    if outcome is not None:
        from request_dse.submission.emit import confirmed_table

        if outcome.front:
            click.echo(f"\n{'Confirmed' if outcome.enabled else 'Emitted (unconfirmed)'} Pareto set "
                       f"({plural(len(outcome.front), 'entry')}; 95% intervals; ties: intervals overlap):")
            click.echo(confirmed_table(plan, outcome))
        if bundles:
            click.echo(f"{plural(len(bundles), 'submission bundle')} in {bundles[0].parent}")
    return 0


def _prune_cache() -> None:
    """Keep the shared cache within its size limit (least recently used entries go first)."""
    from request_dse.cachedir import cache_root, prune

    try:
        prune(cache_root())
    except OSError as exc:
        click.echo(f"request-dse: warning: could not prune the cache: {exc}", err=True)
