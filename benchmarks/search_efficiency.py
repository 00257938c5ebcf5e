"""Search efficiency of each sampler against the exhaustively recorded ground truth.

    .venv/bin/python benchmarks/search_efficiency.py --variant

Runs the normal search (request_dse.search.Search, the inline executor) on the replay study
benchmarks/tables/digits-replay.yaml -- every candidate answered from the recorded table
benchmarks/tables/digits-cpu.jsonl -- with each sampler and 40 seeds, and records the
hypervolume after every measured trial relative to the hypervolume of the exhaustive front.

The reference point is fixed: the exhaustive front's nadir (its worst value of each
objective) pushed out by 10% of the front's range, so the hypervolume measures how much of
the front a search found (a reference point at the worst of all candidates would credit any
fast, accurate candidate with most of the volume).

Reports, per sampler, the median number of trials to reach 90 / 95 / 99% of the exhaustive
hypervolume, the median fraction reached after the first trial and after 5%, 10% and 20% of
the space, each with a distribution-free 95% confidence interval of the median (order
statistics: the ranks come from the binomial(n, 1/2) quantiles, so it holds for any
distribution of the per-seed figures); writes benchmarks/results/search_efficiency.md
(table), search_efficiency.png (plot) and search_efficiency.json (every trace). A run stops
once it reached 99% and spent 20% of the space, or at ``--cap`` of the space; a target it
never reached counts as not reached ("> cap": a censored value, sorted above every reached
one, so a median or interval end that falls among the unreached seeds reads "> cap").

Where the measured trials come from: besides the sampler's own proposals, the search loop
draws unmeasured candidates at random (without replacement) from its pool whenever the
sampler keeps proposing candidates already known (request_dse/search/proposals.py). The
search does not mark those trials, so this benchmark observes the loop's proposer and counts,
per sampler, the share of measured trials that were such pool draws.

``--variant`` adds a second study the default sampler was not tuned on, from the same recorded
table (no new measurement): benchmarks/tables/digits-replay-throughput.yaml, objectives
maximize accuracy_top1 and maximize throughput_ips. Its front is all batch-8 ONNX Runtime
candidates, and the default sampler's warm start (the workload's default model at batch 1)
is far from it. Written to search_efficiency_variant.md / .json / .png.

Optuna's GP sampler refits its GP for each proposal and falls back to independent sampling
for the conditional dimensions, so many of its proposals are duplicates (told the recorded
result, never counted); before the loop drew from its pool while a sampler is stuck, one run
to 51 trials made 743 proposals in 157 s on the idle 2-core machine. So it runs its own
``--gp-seeds`` (10) up to ``--gp-cap`` of the space (5%, 26 trials) unless told otherwise; the
table says so ("-": the run was capped before that point) and gives its cost as measured.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _util import REPO, machine  # noqa: E402

STUDY = REPO / "benchmarks" / "tables" / "digits-replay.yaml"
VARIANT = REPO / "benchmarks" / "tables" / "digits-replay-throughput.yaml"
OUT = REPO / "benchmarks" / "results"
SAMPLERS = ("default", "nsga2", "tpe", "gp", "random")
TARGETS = (0.90, 0.95, 0.99)
FRACTIONS = (0.05, 0.10, 0.20)  # of the space: where the table reads each sampler's hypervolume
LEVEL = 0.95  # confidence of the intervals of the median


def load(study: Path):  # type: ignore[no-untyped-def]
    from request_dse.study import load_plan

    return load_plan(study)


def ground_truth(plan) -> tuple[np.ndarray, list[float], float, int]:  # type: ignore[no-untyped-def]
    """Exhaustive front points, the fixed reference point, its hypervolume, and the space size."""
    from request_dse import results as pareto
    from request_dse.results import read_table

    table = read_table(plan.target.table_path)
    names = plan.study.metric_names
    directions = [o.direction for o in plan.study.objectives]
    points = []
    candidates = list(plan.space.enumerate())
    for cand in candidates:
        row = table.get(cand)
        if row is not None and row.status == "ok" and all(m in row.metrics for m in names):
            points.append([row.metrics[m] for m in names])
    pts = np.array(points)
    front = pts[pareto.front(pts, directions)]
    reference = pareto.reference_point(front, directions, margin=0.1)
    hv = pareto.hypervolume(front, directions, reference)
    return front, reference, hv, len(candidates)


def run_one(args: tuple[str, str, int, int, int, list[float], float]) -> dict[str, object]:
    """One search; the hypervolume ratio after each measured trial, and which measured trials
    were the loop's pool draws rather than the sampler's proposals."""
    study_path, sampler, seed, cap, stop_after, reference, hv_star = args
    import optuna

    from request_dse import results as pareto
    from request_dse.execute import InlineExecutor
    from request_dse.search import Search, records
    from request_dse.study import SamplerConfig

    plan = load(Path(study_path))
    study = dataclasses.replace(plan.study, name=f"{sampler}-{seed}", storage="memory", trials=cap,
                                sampler=SamplerConfig(sampler, seed, {}))
    plan = dataclasses.replace(plan, study=study)
    names = study.metric_names
    directions = [o.direction for o in study.objectives]

    class StopWhenDone:
        """Ends the search once it reached 99% and spent ``stop_after`` trials."""

        def __init__(self) -> None:
            self.points: list[list[float]] = []
            self.best = 0.0

        def on_start(self, search: Search) -> None: ...

        def on_tick(self, search: Search) -> None: ...

        def on_end(self, search: Search) -> None: ...

        def on_trial(self, search: Search, rec) -> None:  # type: ignore[no-untyped-def]
            if rec.status == "ok" and all(m in rec.metrics for m in names):
                self.points.append([rec.metrics[m] for m in names])
                self.best = pareto.hypervolume(np.array(self.points), directions, reference) / hv_star
            if self.best >= 0.99 and search.counters.measured >= stop_after:
                search.exhausted = True
                search.stop_reason = "99% of the exhaustive hypervolume"

    if sampler == "gp":  # its GP fits run on torch: one thread per worker process, as the jobs share the cores
        import torch

        torch.set_num_threads(1)
    started = time.perf_counter()
    search = Search(plan, InlineExecutor(), [StopWhenDone()], cache=None)
    search.open()
    # The search does not mark the candidates its proposer drew from the pool (the random draws
    # it makes while the sampler keeps proposing known candidates): watch the proposer. A pool
    # draw is always free, so each one is measured (no cache here, no other process).
    proposer = search._proposer  # a private attribute: this benchmark only observes it
    pooled: set[str] = set()
    propose = proposer.next

    def observed(*a, **kw):  # type: ignore[no-untyped-def]
        source, candidate = propose(*a, **kw)
        if source == "pool" and candidate is not None:
            pooled.add(candidate.hash)
        return source, candidate

    proposer.next = observed  # type: ignore[method-assign]
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # GP's notes on conditional dimensions
    search.run()
    wall = time.perf_counter() - started
    measured = sorted((r for r in records(search.study) if r.measured), key=lambda r: r.number)
    trace, points = [], []
    for rec in measured:
        if rec.status == "ok" and all(m in rec.metrics for m in names):
            points.append([rec.metrics[m] for m in names])
        hv = pareto.hypervolume(np.array(points), directions, reference) if points else 0.0
        trace.append(hv / hv_star)
    return {"sampler": sampler, "seed": seed, "cap": cap, "trace": trace, "wall_s": wall,
            "pool": [int(r.hash in pooled) for r in measured], "pool_draws": proposer.pool_draws,
            "skipped": search.counters.skipped, "statuses": _count(r.status for r in measured)}


def _count(items) -> dict[str, int]:  # type: ignore[no-untyped-def]
    out: dict[str, int] = {}
    for item in items:
        out[item] = out.get(item, 0) + 1
    return out


def trials_to(trace: Sequence[float], target: float) -> float:
    for i, value in enumerate(trace):
        if value >= target - 1e-12:
            return i + 1
    return math.inf


def at(trace: Sequence[float], n: int) -> float:
    """The ratio after ``n`` trials (NaN when the run was capped before)."""
    return trace[n - 1] if len(trace) >= n else math.nan


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def median_ranks(n: int, level: float = LEVEL) -> tuple[int, int, float] | None:
    """1-based ranks (r, s) of the order statistics bracketing the median with confidence at
    least ``level`` for any continuous distribution, and that confidence: the count of samples
    below the median is binomial(n, 1/2), so [X(r), X(s)] with s = n + 1 - r covers it with
    probability 1 - 2 P(B <= r - 1). None when n is too small for any such interval."""
    tail, r, cdf = (1 - level) / 2, 0, 0.0
    for k in range(n + 1):
        cdf += math.comb(n, k) / 2**n
        if cdf > tail:
            break
        r = k + 1
    if r < 1:
        return None
    below = sum(math.comb(n, k) for k in range(r)) / 2**n
    return r, n + 1 - r, 1 - 2 * below


def median_ci(values: Sequence[float]) -> tuple[float, float, float]:
    """The median and its distribution-free interval (NaN ends when n is too small); ``inf``
    values (not reached) sort above every other, so an end among them is ``inf``."""
    xs = sorted(values)
    ranks = median_ranks(len(xs))
    if ranks is None:
        return median(xs), math.nan, math.nan
    r, s, _ = ranks
    return median(xs), xs[r - 1], xs[s - 1]


def summarize(runs: list[dict], n_space: int) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for sampler in dict.fromkeys(r["sampler"] for r in runs):
        mine = [r for r in runs if r["sampler"] == sampler]
        row: dict[str, object] = {"sampler": sampler, "seeds": len(mine),
                                  "cap": max(int(r.get("cap", len(r["trace"]))) for r in mine)}  # type: ignore[arg-type]
        for target in TARGETS:
            key = round(target * 100)
            values = [trials_to(r["trace"], target) for r in mine]  # type: ignore[arg-type]
            row[f"to_{key}"], row[f"to_{key}_lo"], row[f"to_{key}_hi"] = median_ci(values)
            row[f"reached_{key}"] = sum(v < math.inf for v in values)
            early = [r for r in mine if int(r["seed"]) < 10]  # type: ignore[call-overload]
            row[f"to_{key}_seeds0_9"] = median([trials_to(r["trace"], target) for r in early]) if early else math.nan  # type: ignore[arg-type]
        first = [r["trace"][0] if r["trace"] else 0.0 for r in mine]  # type: ignore[index]
        row["first"], row["first_lo"], row["first_hi"] = median_ci(first)
        for frac in FRACTIONS:
            key = f"at_{round(frac * 100)}"
            values = [at(r["trace"], math.ceil(frac * n_space)) for r in mine]  # type: ignore[arg-type]
            if any(math.isnan(v) for v in values):
                row[key] = row[f"{key}_lo"] = row[f"{key}_hi"] = math.nan
            else:
                row[key], row[f"{key}_lo"], row[f"{key}_hi"] = median_ci(values)
        # the loop's pool draws: over every measured trial, and over those up to the 95% target
        pool = [list(r.get("pool", [])) for r in mine]  # type: ignore[call-overload]
        row["pool_share"] = sum(map(sum, pool)) / max(1, sum(map(len, pool)))
        upto = [p[:int(min(trials_to(r["trace"], 0.95), len(p)))] for r, p in zip(mine, pool)]  # type: ignore[arg-type]
        row["pool_share_to_95"] = sum(map(sum, upto)) / max(1, sum(map(len, upto)))
        row["trials"] = sum(len(r["trace"]) for r in mine)  # type: ignore[arg-type]
        row["wall_s"] = sum(float(r["wall_s"]) for r in mine)  # type: ignore[arg-type]
        rows.append(row)
    return rows


def fmt_count(value: float, cap: int) -> str:
    if value == math.inf:
        return f"> {cap}"
    return f"{value:.0f}" if value == int(value) else f"{value:.1f}"


def fmt_trials(row: dict, key: str) -> str:  # type: ignore[type-arg]
    cap = int(row["cap"])
    text = fmt_count(row[key], cap)
    if not math.isnan(row[f"{key}_lo"]):
        text += f" [{fmt_count(row[f'{key}_lo'], cap)}, {fmt_count(row[f'{key}_hi'], cap)}]"
    return text


def fmt_ratio(row: dict, key: str) -> str:  # type: ignore[type-arg]
    if math.isnan(row[key]):
        return "-"
    text = f"{row[key]:.1%}"
    if not math.isnan(row[f"{key}_lo"]):
        text += f" [{row[f'{key}_lo'] * 100:.1f}, {row[f'{key}_hi'] * 100:.1f}]"
    return text


def markdown(rows: list[dict], n_space: int, meta: dict[str, object]) -> str:  # type: ignore[type-arg]
    lines = [
        "| sampler | seeds | HV after trial 1 | trials to 90% | trials to 95% | trials to 99% | "
        + " | ".join(f"HV at {f:.0%} of space" for f in FRACTIONS) + " | pool draws | wall (all seeds) |",
        "|---|---|---|---|---|---|" + "---|" * len(FRACTIONS) + "---|---|",
    ]
    for row in rows:
        cells = [str(row["sampler"]), str(row["seeds"]), fmt_ratio(row, "first")]
        for target in (90, 95, 99):
            cells.append(f"{fmt_trials(row, f'to_{target}')} [{row[f'reached_{target}']}/{row['seeds']}]")
        cells += [fmt_ratio(row, f"at_{round(f * 100)}") for f in FRACTIONS]
        cells.append(f"{row['pool_share']:.0%} ({row['pool_share_to_95']:.0%} to 95%)")
        cells.append(f"{row['wall_s']:.0f} s")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(runs: list[dict], n_space: int, path: Path, title: str) -> Path:  # type: ignore[type-arg]
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return _plot_svg(runs, n_space, path.with_suffix(".svg"))
    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=110)
    for sampler in dict.fromkeys(r["sampler"] for r in runs):
        traces = [r["trace"] for r in runs if r["sampler"] == sampler]
        n = max(len(t) for t in traces)
        padded = np.array([list(t) + [t[-1] if t else 0.0] * (n - len(t)) for t in traces])
        x = np.arange(1, n + 1)
        med = np.median(padded, axis=0)
        lo, hi = np.percentile(padded, 25, axis=0), np.percentile(padded, 75, axis=0)
        line, = ax.plot(x, med, label=f"{sampler} ({len(traces)} seeds)", lw=2 if sampler == "default" else 1.2)
        ax.fill_between(x, lo, hi, color=line.get_color(), alpha=0.15)
    for frac in (0.1, 0.2):
        ax.axvline(frac * n_space, color="grey", ls=":", lw=1)
        ax.text(frac * n_space, 0.02, f" {frac:.0%} of space", color="grey", fontsize=8)
    ax.axhline(0.95, color="black", ls="--", lw=0.8)
    ax.set_xlabel("trials measured")
    ax.set_ylabel("hypervolume / exhaustive front's")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=10)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _plot_svg(runs: list[dict], n_space: int, path: Path) -> Path:  # type: ignore[type-arg]
    w, h, pad = 640, 360, 40
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    n_max = max(len(r["trace"]) for r in runs)  # type: ignore[arg-type]
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">']
    for k, sampler in enumerate(dict.fromkeys(r["sampler"] for r in runs)):
        traces = [r["trace"] for r in runs if r["sampler"] == sampler]
        n = max(len(t) for t in traces)
        med = np.median(np.array([list(t) + [t[-1]] * (n - len(t)) for t in traces]), axis=0)
        pts = " ".join(f"{pad + (i + 1) / n_max * (w - 2 * pad):.1f},{h - pad - v * (h - 2 * pad):.1f}"
                       for i, v in enumerate(med))
        parts.append(f'<polyline fill="none" stroke="{colors[k % 5]}" points="{pts}"/>')
        parts.append(f'<text x="{w - 120}" y="{pad + 16 * k}" fill="{colors[k % 5]}">{sampler}</text>')
    parts.append("</svg>")
    path.write_text("\n".join(parts))
    return path


def _rel(path: Path) -> str:
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def measure(args: argparse.Namespace, study: Path, samplers: list[str]) -> tuple[dict, list[dict]]:  # type: ignore[type-arg]
    """Every sampler and seed on ``study``: the study's facts and every run."""
    from request_dse.results import read_table

    started = time.perf_counter()
    plan = load(study)
    front, reference, hv_star, n_space = ground_truth(plan)
    cap = math.ceil(args.cap * n_space)
    stop_after = math.ceil(0.2 * n_space)
    gp_cap = math.ceil(args.gp_cap * n_space)
    jobs = [(str(study), s, seed, gp_cap if s == "gp" else cap, stop_after, reference, hv_star)
            for s in samplers for seed in range(args.gp_seeds if s == "gp" else args.seeds)]
    jobs.sort(key=lambda j: j[1] != "gp")  # the slowest first
    print(f"{_rel(study)}: {len(jobs)} runs", flush=True)
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        runs = []
        for result in pool.imap_unordered(run_one, jobs):
            runs.append(result)
            print(f"{result['sampler']:>8} seed {result['seed']}: {len(result['trace'])} trials, "  # type: ignore[arg-type]
                  f"first {result['trace'][0]:.3f}, final {result['trace'][-1]:.3f}, "  # type: ignore[index]
                  f"{sum(result['pool'])} pool draws, {result['wall_s']:.1f} s", flush=True)  # type: ignore[arg-type]
    runs.sort(key=lambda r: (samplers.index(r["sampler"]), r["seed"]))  # type: ignore[arg-type]
    table = read_table(plan.target.table_path)
    meta = {"study": _rel(study), "table": _rel(table.path),
            "candidates": n_space, "table_rows": len(table), "front_size": len(front), "reference_point": reference,
            "objectives": [f"{o.direction} {o.metric}" for o in plan.study.objectives],
            "hypervolume": hv_star, "seeds": args.seeds, "cap": cap, "gp_seeds": args.gp_seeds, "gp_cap": gp_cap,
            "machine": machine(), "load_average": os.getloadavg(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "wall_s": time.perf_counter() - started}
    return meta, runs


def render(args: argparse.Namespace, stem: str, meta: dict, runs: list[dict], *, variant: bool,  # type: ignore[type-arg]
           other: dict | None = None) -> str:  # type: ignore[type-arg]
    """Write ``<stem>.json/.png/.md`` under ``args.out``; the Markdown table."""
    n_space = meta["candidates"]
    rows = summarize(runs, n_space)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps({"meta": meta, "summary": rows, "runs": runs}, default=str))
    title = (f"{', '.join(meta['objectives'])} on the recorded digits table ({n_space} candidates)\n"
             "median over seeds, IQR band")
    figure = plot(runs, n_space, args.out / f"{stem}.png", title)
    md = markdown(rows, n_space, meta)
    _write_report(args.out / f"{stem}.md", rows, md, meta, figure, runs, variant=variant, other=other)
    return md


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--study", type=Path, default=STUDY)
    parser.add_argument("--variant", type=Path, nargs="?", const=VARIANT,
                        help=f"also run a study the default sampler was not tuned on (default: {_rel(VARIANT)})")
    parser.add_argument("--samplers", default=",".join(SAMPLERS))
    parser.add_argument("--seeds", type=int, default=40)
    parser.add_argument("--cap", type=float, default=0.25, help="most trials per run, as a fraction of the space")
    parser.add_argument("--gp-seeds", type=int, default=10, help="seeds of the (slow) GP sampler")
    parser.add_argument("--gp-cap", type=float, default=0.05, help="most trials per GP run, fraction of the space")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--render", action="store_true",
                        help="only rewrite the tables, plots and reports from the last run's JSON files")
    args = parser.parse_args()
    started = time.perf_counter()
    studies = [("search_efficiency", args.study, False)]
    if args.variant is not None or (args.render and (args.out / "search_efficiency_variant.json").is_file()):
        studies.append(("search_efficiency_variant", args.variant or VARIANT, True))
    samplers = [s.strip() for s in args.samplers.split(",") if s.strip()]
    measured: list[tuple[str, dict, list[dict], bool]] = []  # type: ignore[type-arg]
    for stem, study, variant in studies:
        if args.render:
            data = json.loads((args.out / f"{stem}.json").read_text())
            measured.append((stem, data["meta"], data["runs"], variant))
        else:
            meta, runs = measure(args, study, samplers)
            measured.append((stem, meta, runs, variant))
    main_meta, main_runs = measured[0][1], measured[0][2]
    for stem, meta, runs, variant in measured:
        other = {"meta": main_meta, "rows": summarize(main_runs, main_meta["candidates"])} if variant else None
        md = render(args, stem, meta, runs, variant=variant, other=other)
        print(f"\n{stem}: {', '.join(meta['objectives'])}\n{md}")
    print(f"\n{time.perf_counter() - started:.0f} s in all")


def _first_trial(runs: list[dict]) -> float | None:  # type: ignore[type-arg]
    default_runs = [r for r in runs if r["sampler"] == "default" and r["trace"]]
    return median([r["trace"][0] for r in default_runs]) if default_runs else None


def _write_report(path: Path, rows: list[dict], md: str, meta: dict, figure: Path,  # type: ignore[type-arg]
                  runs: list[dict], *, variant: bool, other: dict | None) -> None:  # type: ignore[type-arg]
    from request_dse.search.proposals import STUCK, WINDOW

    by = {r["sampler"]: r for r in rows}
    ranks = median_ranks(int(meta["seeds"]))
    gp_ranks = median_ranks(len([r for r in runs if r["sampler"] == "gp"]))
    gp_runs = [r for r in runs if r["sampler"] == "gp"]
    gp = ""
    if gp_runs:
        gp = (f"\n**GP** ran {len(gp_runs)} seeds (its own `--gp-seeds`, not {meta['seeds']}) of at most "
              f"{meta['gp_cap']} trials each ({meta['gp_cap'] / meta['candidates']:.0%} of the space; `--gp-cap`), "
              "as it refits its GP for every proposal -- it once cost seconds per trial here. A median "
              f"{median([r['skipped'] for r in gp_runs]):.0f} proposals per run were duplicates the search skipped "
              "(it samples the conditional dimensions independently), and the loop's pool draws took over while it "
              f"was stuck ({by['gp']['pool_share']:.0%} of its trials), so this time a run took a median "
              f"{median([r['wall_s'] for r in gp_runs]):.1f} s, against "
              + ", ".join(f"{s} {median([r['wall_s'] for r in runs if r['sampler'] == s]):.1f} s"
                          for s in by if s != "gp")
              + f" for runs of up to {meta['cap']} trials. Compare it in the \"HV at 5% of space\" column"
              + (f"; its intervals are over {len(gp_runs)} seeds (the {_nth(gp_ranks[0])} and {_nth(gp_ranks[1])} "
                 f"values, coverage {gp_ranks[2]:.1%})" if gp_ranks else "") + ".\n")
    goal = ""
    if "default" in by and "random" in by:
        d95, r95 = by["default"]["to_95"], by["random"]["to_95"]
        n = meta["candidates"]
        bare = [r["to_95"] for s, r in by.items() if s not in ("default", "random")] + [r95]
        goal = (f"\n**Goal** (median trials to 95% <= 10% of the space = {0.1 * n:.0f}, and <= half of random's): "
                f"default {fmt_count(d95, meta['cap'])} vs random {fmt_count(r95, meta['cap'])}"
                + (f" (ratio {d95 / r95:.2f})" if math.isfinite(d95) and math.isfinite(r95) else "")
                + f", best bare Optuna sampler {fmt_count(min(bare), meta['cap'])}: "
                + ("met." if d95 <= 0.1 * n and d95 <= r95 / 2 else "not met.") + "\n")
    early = [f"{s} {fmt_count(r['to_95_seeds0_9'], meta['cap'])}" for s, r in by.items()
             if not math.isnan(r["to_95_seeds0_9"]) and r["seeds"] > 10]
    seeds_note = ("\nOn seeds 0-9 alone" + ("" if variant else " (the seeds of the earlier 10-seed table)")
                  + " the medians to 95% are "
                  + ", ".join(early) + " (compare the medians and intervals above).\n"
                  if early else "")
    pool = ""
    if by:
        pool = (f"\n**Pool draws** (column \"pool draws\"): when {STUCK} of a sampler's last {WINDOW} proposals were "
                "candidates already known (measured, in flight, excluded), the search loop measures a run of "
                "unmeasured candidates drawn at random without replacement instead (request_dse/search/proposals.py; "
                "the run doubles while the sampler stays stuck). The search does not mark those trials; this "
                "benchmark watched the loop's proposer and counted them: the share of all measured trials, and in "
                "brackets of the trials up to each seed's 95% point (all its trials where it never got there). "
                + ", ".join(f"{s}: {r['pool_share']:.0%} ({r['pool_share_to_95']:.0%})" for s, r in by.items())
                + ". A row with a large share is partly a random search's"
                + ("; the default sampler never proposes a known candidate, so its row is its own"
                   if "default" in by and by["default"]["pool_share"] == 0 else "") + ".\n")
    first = _first_trial(runs)
    same_first = len({tuple(r["trace"][:1]) for r in runs if r["sampler"] == "default"}) == 1
    reading = ""
    if first is not None:
        reading = (f"\n**Warm start**: the default sampler's first trial -- each backend's default flags on the "
                   f"workload's default model, its warm start -- alone reaches {first:.1%} of the exhaustive "
                   "hypervolume on this study" + (" (the same candidate for every seed)" if same_first else ""))
        if other is not None:
            main_first = _first_trial_from_rows(other["rows"])
            reading += (f", against {main_first:.1%} on the study it was tuned on "
                        f"({', '.join(other['meta']['objectives'])})" if main_first is not None else "")
        reading += ".\n"
    figure_s = _rel(figure)
    ci = (f"Every median comes with a distribution-free {LEVEL:.0%} confidence interval of the median in brackets: "
          f"the {_nth(ranks[0])} and {_nth(ranks[1])} of the {meta['seeds']} sorted per-seed values (ranks from the "
          f"binomial({meta['seeds']}, 1/2) distribution; coverage {ranks[2]:.1%})" if ranks else
          "Too few seeds for an interval of the median")
    if variant:
        heading = "## Search efficiency on a study the default sampler was not tuned on"
        intro = (f"The same recorded table, other objectives: {', '.join(meta['objectives'])} "
                 f"(`{meta['study']}`). The default sampler was developed against the accuracy/latency study above; "
                 "this one shows what generalizes"
                 + (" -- here its warm start is far from the front (every front member is a batch-8 ONNX Runtime "
                    "candidate; the warm start runs batch 1), so the table shows what its model-based search does "
                    "on its own" if meta["study"] == _rel(VARIANT) else "") + ".\n\n")
    else:
        heading = "## Search efficiency against the recorded ground truth"
        intro = ""
    text = f"""{heading}

Measured {meta['date']} on {meta['machine']} (load average
{', '.join(f'{v:.1f}' for v in meta['load_average'])} at the end); {meta['wall_s']:.0f} s wall for this study.

    .venv/bin/python benchmarks/search_efficiency.py --seeds {meta['seeds']} --variant

{intro}Replay of `{meta['table']}` ({meta['table_rows']} recorded candidates; the space of
`{meta['study']}` has {meta['candidates']}), objectives {', '.join(meta['objectives'])}.
Exhaustive front: {meta['front_size']} candidates; reference point {[round(v, 4) for v in meta['reference_point']]}
(the front's nadir pushed out by 10% of its range); hypervolume {meta['hypervolume']:.6g}.
**{meta['seeds']} seeds per sampler** (gp: {meta['gp_seeds']} seeds, at most {meta['gp_cap']} trials -- its own
`--gp-seeds`/`--gp-cap`, as it refits a GP per proposal; see below); every measured trial counts (proposals
the search skips -- duplicates, candidates the space excludes -- do not). Medians over seeds. {ci};
"> {meta['cap']}": not reached within the cap of {meta['cap']} trials (such seeds count as above every reached
one, so an interval end among them reads "> {meta['cap']}"). `[k/n]`: seeds that reached the target.
HV figures are fractions of the exhaustive front's hypervolume. Figure: `{figure_s}`.

{md}
{reading}{goal}{seeds_note}{pool}{gp}"""
    path.write_text(text)


def _nth(k: int) -> str:
    return f"{k}{'th' if 10 <= k % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(k % 10, 'th')}"


def _first_trial_from_rows(rows: list[dict]) -> float | None:  # type: ignore[type-arg]
    for row in rows:
        if row["sampler"] == "default":
            return float(row["first"])
    return None


if __name__ == "__main__":
    main()
