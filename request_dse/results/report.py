"""What a study found, as JSON (``request-dse report --json``) and as terminal tables.

The JSON holds ``study``, ``objectives``, ``trials`` (number, status, candidate, metrics,
error), ``pareto`` (trial numbers), ``hypervolume`` and ``reference_point``; its contract is
checked by ``../shared/checks/report_contract.py`` in the test suite.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from request_dse.protocol import SCENARIO_DIMENSION
from request_dse.results.fronts import study_front
from request_dse.results.records import TrialRecord
from request_dse.text import fmt, headline, plural, table

if TYPE_CHECKING:
    from request_dse.study import Plan

SHOWN_METRICS = ("accuracy_top1", "latency_p50_ms", "latency_p90_ms", "latency_cv", "throughput_ips",
                 "energy_mj_per_inference", "model_size_bytes")


def candidate_label(params: Mapping[str, Any]) -> str:
    """A compact one-line rendering: model, precision, batch, threads, framework and its flags."""
    p = dict(params)
    model = p.get("model.family", "")
    if "model.width" in p:
        model += f" w{p['model.width']:g}"
    if "model.depth" in p:
        model += f"{p['model.depth']}"
    if "model.resolution" in p:
        model += f" r{p['model.resolution']}"
    parts = [model.strip()] if model.strip() else []
    parts.append(str(p.get("model.precision", "")))
    parts.append(f"b{p.get('batch_size', 1)} t{p.get('target.threads', 1)}")
    framework = p.get("framework", "")
    flags = ",".join(f"{k.split('.', 1)[1]}={v}" for k, v in sorted(p.items()) if k.startswith(f"{framework}."))
    parts.append(framework + (f"[{flags}]" if flags else ""))
    if SCENARIO_DIMENSION in p:
        parts.append(str(p[SCENARIO_DIMENSION]))
    return " ".join(x for x in parts if x)


def trial_json(r: TrialRecord) -> dict[str, Any]:
    out: dict[str, Any] = {"number": r.number, "status": r.status, "candidate": dict(r.params), "hash": r.hash,
                           "metrics": dict(r.metrics), "error": r.error}
    if r.cached:
        out["cached"] = True
    if r.skip:
        out["skip"] = r.skip
    if r.duplicate_of is not None:
        out["duplicate_of"] = r.duplicate_of
    if r.paths:
        out["files"] = dict(r.paths)
    if r.info:
        out["info"] = dict(r.info)
    return out


def build_report(plan: Plan, all_records: Sequence[TrialRecord], *, include_skipped: bool = False) -> dict[str, Any]:
    front, reference, hv = study_front(plan, all_records)
    shown = [r for r in all_records if (r.measured or (include_skipped and r.status))]
    names = plan.study.metric_names
    counts: dict[str, int] = {}
    for r in all_records:
        if r.measured:
            counts[r.status] = counts.get(r.status, 0) + 1
    return {
        "study": plan.name,
        "workload": plan.workload.name,
        "target": plan.target_spec.name,
        "objectives": [{"metric": o.metric, "direction": o.direction} for o in plan.study.objectives],
        "constraints": [str(c) for c in plan.study.constraints],
        "budget": plan.study.trials,
        "counts": counts,
        "trials": [trial_json(r) for r in shown],
        "pareto": [r.number for r in sorted(front, key=lambda r: r.metrics[names[-1]])],
        "hypervolume": hv,
        "reference_point": dict(zip(names, reference)),
    }


def pareto_table(plan: Plan, front: Sequence[TrialRecord]) -> str:
    names = list(plan.study.metric_names)
    extra = [m for m in ("latency_p50_ms", "latency_cv", "throughput_ips") if m not in names]
    rows = []
    for r in sorted(front, key=lambda r: r.metrics[names[-1]]):
        rows.append([r.number, *[fmt(r.metrics.get(m), m) for m in names + extra], candidate_label(r.params)])
    return table(["trial", *names, *extra, "candidate"], rows, align="r" * (1 + len(names) + len(extra)) + "l")


def trials_table(plan: Plan, shown: Sequence[TrialRecord]) -> str:
    names = list(plan.study.metric_names)
    rows = []
    for r in shown:
        note = headline(r.error, 70) if r.error else ("cached" if r.cached else "")
        rows.append([r.number, r.status, *[fmt(r.metrics.get(m), m) for m in names], candidate_label(r.params), note])
    return table(["trial", "status", *names, "candidate", "note"], rows, align="rl" + "r" * len(names) + "ll")


def render_text(plan: Plan, all_records: Sequence[TrialRecord]) -> str:
    report = build_report(plan, all_records)
    measured = [r for r in all_records if r.measured]
    front, _, _ = study_front(plan, all_records)
    counts = ", ".join(f"{v} {k}" for k, v in sorted(report["counts"].items()))
    ref = ", ".join(f"{k}={fmt(v, k)}" for k, v in report["reference_point"].items())
    lines = [f"study {plan.name}: {len(measured)}/{plan.study.trials} trials ({counts or 'none'}) on "
             f"{plan.target_spec.name}, workload {plan.workload.name}", "",
             trials_table(plan, measured), "",
             f"Pareto front: {plural(len(front), 'trial')}; hypervolume {report['hypervolume']:.6g} (reference {ref})"]
    if front:
        lines += ["", pareto_table(plan, front)]
    return "\n".join(lines)
