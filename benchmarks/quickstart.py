"""Wall time of `request-dse tune studies/quickstart.yaml` from an empty cache, and where it goes.

    .venv/bin/python benchmarks/quickstart.py

Prints a Markdown table: wall time, trials, and the fraction of wall time in which a build
ran, a measurement ran, both ran at once, and neither ran (start-up, the sampler, storage,
scoring: orchestration).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from _util import REPO, fresh_env, machine, request_dse, tempdir, union_length  # noqa: I001


def main() -> None:
    with tempdir() as tmp:
        tmp_path = Path(tmp)
        study = tmp_path / "quickstart.yaml"
        text = (REPO / "studies" / "quickstart.yaml").read_text()
        study.write_text(text + f"\nwork_dir: {tmp_path / 'work'}\n")
        for sub in ("search_spaces",):
            shutil.copytree(REPO / sub, tmp_path / sub)
        env = fresh_env(tmp_path)
        started = time.perf_counter()
        run = request_dse("tune", str(study), env=env, cwd=tmp_path)
        wall = time.perf_counter() - started
        ended = time.time()
        if run.returncode != 0:
            raise SystemExit(run.stderr[-3000:])
        report = json.loads(request_dse("report", str(study), "--json", env=env).stdout)
        builds, measures = [], []
        from request_dse.search import load_existing, records
        from request_dse.study import load_plan

        plan = load_plan(study)
        recs = [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]
        for r in recs:
            t = r.timings
            if "build_start" in t:
                builds.append((t["build_start"], t["build_end"]))
            if "measure_start" in t:
                measures.append((t["measure_start"], t["measure_end"]))
        build_s, measure_s = union_length(builds), union_length(measures)
        both_s = build_s + measure_s - union_length(builds + measures)
        last = max(end for _, end in builds + measures)
        after = ended - last  # confirm phase, submission bundles, the tracking flush, exit
        neither = wall - union_length(builds + measures) - after
        lines = [
            "## Quickstart", "",
            f"`request-dse tune studies/quickstart.yaml` from an empty cache, measured {time.strftime('%Y-%m-%d')} "
            f"on {machine()}, with:", "",
            "    .venv/bin/python benchmarks/quickstart.py", "",
            "| quickstart | value |", "|---|---|",
            f"| wall time (process start to exit) | {wall:.1f} s |",
            f"| trials measured / on the Pareto front | {len(recs)} / {len(report['pareto'])} |",
            f"| wall time with a build running | {build_s:.1f} s ({build_s / wall:.0%}) |",
            f"| wall time with a measurement running | {measure_s:.1f} s ({measure_s / wall:.0%}) |",
            f"| ... of which both at once (build on another core) | {both_s:.1f} s ({both_s / wall:.0%}) |",
            f"| orchestration during the search (start-up, sampler, storage, scoring) | {neither:.1f} s "
            f"({neither / wall:.0%}) |",
            f"| after the last trial (confirm phase, submission bundles, tracking flush) | {after:.1f} s "
            f"({after / wall:.0%}) |", ""]
        (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
        (REPO / "benchmarks" / "results" / "quickstart.md").write_text("\n".join(lines))
        print("\n".join(lines))


if __name__ == "__main__":
    main()
