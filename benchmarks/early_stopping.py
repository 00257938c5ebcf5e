"""Measurement-aware early stopping: measurement time saved, Pareto set kept.

    .venv/bin/python benchmarks/early_stopping.py                     # the quickstart
    .venv/bin/python benchmarks/early_stopping.py --study full-stack  # every backend (TVM tuning: ~20 min)

One run of `request-dse tune` on the study with ``measure.early_stop`` on (results cache
and tracking off). Afterwards every candidate that stopped early is measured again with the
full protocol (scored, ``repeats`` sessions) from the artifact the search built, through the
same local runtime. That gives, from the same builds and the same candidate sequence:

* the measurement time with early stopping: ``measure_time_s`` summed over the trials;
* the measurement time of the full protocol: the survivors' sessions (with ``repeats`` >= 2
  their judging session is their first full session and counts; with one session the short
  judging session is left out and the unscored full session counted as is, which slightly
  understates the full protocol) plus the stopped candidates' full re-measurement;
* the Pareto set with early stopping, and the one the full protocol would have given (the
  stopped candidates with their full figures): the same set means no candidate that belongs
  on the front was stopped.

Writes ``benchmarks/results/early_stopping.md`` (``early_stopping_<study>.md`` for another study).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import shutil
import time
from pathlib import Path

import yaml
from _util import REPO, machine, request_dse, tempdir, write_section

RESULTS = REPO / "benchmarks" / "results" / "early_stopping.md"
COMMAND = ".venv/bin/python benchmarks/early_stopping.py"


def write_study(folder: Path, name: str, early: dict, trials: int | None) -> Path:
    doc = yaml.safe_load((REPO / "studies" / f"{name}.yaml").read_text())
    doc.update({"work_dir": str(folder / "work"), "tracking": {"enabled": False}, "confirm": {"enabled": False},
                "cache": False})
    doc.setdefault("measure", {})["early_stop"] = early
    if trials:
        doc["budget"]["trials"] = trials
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def remeasure(plan, recs):  # type: ignore[no-untyped-def]
    """The full protocol on each record's built artifact: {trial number: TrialResult}."""
    from request_dse.backends import BuildResult
    from request_dse.evaluate import make_job, score
    from request_dse.execute import make_executor

    executor = make_executor(plan, "local")
    out = {}
    try:
        for rec in recs:
            candidate = plan.space.candidate(dict(rec.params))
            job = make_job(plan, rec.number, candidate)
            job = dataclasses.replace(job, trial_dir=job.trial_dir / "full-protocol")
            prepared = plan.workload.prepare(candidate, plan.cache_dir)
            artifact = Path(rec.paths["artifact"])
            build = BuildResult("ok", artifact, prepared)
            request = dataclasses.replace(job.session, artifact_dir=artifact, prepared=prepared)
            measured = executor.runtime.measure(plan.target, request, job.trial_dir / "measure.log")
            if measured.status != "ok":
                raise SystemExit(f"re-measuring trial {rec.number} failed: {measured.status}: {measured.error}")
            job.trial_dir.mkdir(parents=True, exist_ok=True)
            out[rec.number] = score(job, build, measured, {}, job.trial_dir / "build.log")
    finally:
        executor.shutdown()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="quickstart", help="a study of studies/ (default: quickstart)")
    parser.add_argument("--trials", type=int, help="override the study's budget")
    parser.add_argument("--first-runs", type=int, default=16)
    parser.add_argument("--margin", type=float, default=0.25)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    from request_dse.results import candidate_label, study_front
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    early = {"enabled": True, "first_runs": args.first_runs, "margin": args.margin}
    with tempdir() as tmp_name:
        tmp = args.keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp / "search_spaces", ignore_errors=True)
        shutil.copytree(REPO / "search_spaces", tmp / "search_spaces")
        study = write_study(tmp, args.study, early, args.trials)
        started = time.perf_counter()
        run = request_dse("tune", str(study), "--quiet", "--no-export", env=dict(os.environ))
        tune_wall = time.perf_counter() - started
        plan = load_plan(study)
        recs = [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]
        if run.returncode != 0 and len(recs) < plan.study.trials:
            raise SystemExit(f"request-dse tune failed:\n{run.stderr[-3000:]}")
        stopped = [r for r in recs if r.status == "dominated_early"]
        started = time.perf_counter()
        full = remeasure(plan, stopped)
        remeasure_wall = time.perf_counter() - started

    from request_dse.evaluate.early_stop import reuses_first

    reused = reuses_first(plan.study.measure)  # a survivor's judging session is its first full one
    t_early = sum(r.metrics.get("measure_time_s", 0.0) for r in recs)
    t_full = 0.0
    for r in recs:
        if r.number in full:
            t_full += full[r.number].metrics["measure_time_s"]
        else:
            t_full += r.metrics.get("measure_time_s", 0.0) - (0.0 if reused else r.timings.get("measure_first_s", 0.0))
    saved = 1 - t_early / t_full if t_full else 0.0
    front_early, _, hv_early = study_front(plan, recs)
    counterfactual = [dataclasses.replace(r, status=full[r.number].status, metrics=dict(full[r.number].metrics))
                      if r.number in full else r for r in recs]
    front_full, _, hv_full = study_front(plan, counterfactual)
    a, b = {r.hash for r in front_full}, {r.hash for r in front_early}
    names = plan.study.metric_names
    lines = [
        f"## Measurement-aware early stopping ({args.study})",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}, load average {os.getloadavg()[0]:.1f}; "
        f"command: `{COMMAND}`" + (f" `--study {args.study}`" if args.study != "quickstart" else "")
        + (f" `--trials {args.trials}`" if args.trials else ""),
        "",
        f"One `request-dse tune` of studies/{args.study}.yaml with `measure.early_stop: {{enabled: true, first_runs: "
        f"{args.first_runs}, margin: {args.margin}}}` ({tune_wall:.0f} s); then each candidate that stopped early "
        f"measured again with the full protocol from its built artifact ({remeasure_wall:.0f} s), giving the full "
        "protocol's figures for the same builds and the same candidate sequence.",
        "",
        "| | full protocol | early stopping |",
        "|---|---|---|",
        f"| trials measured | {len(recs)} | {len(recs)} ({len(stopped)} stopped early, `dominated_early`) |",
        f"| total measurement time (sum of session wall times) | {t_full:.1f} s | {t_early:.1f} s "
        f"(**{saved:.0%} less**) |",
        f"| Pareto set | {len(a)} trials, hypervolume {hv_full:.4g} | {len(b)} trials, hypervolume {hv_early:.4g} |",
        f"| same Pareto set (candidates) | | **{'yes' if a == b else 'no'}** |",
        "",
    ]
    if a != b:
        lines.append("Candidates that differ:")
        for h in sorted(a ^ b):
            r = next(x for x in counterfactual if x.hash == h)
            lines.append(f"- trial {r.number} {candidate_label(r.params)}: on the "
                         f"{'full protocol' if h in a else 'early-stopping'} front only; "
                         + ", ".join(f"{m} {r.metrics.get(m, float('nan')):.4g}" for m in names))
        lines.append("")
    if stopped:
        lines += ["Stopped candidates, their estimate after the judging session and the full protocol's figures:", "",
                  f"| trial | candidate | {' | '.join(f'{m} (estimate / full)' for m in names)} |",
                  "|---|---|" + "---|" * len(names)]
        for r in stopped:
            cells = [f"{r.metrics.get(m, float('nan')):.4g} / {full[r.number].metrics.get(m, float('nan')):.4g}"
                     for m in names]
            lines.append(f"| {r.number} | {candidate_label(r.params)} | {' | '.join(cells)} |")
        lines.append("")
    in_session = sum(1 for r in stopped if (r.info.get("early_stop") or {}).get("in_session"))
    stopped_s = sum(r.metrics.get("measure_time_s", 0.0) for r in stopped)
    biases = [float(r.info["judge_bias"]) for r in recs if r.info.get("judge_bias") is not None]
    spreads = [float(r.info["session_spread"]) for r in recs if r.status == "ok" and r.info.get("session_spread")]
    lines += [f"How it saves: {len(stopped)} of {len(recs)} candidates stopped, {in_session} of them inside their "
              "judging session (its judge looks after `first_runs` timed runs and at every doubling), so a stopped "
              f"candidate costs its scoring and a few runs ({stopped_s:.1f} s for all {len(stopped)}, mostly loading and "
              "scoring the held-out split) instead of "
              + (f"{plan.study.measure.repeats} sessions" if reused else "a full session") + ". "
              "The judging margin is the larger of `margin` and the widest gap between a survivor's judging estimate "
              f"and its final figures (largest here: {max(biases, default=0.0):.0%}; the widest spread between two "
              f"sessions of a candidate was {max(spreads, default=0.0):.0%}).", ""]
    lines.append(f"Goal (at least 40% less measurement time, same Pareto set): "
                 f"{'met' if saved >= 0.4 and a == b else 'not met'} ({saved:.0%} less; Pareto sets "
                 f"{'equal' if a == b else 'differ'}).")
    write_section(RESULTS if args.study == "quickstart" else RESULTS.with_name(
        f"early_stopping_{args.study.replace('-', '_')}.md"), lines)


if __name__ == "__main__":
    main()
