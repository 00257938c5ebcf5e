"""Measurement-aware early stopping: measurement time saved, Pareto set kept.

    .venv/bin/python benchmarks/early_stopping.py --runs 5            # the quickstart, 5 times
    .venv/bin/python benchmarks/early_stopping.py --study full-stack  # every backend (TVM tuning)

Each run replays one candidate sequence under both protocols, in the same conditions:

1. ``request-dse tune`` of the study with ``measure.early_stop`` on (results cache, tracking
   and the confirm phase off): the search picks the candidates, early stopping measures them;
2. the same study with early stopping off, its candidates given in the same order (enqueued,
   the sampler never asked), through the same local executor: builds on the build core while
   the measurement core measures, as in step 1.

Compared: the measurement time and the Pareto sets (by candidate) of the two studies. The
measurement time saved is counted candidate by candidate: a stopped candidate saves what the
full protocol spent on it less what early stopping spent; a survivor runs the full protocol in
both studies and saves nothing (less its cut judging session where a second look kept it).
The two studies' totals (``measure_time_s`` summed) are given too, but they differ also by the
protocol's own noise: a survivor whose session landed in a slow mode is measured again, in one
study and not the other, which moves a 10 s total by a second or two either way. What early stopping must not do is stop a candidate that is
on the full protocol's front: that is counted as a *wrong stop*. The two sets can also differ
where candidates measured in full by both studies changed places: two full measurements of a
model that runs in microseconds differ by more than the gaps between such candidates on this
host; those are listed too, with both figures.

``--defer N`` replays the sequence once more with early stopping and ``early_stop.defer: N``
(survivors whose other sessions wait, judged again as the front improves), against the same full
replay: what deferring adds, on the same candidates.

``--early-defer N`` runs step 1 itself with ``early_stop.defer: N``: the search then picks the
candidates with deferral on (the default sampler learning from waiting survivors' estimates).

``--control`` replays the sequence under the full protocol a second time: how often two full
measurements of the same candidates give different Pareto sets is the floor of what any
comparison with one full replay can show. A stopped candidate on both full fronts is stopped
wrongly beyond that noise; one on a single full front was on it by the host's noise as much as by
its own figures.

``--confirm`` then runs the confirm phase (``request-dse tune``'s last step: every candidate on a
front within noise measured again in fresh sessions, the front recomputed on those figures) on
each study, and compares the *confirmed* Pareto sets: the sets a tournament submission is made
of, which a lucky or unlucky single measurement moves less.

Writes ``benchmarks/results/early_stopping.md`` (``early_stopping_<study>.md`` for another study).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

import yaml
from _util import REPO, machine, request_dse, tempdir, write_section

RESULTS = REPO / "benchmarks" / "results" / "early_stopping.md"
COMMAND = ".venv/bin/python benchmarks/early_stopping.py"


def write_study(folder: Path, name: str, early: dict, trials: int | None, suffix: str = "",  # type: ignore[type-arg]
                sampler: dict | None = None) -> Path:  # type: ignore[type-arg]
    doc = yaml.safe_load((REPO / "studies" / f"{name}.yaml").read_text())
    doc.update({"name": f"{doc['name']}{suffix}", "work_dir": str(folder / f"work{suffix}"),
                "tracking": {"enabled": False}, "confirm": {"enabled": False}, "cache": False})
    doc.setdefault("measure", {})["early_stop"] = early
    if sampler:
        doc["sampler"] = sampler
    if trials:
        doc["budget"]["trials"] = trials
    path = folder / f"{name}{suffix}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def replay(study: Path, sequence: list[dict]) -> list:  # type: ignore[type-arg]
    """The study's trials with exactly these candidates, in this order (the sampler is not asked)."""
    from request_dse.execute import make_executor
    from request_dse.search import Search, records
    from request_dse.study import load_plan

    plan = load_plan(study)
    executor = make_executor(plan)
    search = Search(plan, executor)
    search.open()
    for params in sequence:
        search.study.enqueue_trial(params)
    try:
        search.run()
    finally:
        executor.shutdown()
    return [r for r in records(search.study) if r.measured]


def confirmed(study: Path) -> set[str]:
    """The study's Pareto set after the confirm phase (candidate hashes), measured now."""
    from request_dse.execute import make_executor
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan
    from request_dse.submission.confirm import ConfirmPhase

    plan = load_plan(study)
    stored = load_existing(plan.storage_url, plan.name)
    executor = make_executor(plan)
    try:
        outcome = ConfirmPhase(plan, stored, executor).run(records(stored), enabled=True)
    finally:
        executor.shutdown()
    return {p.record.hash for p in outcome.front}


def extra_judging(recs: list) -> float:  # type: ignore[type-arg]
    """What survivors spent on a judging session whose runs are not among their protocol sessions
    (``timings.measure_unused_s``: one cut short by its judge before a second look kept the
    candidate, or a short one)."""
    return sum(r.timings.get("measure_unused_s", 0.0) for r in recs if r.status == "ok")


def one_run(args: argparse.Namespace, keep: Path | None) -> dict:  # type: ignore[type-arg]
    """One early-stopping study and the same candidate sequence under the full protocol."""
    from request_dse.results import study_front
    from request_dse.search import load_existing, records
    from request_dse.study import load_plan

    early = {"enabled": True, "first_runs": args.first_runs, "margin": args.margin,
             **({"defer": args.early_defer} if args.early_defer else {})}
    with tempdir() as tmp_name:
        tmp = keep or Path(tmp_name)
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp / "search_spaces", ignore_errors=True)
        shutil.copytree(REPO / "search_spaces", tmp / "search_spaces")
        study = write_study(tmp, args.study, early, args.trials)
        started = time.perf_counter()
        run = request_dse("tune", str(study), "--quiet", "--no-export", env=dict(os.environ))
        tune_wall = time.perf_counter() - started
        plan = load_plan(study)
        recs = sorted((r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured),
                      key=lambda r: r.number)
        if run.returncode != 0 and len(recs) < plan.study.trials:
            raise SystemExit(f"request-dse tune failed:\n{run.stderr[-3000:]}")
        full_study = write_study(tmp, args.study, {"enabled": False}, len(recs), "-full", {"name": "random", "seed": 0})
        started = time.perf_counter()
        full_recs = replay(full_study, [dict(r.params) for r in recs])
        replay_wall = time.perf_counter() - started
        full_plan = load_plan(full_study)
        control_recs = []
        if args.control:
            control_study = write_study(tmp, args.study, {"enabled": False}, len(recs), "-control",
                                        {"name": "random", "seed": 0})
            control_recs = replay(control_study, [dict(r.params) for r in recs])
        defer_recs = []
        if args.defer:
            defer_study = write_study(tmp, args.study, {**early, "defer": args.defer}, len(recs), "-defer",
                                      {"name": "random", "seed": 0})
            defer_recs = replay(defer_study, [dict(r.params) for r in recs])
        confirmed_sets = None
        if args.confirm:
            confirmed_sets = {"early": confirmed(study), "full": confirmed(full_study),
                              "control": confirmed(control_study) if args.control else None}
    stopped = [r for r in recs if r.status == "dominated_early"]
    full = {r.hash: r for r in full_recs}
    t_early = sum(r.metrics.get("measure_time_s", 0.0) for r in recs)
    t_full = sum(r.metrics.get("measure_time_s", 0.0) for r in full_recs)
    paired = sum(full[r.hash].metrics["measure_time_s"] - r.metrics["measure_time_s"] for r in stopped)
    paired -= extra_judging(recs)
    front_early, _, hv_early = study_front(plan, recs)
    front_full, _, hv_full = study_front(full_plan, full_recs)
    on_full = {r.hash for r in front_full}
    front_control = {r.hash for r in study_front(full_plan, control_recs)[0]} if control_recs else None
    deferred = None
    if defer_recs:
        d_stopped = [r for r in defer_recs if r.status == "dominated_early"]
        d_paired = sum(full[r.hash].metrics["measure_time_s"] - r.metrics["measure_time_s"] for r in d_stopped)
        d_paired -= extra_judging(defer_recs)
        deferred = {"saved": d_paired / t_full if t_full else 0.0, "stopped": len(d_stopped),
                    "rejudged": sum(bool(r.info.get("early_stop", {}).get("deferred")) for r in d_stopped),
                    "wrong": [r for r in d_stopped if r.hash in on_full]}
    return {"plan": plan, "recs": recs, "stopped": stopped, "full": full, "tune_wall": tune_wall,
            "replay_wall": replay_wall, "t_early": t_early, "t_full": t_full,
            "saved": paired / t_full if t_full else 0.0, "totals_saved": 1 - t_early / t_full if t_full else 0.0,
            "front_full": on_full, "front_early": {r.hash for r in front_early},
            "wrong": [r for r in stopped if r.hash in on_full],
            "front_control": front_control,
            "wrong_both": [r for r in stopped if r.hash in on_full & (front_control or set())],
            "hv_full": hv_full, "hv_early": hv_early, "deferred": deferred, "confirmed": confirmed_sets}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="quickstart", help="a study of studies/ (default: quickstart)")
    parser.add_argument("--trials", type=int, help="override the study's budget")
    parser.add_argument("--first-runs", type=int, default=16)
    parser.add_argument("--margin", type=float, default=0.1)
    parser.add_argument("--defer", type=int, default=0,
                        help="early_stop.defer: a survivor's other sessions wait for this many later trials")
    parser.add_argument("--early-defer", type=int, default=0,
                        help="the early-stopping study itself defers survivors (early_stop.defer)")
    parser.add_argument("--runs", type=int, default=1, help="studies one after another (the median is the figure)")
    parser.add_argument("--control", action="store_true",
                        help="replay under the full protocol twice: the noise floor of comparing Pareto sets")
    parser.add_argument("--confirm", action="store_true",
                        help="run the confirm phase on every study and compare the confirmed Pareto sets too")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    from request_dse.results import candidate_label
    from request_dse.search.front import NOISE_QUANTILE, covering

    runs = []
    for i in range(args.runs):
        runs.append(one_run(args, args.keep / f"run{i}" if args.keep and args.runs > 1 else args.keep))
        print(f"run {i + 1}: {runs[-1]['saved']:.0%} less measurement time, "
              f"{len(runs[-1]['stopped'])} stopped"
              + (f"; deferred: {runs[-1]['deferred']['saved']:.0%}, {runs[-1]['deferred']['stopped']} stopped"
                 if runs[-1]["deferred"] else ""), file=sys.stderr)
    savings = sorted(r["saved"] for r in runs)
    median = statistics.median(savings)
    last = runs[-1]
    plan, recs, stopped, full = last["plan"], last["recs"], last["stopped"], last["full"]
    tune_wall, replay_wall, t_full, t_early = last["tune_wall"], last["replay_wall"], last["t_full"], last["t_early"]
    saved, hv_full, hv_early = last["saved"], last["hv_full"], last["hv_early"]
    a, b = last["front_full"], last["front_early"]
    same_everywhere = all(r["front_full"] == r["front_early"] for r in runs)
    wrong_stops = sum(len(r["wrong"]) for r in runs)
    control = args.control
    wrong_both = sum(len(r["wrong_both"]) for r in runs)
    control_same = sum(r["front_control"] == r["front_full"] for r in runs)
    names = plan.study.metric_names
    lines = [
        f"## Measurement-aware early stopping ({args.study})",
        "",
        f"{datetime.date.today().isoformat()}, {machine()}, load average {os.getloadavg()[0]:.1f}; "
        f"command: `{COMMAND}`" + (f" `--study {args.study}`" if args.study != "quickstart" else "")
        + (f" `--trials {args.trials}`" if args.trials else "") + (f" `--runs {args.runs}`" if args.runs > 1 else "")
        + (" `--control`" if args.control else "") + (" `--confirm`" if args.confirm else "")
        + (f" `--defer {args.defer}`" if args.defer else "")
        + (f" `--early-defer {args.early_defer}`" if args.early_defer else ""),
        "",
    ]
    if args.runs > 1:
        lines += [f"{args.runs} studies one after another; the candidate sequence differs between them (the sampler "
                  "sees measured figures, which are noisy), and so does what early stopping can stop. Measurement "
                  f"time saved, candidate by candidate: **median {median:.0%}** (runs: {', '.join(f'{x:.0%}' for x in savings)}); wrong stops "
                  f"(a stopped candidate on the full protocol's front): **{wrong_stops}**; the same Pareto set in "
                  f"{sum(r['front_full'] == r['front_early'] for r in runs)} of {args.runs}."
                  + (f" Control (the full protocol replayed twice): the same Pareto set in {control_same} of "
                     f"{args.runs}; stopped candidates on both full fronts: **{wrong_both}**." if control else ""), "",
                  "| run | candidates stopped | measurement time, full protocol (s) | with early stopping (s) | saved "
                  "(candidate by candidate) | saved (totals) | wrong stops | same Pareto set |"
                  + (" full vs full: same Pareto set | wrong stops on both full fronts |" if control else ""),
                  "|---|---|---|---|---|---|---|---|" + ("---|---|" if control else "")]
        lines += [f"| {i + 1} | {len(r['stopped'])} of {len(r['recs'])} | {r['t_full']:.1f} | {r['t_early']:.1f} | "
                  f"{r['saved']:.0%} | {r['totals_saved']:.0%} | {len(r['wrong'])} | "
                  f"{'yes' if r['front_full'] == r['front_early'] else 'no'} |"
                  + (f" {'yes' if r['front_control'] == r['front_full'] else 'no'} | {len(r['wrong_both'])} |"
                     if control else "") for i, r in enumerate(runs)]
        lines += ["", "The last run in detail:", ""]
    lines += [
        f"One `request-dse tune` of studies/{args.study}.yaml with `measure.early_stop: {{enabled: true, first_runs: "
        f"{args.first_runs}, margin: {args.margin}"
        + (f", defer: {args.early_defer}" if args.early_defer else "") + f"}}` ({tune_wall:.0f} s); then the same candidates in the same "
        f"order with the full protocol ({replay_wall:.0f} s).",
        "",
        "| | full protocol | early stopping |",
        "|---|---|---|",
        f"| trials measured | {len(recs)} | {len(recs)} ({len(stopped)} stopped early, `dominated_early`) |",
        f"| total measurement time (sum of session wall times) | {t_full:.1f} s | {t_early:.1f} s "
        f"({last['totals_saved']:.0%} less) |",
        f"| measurement time saved, candidate by candidate | | **{saved:.0%}** |",
        f"| Pareto set | {len(a)} trials, hypervolume {hv_full:.4g} | {len(b)} trials, hypervolume {hv_early:.4g} |",
        f"| stopped candidates on the full protocol's front (wrong stops) | | **{len(last['wrong'])}** |",
        f"| same Pareto set (candidates) | | {'yes' if a == b else 'no'} |",
        *([f"| control: a second full replay, same Pareto set as the first | "
           f"{'yes' if last['front_control'] == a else 'no'} | |",
           f"| stopped candidates on both full fronts | | **{len(last['wrong_both'])}** |"] if control else []),
        "",
    ]
    if a != b:
        lines.append("Candidates that differ:")
        for h in sorted(a ^ b):
            r = next(x for x in recs if x.hash == h)
            figures = "; ".join(f"{m} {r.metrics.get(m, float('nan')):.4g} / {full[h].metrics.get(m, float('nan')):.4g}"
                                for m in names)
            lines.append(f"- trial {r.number} {candidate_label(r.params)} ({r.status} with early stopping): on the "
                         f"{'full protocol' if h in a else 'early-stopping'} front only; {figures} "
                         "(early stopping / full protocol)")
        lines.append("")
    if stopped:
        lines += ["Stopped candidates, their estimate when stopped and the full protocol's figures (\u2264: the most "
                  "accuracy could be, where the judge stopped the candidate before its held-out split was all scored):",
                  "", f"| trial | candidate | {' | '.join(f'{m} (estimate / full)' for m in names)} |",
                  "|---|---|" + "---|" * len(names)]
        for r in stopped:
            bound = "\u2264 " if r.info.get("scored") else ""
            cells = [f"{bound if m.startswith('accuracy_') else ''}{r.metrics.get(m, float('nan')):.4g} / "
                     f"{full[r.hash].metrics.get(m, float('nan')):.4g}" for m in names]
            second = " (second look)" if (r.info.get("early_stop") or {}).get("confirmed") else ""
            lines.append(f"| {r.number} | {candidate_label(r.params)}{second} | {' | '.join(cells)} |")
        lines.append("")
    in_session = sum(1 for r in stopped if (r.info.get("early_stop") or {}).get("in_session"))
    looked = [r for r in recs if "measure_second_look_s" in r.timings]
    kept = [r for r in looked if r.status == "ok"]
    stopped_s = sum(r.metrics.get("measure_time_s", 0.0) for r in stopped)
    biases = [float(r.info["judge_bias"]) for r in recs if r.info.get("judge_bias") is not None]
    spreads = [float(r.info["session_spread"]) for r in recs if r.status == "ok" and r.info.get("session_spread")]
    rows = [r.info["scored"] for r in stopped if r.info.get("scored")]
    scored = (f"; {len(rows)} of them stopped while their held-out split was being scored, after a median "
              f"{statistics.median(x['rows'] for x in rows):.0f} of its {rows[0]['of']} rows" if rows else "")
    lines += [f"How it saves: {len(stopped)} of {len(recs)} candidates stopped, {in_session} of them inside their "
              "judging session (its judge looks after `first_runs` timed runs and at every doubling, and while it "
              f"scores the held-out split, the study's hardest rows first{scored}), so a stopped candidate costs a "
              f"worker, loading, some scored rows and a few runs ({stopped_s:.1f} s for all {len(stopped)}) instead of "
              + (f"{plan.study.measure.repeats} sessions" if plan.study.measure.repeats > 1 else "a full session") + ". "
              f"Doubtful stops that took a second look: {len(looked)} ({len(kept)} of those candidates kept). "
              "The judging margin is the larger of `margin` and the gap between a survivor's judging estimate and "
              f"its final figures that {NOISE_QUANTILE:.0%} of the survivors' gaps do not exceed (at the study's end: "
              f"{covering(biases) if biases else 0.0:.0%}; "
              f"survivors' gaps: {', '.join(f'{b:.0%}' for b in sorted(biases)) or 'none'}; the widest spread "
              f"between two sessions of a candidate was {max(spreads, default=0.0):.0%}).", ""]
    figure = f"median {median:.0%} less over {args.runs} runs" if args.runs > 1 else f"{saved:.0%} less"
    if args.confirm:
        c_wrong = [[r for r in run["stopped"] if r.hash in run["confirmed"]["full"]] for run in runs]
        c_both = [[r for r in wrong if r.hash in (run["confirmed"]["control"] or set())]
                  for run, wrong in zip(runs, c_wrong)]
        lines += [f"After the confirm phase (`--confirm`: on each study, every candidate on the front within noise "
                  f"measured again in {plan.study.confirm.repeats} fresh sessions and the front recomputed on those "
                  "figures), the confirmed Pareto sets: wrong stops (a stopped candidate in the full protocol's "
                  f"confirmed set) **{sum(map(len, c_wrong))}**"
                  + (f", of them in both full replays' confirmed sets **{sum(map(len, c_both))}**" if control else "")
                  + ".", "",
                  "| run | confirmed set, early stopping | full protocol | same | wrong stops |"
                  + (" control: same as the full replay's | wrong stops in both full sets |" if control else ""),
                  "|---|---|---|---|---|" + ("---|---|" if control else "")]
        for i, (run, wrong, both) in enumerate(zip(runs, c_wrong, c_both)):
            number = {r.hash: r.number for r in run["recs"]}
            e, f, c = run["confirmed"]["early"], run["confirmed"]["full"], run["confirmed"]["control"]
            trials = lambda hs: ", ".join(str(n) for n in sorted(number[h] for h in hs))  # noqa: E731
            lines.append(f"| {i + 1} | {trials(e)} | {trials(f)} | {'yes' if e == f else 'no'} | "
                         f"{trials(r.hash for r in wrong) or 0} |"
                         + (f" {'yes' if c == f else 'no'} | {trials(r.hash for r in both) or 0} |" if control else ""))
        lines.append("")
        wrong_stops = sum(map(len, c_wrong))
        wrong_both = sum(map(len, c_both))
        same_everywhere = all(run["confirmed"]["early"] == run["confirmed"]["full"] for run in runs)
        control_same = sum(run["confirmed"]["control"] == run["confirmed"]["full"] for run in runs)
    judged = "confirmed " if args.confirm else ""
    lines.append(f"Goal (at least 40% less measurement time, no candidate of the full protocol's {judged}front stopped): "
                 f"{'met' if median >= 0.4 and not wrong_stops else 'not met'} ({figure}; {wrong_stops} wrong stops; "
                 f"{judged}Pareto sets {'equal' if same_everywhere else 'differ'}"
                 + (" in every run" if args.runs > 1 and same_everywhere else "")
                 + (f"; two full replays agree in {control_same} of {args.runs}, {wrong_both} stopped candidates "
                    "on both full fronts" if control else "") + ").")
    if args.defer:
        d = [r["deferred"] for r in runs]
        d_median = statistics.median(x["saved"] for x in d)
        lines += ["", f"Deferred survivors (`early_stop.defer: {args.defer}`), the same candidate sequence replayed "
                  "once more with early stopping and deferral, against the same full replay: measurement time saved "
                  f"**median {d_median:.0%}** (runs: {', '.join(format(x['saved'], '.0%') for x in d)}; early stopping "
                  f"alone: {', '.join(format(r['saved'], '.0%') for r in runs)}); candidates stopped: "
                  f"{', '.join(str(x['stopped']) for x in d)} (of them stopped while waiting: "
                  f"{', '.join(str(x['rejudged']) for x in d)}); wrong stops: {sum(len(x['wrong']) for x in d)}."]
    stem = "early_stopping" + ("" if args.study == "quickstart" else f"_{args.study.replace('-', '_')}")
    write_section(RESULTS.with_name(f"{stem}.md"), lines)


if __name__ == "__main__":
    main()
