"""Repeatability of the quickstart's front: fresh `request-dse validate` runs of each bundle.

    .venv/bin/python benchmarks/repeatability.py [--runs 5] [--before CHECKOUT]

Runs `request-dse tune studies/quickstart.yaml` from an empty cache (confirm phase on: the
bundles' figures come from fresh sessions), then validates every bundle of the front `--runs`
times, one run after another, each `request-dse validate` a fresh process. With `--before`
(another checkout of request-dse, e.g. one without slow-mode detection), each run of this
checkout is followed by one of that checkout on the same bundle, so both see the same machine.

Per candidate: the recorded p50, the re-measured p50s, their coefficient of variation (goal:
<= 3%), whether the recorded p50 lies within [min, max] of the re-measurements, the sessions set
aside as slow modes, and the wall time of one validation.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from _util import REPO, fresh_env, machine, tempdir, write_section  # noqa: I001

RESULTS = REPO / "benchmarks" / "results" / "repeatability.md"


def cli(checkout: Path, *args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**env, "PYTHONPATH": str(checkout)}
    return subprocess.run([sys.executable, "-m", "request_dse", *args], env=env, cwd=cwd, capture_output=True,
                          text=True)


def quickstart(tmp: Path, env: dict[str, str]) -> list[Path]:
    study = tmp / "quickstart.yaml"
    study.write_text((REPO / "studies" / "quickstart.yaml").read_text()
                     + f"\nwork_dir: {tmp / 'work'}\ntracking: {{enabled: false}}\n")
    shutil.copytree(REPO / "search_spaces", tmp / "search_spaces")
    run = cli(REPO, "tune", str(study), "-q", env=env, cwd=tmp)
    if run.returncode != 0:
        raise SystemExit(run.stderr[-3000:])
    return sorted(p for p in (tmp / "submissions" / "quickstart").iterdir() if p.is_dir())


def validate(checkout: Path, bundle: Path, env: dict[str, str]) -> dict[str, object]:
    started = time.perf_counter()
    run = cli(checkout, "validate", str(bundle), "--target", "local-cpu", env=env, cwd=bundle.parent)
    wall = time.perf_counter() - started
    verdict = json.loads((bundle / "validation.json").read_text())
    check = next((c for c in verdict["checks"] if c["metric"] == "latency_p50_ms"), {})
    report = verdict["info"].get("sessions") or {}
    return {"p50_ms": check.get("measured"), "low": check.get("measured_low"), "high": check.get("measured_high"),
            "status": verdict["status"], "wall_s": wall, "code": run.returncode,
            "discarded": len(report.get("discarded", [])),
            "windows": (report.get("windows") or {}).get("measured", 0) - (report.get("windows") or {}).get("kept", 0)}


def summary(recorded: float, runs: list[dict[str, object]]) -> tuple[str, float, str]:
    """The re-measured p50s, their CV, and whether the recorded p50 lies within [min, max] of them
    and within the span of their own 95% intervals."""
    done = [r for r in runs if r["p50_ms"] is not None]
    p50s = np.array([r["p50_ms"] for r in done], dtype=float)
    if len(p50s) < 2:
        return "-", float("nan"), "-"
    cv = float(p50s.std(ddof=1) / p50s.mean())
    low = min(float(r["low"] if r["low"] is not None else r["p50_ms"]) for r in done)  # type: ignore[arg-type]
    high = max(float(r["high"] if r["high"] is not None else r["p50_ms"]) for r in done)  # type: ignore[arg-type]
    within = (f"{'yes' if p50s.min() <= recorded <= p50s.max() else 'no'} / "
              f"{'yes' if low <= recorded <= high else 'no'} [{low * 1e3:.1f}, {high * 1e3:.1f}]")
    return ", ".join(f"{v * 1e3:.1f}" for v in p50s), cv, within


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", type=Path, help="another checkout to compare with (alternating runs)")
    args = parser.parse_args()
    checkouts = {"this": REPO, **({"before": args.before.resolve()} if args.before else {})}
    started = time.perf_counter()
    with tempdir() as tmp_name:
        tmp = Path(tmp_name)
        env = fresh_env(tmp)
        env.setdefault("REQUEST_DSE_PLUGINS", os.environ.get("REQUEST_DSE_PLUGINS", ""))
        bundles = quickstart(tmp, env)
        rows, met = [], {name: [0, 0, 0, 0] for name in checkouts}   # candidates; CV <= 3%; within range; interval
        for bundle in bundles:
            doc = json.loads((bundle / "submission.json").read_text())
            recorded = float(doc["metrics"]["latency_p50_ms"]["value"])
            runs: dict[str, list[dict[str, object]]] = {name: [] for name in checkouts}
            for _ in range(args.runs):
                for name, checkout in checkouts.items():
                    runs[name].append(validate(checkout, bundle, env))
            for name in checkouts:
                shown, cv, within = summary(recorded, runs[name])
                met[name][0] += 1
                met[name][1] += int(cv <= 0.03)
                met[name][2] += int(within.startswith("yes"))
                met[name][3] += int(within.split(" / ")[-1].startswith("yes"))
                statuses = sorted({str(r["status"]) for r in runs[name]})
                rows.append(f"| {doc['label']} | {name} | {recorded * 1e3:.1f} | {shown} | {cv:.1%} | "
                            f"{within} | {sum(int(r['discarded']) for r in runs[name])} / "
                            f"{sum(int(r.get('windows', 0)) for r in runs[name])} | "
                            f"{np.median([float(r['wall_s']) for r in runs[name]]):.1f} | {', '.join(statuses)} |")
    head = ("checkouts: this one and " + str(args.before)) if args.before else "this checkout"
    lines = ["## Repeatability", "",
             f"{args.runs} fresh `request-dse validate` runs of each bundle of the quickstart's confirmed front "
             f"({head}), measured {time.strftime('%Y-%m-%d')} on {machine()} in {time.perf_counter() - started:.0f} s, "
             "with:", "", "    .venv/bin/python benchmarks/repeatability.py"
             + (f" --runs {args.runs} --before {args.before}" if args.before or args.runs != 5 else ""), "",
             "Goal: CV of p50 <= 3% and the recorded p50 within the re-measurements' interval. 'recorded "
             "within': within [min, max] of the re-measured p50s / within the span of their own 95% intervals "
             "(shown). 'set aside': sessions / windows of runs discarded as slow over all runs.", "",
             "| candidate | code | recorded p50 (us) | re-measured p50s (us) | CV | recorded within | set aside "
             "(sessions / windows) | validate wall (s) | statuses |", "|---|---|---|---|---|---|---|---|---|", *rows, "",
             "Goal met: " + "; ".join(f"{name}: CV <= 3% for {m[1]} of {m[0]} candidates, recorded p50 within the "
                                      f"re-measurements' 95% intervals for {m[3]} of {m[0]} (within their "
                                      f"[min, max] for {m[2]})" for name, m in met.items()) + ".", ""]
    write_section(RESULTS, lines)


if __name__ == "__main__":
    main()
