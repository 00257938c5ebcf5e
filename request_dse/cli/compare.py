"""``request-dse compare STUDY_A STUDY_B``: two studies' Pareto fronts side by side."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


@click.command("compare")
@click.argument("study_a", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("study_b", type=click.Path(dir_okay=False, path_type=Path))
def command(study_a: Path, study_b: Path) -> int:
    """Print both Pareto fronts, their hypervolumes on one shared reference point, which points
    of each front the other dominates, and the MLflow UI link that shows both studies.

    \b
    Uses:   the two study files and what `tune` recorded for them (each study's storage in its
            work dir); the MLflow store they track to, for the link only.
    Writes: nothing (both studies must have been tuned; neither is changed).

    Only studies of the same workload and objectives compare (otherwise exit code 2). A study's
    confirmed figures (fresh sessions of the confirm phase, stored by `tune` or `export`) are
    used where it has them, its search figures otherwise; the output says which. The shared
    reference point is the studies' own when both set the same one, otherwise the worst value of
    each objective over both fronts, pushed out by 10% of its range.
    """
    from request_dse.results import candidate_label
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan
    from request_dse.text import fmt, plural, table
    from request_dse.tracking.compare import check_comparable, compare

    plans = [load_plan(study_a), load_plan(study_b)]
    check_comparable(plans[0], plans[1])
    studies = [load_existing(p.storage_url, p.name) for p in plans]
    trials = [records(s) for s in studies]
    confirmed = [_confirmed_front(p, s, t) for p, s, t in zip(plans, studies, trials, strict=True)]
    result = compare(plans[0], trials[0], plans[1], trials[1], given=(confirmed[0][0], confirmed[1][0]))
    for plan, (_, figures) in zip(plans, confirmed, strict=True):
        click.echo(f"{plan.name}: {figures}")
    names = list(result.names)
    ref = ", ".join(f"{m}={fmt(v, m)}" for m, v in zip(names, result.reference))
    click.echo(f"objectives: {', '.join(f'{d} {m}' for m, d in zip(names, result.directions))}")
    click.echo(f"shared reference point: {ref}\n")
    for side, other in ((result.a, result.b), (result.b, result.a)):
        beaten = sum(bool(v) for v in side.dominated_by.values())
        click.echo(f"{side.name}: {plural(len(side.front), 'trial')} on the front, hypervolume {side.hypervolume:.6g}; "
                   f"{beaten} dominated by {other.name}")
        rows = [[r.number, *[fmt(r.metrics.get(m), m) for m in names],
                 ", ".join(str(n) for n in side.dominated_by[r.number]) or "-", candidate_label(r.params)]
                for r in sorted(side.front, key=lambda r: r.metrics[names[-1]])]
        if rows:
            click.echo(table(["trial", *names, f"dominated by {other.name}", "candidate"], rows,
                             align="r" * (1 + len(names)) + "ll"))
        click.echo("")
    better = result.a if result.a.hypervolume > result.b.hypervolume else result.b
    if result.a.hypervolume != result.b.hypervolume:
        click.echo(f"larger hypervolume: {better.name}")
    click.echo(_link(plans, studies))
    return 0


def _confirmed_front(plan: Any, study: Any, trials: list[Any]) -> tuple[list[Any] | None, str]:
    """The study's front on its confirmed figures (None: it has none stored), and which figures."""
    import dataclasses

    from request_dse.submission.emit import confirmed_report

    outcome, _ = confirmed_report(plan, study, trials)
    if outcome is None or not outcome.front:
        return None, "search figures (no confirmed figures stored: `request-dse export` confirms the front)"
    front = [dataclasses.replace(p.record, metrics={**p.record.metrics, **p.metrics}) for p in outcome.front]
    done = sum(p.confirmed for p in outcome.front)
    return front, f"confirmed figures from fresh sessions ({done} of {len(front)} points confirmed)"


def _link(plans: list, studies: list) -> str:  # type: ignore[type-arg]
    from request_dse.tracking import STUDY_ID_ATTR, compare_url, find_parent, for_plan, is_connection_error

    targets = [for_plan(p) for p in plans]
    found = []
    for plan, study, target in zip(plans, studies, targets):
        sid = study.user_attrs.get(STUDY_ID_ATTR)
        if not plan.study.tracking.enabled or not sid:
            return f"MLflow: study {plan.name} is not tracked; no UI link"
        try:
            parent = find_parent(target, sid)
        except Exception as exc:  # noqa: BLE001
            if not is_connection_error(exc):
                raise
            return f"MLflow: cannot reach {target.uri}; no UI link"
        if parent is None:
            return f"MLflow: no run of study {plan.name} in {target.uri} yet (try `request-dse sync`)"
        found.append(parent)
    if targets[0].uri != targets[1].uri:
        return "MLflow: the studies track to different stores: " + "; ".join(
            compare_url(t.ui_url(), [f]) for t, f in zip(targets, found))
    note = "  (start the UI with `request-dse ui`)" if targets[0].embedded else ""
    return f"MLflow UI: {compare_url(targets[0].ui_url(), found)}{note}"
