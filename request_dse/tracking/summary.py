"""What the study's parent run holds at the end: the Pareto plot, the Pareto table, totals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from request_dse.results import candidate_label, pareto_table, study_front
from request_dse.text import fmt
from request_dse.tracking.plots import pareto_html, pareto_png, table_html


def study_summary(plan: Any, finished: Sequence[Any], folder: Path) -> tuple[list[tuple[str, str]], dict[str, float]]:
    """Write ``pareto.html``, ``pareto.png`` and ``pareto.md`` to ``folder``; return them as
    ``(path, artifact folder)`` pairs and the study's summary metrics."""
    folder.mkdir(parents=True, exist_ok=True)
    names = list(plan.study.metric_names)
    front, reference, hv = study_front(plan, finished)
    title = f"{plan.name}: Pareto front"
    ref = ", ".join(f"{m}={fmt(v, m)}" for m, v in zip(names, reference))
    subtitle = f"{len(front)} of {sum(r.status == 'ok' for r in finished)} ok trials on the front; " \
               f"hypervolume {hv:.6g} (reference point {ref})"
    rows = [[r.number, *[fmt(r.metrics.get(m), m) for m in names], candidate_label(r.params)]
            for r in sorted(front, key=lambda r: r.metrics[names[-1]])]
    html = pareto_html(folder / "pareto.html", title, subtitle, finished, front, names,
                             table_html(["trial", *names, "candidate"], rows))
    table = folder / "pareto.md"
    table.write_text(f"# {title}\n\n{subtitle}\n\n```\n{pareto_table(plan, front) if front else '(empty)'}\n```\n")
    artifacts = [(str(html), "pareto"), (str(table), "pareto")]
    png = pareto_png(folder / "pareto.png", title, finished, front, names) if front else None
    if png is not None:
        artifacts.append((str(png), "pareto"))
    metrics = {"hypervolume_final": hv, "pareto_front_size_final": float(len(front)),
               "trials_ok": float(sum(r.status == "ok" for r in finished)),
               "trials_failed": float(sum(r.status not in ("ok", "infeasible") for r in finished))}
    for objective in plan.study.objectives:
        values = [r.metrics[objective.metric] for r in front]
        if values:
            metrics[f"best_{objective.metric}"] = max(values) if objective.direction == "maximize" else min(values)
    return artifacts, metrics
