"""Assemble ``benchmarks/RESULTS.md`` from the sections the benchmarks write.

    .venv/bin/python benchmarks/collect.py

Each benchmark writes its own section, with the command that reproduces it, to
``benchmarks/results/<topic>.md``; this puts them in one file, in a fixed order.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["quickstart", "reliability", "untrusted", "tracking", "executors", "tvm_tuning", "search_efficiency",
         "search_efficiency_variant", "early_stopping", "early_stopping_full_stack", "worker_start", "overhead", "overhead_10000", "profile", "profile_tracking", "tracking_scale",
         "tuned_vs_baseline", "environments", "scoreboard", "gpu"]
HEADER = """# Benchmark results

Figures measured on this project's reference machine (2 cores, no GPU), each with the command
that reproduces it. Wall-clock figures on a shared 2-core machine are noisy: compare ratios
measured within one run, not figures from different runs. Each section is written by its
benchmark into `benchmarks/results/`; `benchmarks/collect.py` assembles this file.
"""


def main() -> None:
    sections = {p.stem: p for p in (HERE / "results").glob("*.md")}
    names = [n for n in ORDER if n in sections] + sorted(set(sections) - set(ORDER))
    body = [sections[n].read_text().strip() for n in names]
    (HERE / "RESULTS.md").write_text(HEADER + "\n" + "\n\n".join(body) + "\n")
    print(f"RESULTS.md: {len(body)} sections ({', '.join(names)})")


if __name__ == "__main__":
    main()
