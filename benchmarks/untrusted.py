"""What reading input from someone else within limits costs, and what refusing a bomb costs.

    .venv/bin/python benchmarks/untrusted.py          # about 3 minutes on 2 cores

1. The checks on a normal bundle: a real digits bundle (about 100 KB) and the same bundle with a
   256 MiB artifact file added (a large model's scale), as a folder and as a .tar.gz. For each,
   the time ``read_bundle`` takes in all and the part of it spent in the limit checks (the walk
   that counts files, sizes and special files; the archive's header pass; the JSON depth check;
   the data files' header check that ``validate`` adds), each measured alone, rounds alternating.
2. A study file with and without the YAML limits (node count, depth), parsed alternately (the
   minimum of many rounds is the CPU cost; the median shows the machine's noise).
3. Sandboxed workers: the time from asking to answer for a trivial call and for one real
   measurement session of the bundle, forked from the forkserver (studies) vs a fresh bubblewrap
   process (validation), rounds alternating.
4. Bombs and malformed inputs (request_dse/testing/hostile.py, bundle_cases.py): wall time and
   peak memory of the ``request-dse`` process that refuses each.

Writes ``benchmarks/results/untrusted.md``.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._util import REPO, machine, tempdir, write_section  # noqa: E402

ROUNDS = 15


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def samples_of(fns: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, list[float]]:
    """Seconds of each function, the functions alternating within every round."""
    samples: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(timed(fn))
    return samples


def medians(fns: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in samples_of(fns, rounds).items()}


def _large(kit_bundle: Path, tmp: Path) -> Path:
    import shutil

    from request_dse.submission.checksums import write_checksums

    big = tmp / "large" / kit_bundle.name
    shutil.copytree(kit_bundle, big)
    with open(big / "artifact" / "weights.bin", "wb") as f:
        for _ in range(256):
            f.write(os.urandom(1 << 20))
    write_checksums(big)
    return big


def checks_on_bundles(kit_bundle: Path, tmp: Path) -> list[str]:
    from request_dse.bounded import read_json, size_text
    from request_dse.submission import read_bundle
    from request_dse.submission.archive import _scan_tar, make_archive
    from request_dse.submission.bundle import MAX_DOCUMENT_BYTES
    from request_dse.submission.checksums import walk
    from request_dse.submission.rerun import check_data

    rows = []
    for label, folder in (("digits bundle", kit_bundle), ("with a 256 MiB artifact file", _large(kit_bundle, tmp))):
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        archive = make_archive(folder, tmp / f"{folder.parent.name}.tar.gz")
        depth_check = lambda f=folder: [read_json(f / n, MAX_DOCUMENT_BYTES) for n in ("submission.json", "system.json")]  # noqa: E731
        plain_json = lambda f=folder: [json.loads((f / n).read_text()) for n in ("submission.json", "system.json")]  # noqa: E731

        def header_pass(a: Path = archive) -> None:
            with tarfile.open(a, "r:*") as tar:
                _scan_tar(a, tar)

        def rglob_twice(f: Path = folder) -> None:  # what listing a folder took before the limits: two rglob passes
            [p.is_symlink() for p in f.rglob("*")]
            [p.relative_to(f) for p in sorted(f.rglob("*")) if not p.is_dir() or p.is_symlink()]

        opened = read_bundle(folder)  # a folder bundle stays usable after reading
        m = medians({"read folder": lambda f=folder: read_bundle(f), "read archive": lambda a=archive: read_bundle(a),
                     "walk": lambda f=folder: walk(f), "rglob": rglob_twice, "header pass": header_pass,
                     "json with limits": depth_check, "json plain": plain_json,
                     "data headers": lambda b=opened: check_data(b)})
        json_cost = m["json with limits"] - m["json plain"]
        walk_cost = m["walk"] - m["rglob"]
        rows.append(f"| {label} ({size_text(size)}, folder) | {m['read folder'] * 1e3:.1f} | "
                    f"walk with limits {m['walk'] * 1e3:.2f} (the two rglob passes it replaces: {m['rglob'] * 1e3:.2f}); "
                    f"JSON depth check {json_cost * 1e3:+.3f} | {100 * (walk_cost + json_cost) / m['read folder']:+.1f}% |")
        rows.append(f"| {label} ({size_text(archive.stat().st_size)}, .tar.gz) | {m['read archive'] * 1e3:.1f} | "
                    f"header pass before extracting {m['header pass'] * 1e3:.1f} | "
                    f"{100 * (m['header pass'] + walk_cost + json_cost) / m['read archive']:+.1f}% |")
        rows.append(f"| {label}: data files' declared sizes (validate only) | - | {m['data headers'] * 1e3:.2f} | - |")
    return ["| bundle | read_bundle, ms (median) | what the limit checks take, ms | net share of read_bundle |",
            "|---|---|---|---|", *rows]


def yaml_checks() -> list[str]:
    import yaml

    from request_dse.yamlfile import _StrictLoader, parse_yaml

    class Unbounded(_StrictLoader):  # the same loader (duplicate keys refused) without the limits
        compose_node = yaml.composer.Composer.compose_node

    text = (REPO / "studies" / "quickstart.yaml").read_text()
    big = "\n".join(f"k{i}: {{a: [1, 2, 3], b: {{c: d}}}}" for i in range(2000))
    rows = ["| file | without the limits, ms (min / median) | with the limits, ms (min / median) | ratio of minima |",
            "|---|---|---|---|"]
    for label, doc, rounds in (("studies/quickstart.yaml", text, 60), ("2,000 keys of nested values", big, 15)):
        got = samples_of({"plain": lambda d=doc: yaml.load(d, Loader=Unbounded),  # noqa: S506
                          "strict": lambda d=doc: parse_yaml(d, "x.yaml")}, rounds)
        lo = {k: min(v) for k, v in got.items()}
        mid = {k: statistics.median(v) for k, v in got.items()}
        rows.append(f"| {label} | {lo['plain'] * 1e3:.2f} / {mid['plain'] * 1e3:.2f} | {lo['strict'] * 1e3:.2f} / "
                    f"{mid['strict'] * 1e3:.2f} | {lo['strict'] / lo['plain']:.2f}x |")
    return rows


def sandbox_sessions(kit_bundle: Path, tmp: Path) -> list[str]:
    import dataclasses

    from request_dse.execute import ProcessRunner, worker_context
    from request_dse.execute.sandbox import SandboxRunner, isolation
    from request_dse.protocol import MeasureConfig
    from request_dse.submission import read_bundle
    from request_dse.submission.rerun import prepared_of
    from request_dse.targets import SessionRequest, SessionResult
    from request_dse.targets.session import run_session
    from request_dse.testing import workers

    worker_context(("onnxruntime",))
    bundle = read_bundle(kit_bundle)
    prepared = prepared_of(bundle)
    request = SessionRequest("onnxruntime", bundle.path("artifact"), prepared, 1, 1,
                             MeasureConfig(warmup_runs=10, min_runs=200, min_time_s=0.0, max_time_s=5.0), score=True)
    forked = ProcessRunner(preload=("onnxruntime",))
    sandboxed = SandboxRunner(readonly=[kit_bundle], results=[SessionResult])  # type: ignore[list-item]
    log = tmp / "logs" / "w.log"

    def call(runner: object, fn: Callable[[object], object], arg: object) -> Callable[[], object]:
        def go() -> object:
            out = runner.run(fn, arg, timeout_s=120, memory_limit_mb=2000, cores=(0,), log_path=log)  # type: ignore[attr-defined]
            assert out.status == "ok", out
            return out
        return go

    m = medians({"forked trivial": call(forked, workers.allocate, 1), "sandboxed trivial": call(sandboxed, workers.allocate, 1),
                 "forked session": call(forked, run_session, request),
                 "sandboxed session": call(sandboxed, run_session, dataclasses.replace(request))}, rounds=9)
    return [f"Isolation here: {isolation().kind}.", "",
            "| call | forkserver worker (studies), s | sandboxed worker (validation), s | difference |", "|---|---|---|---|",
            f"| trivial call (ask to answer) | {m['forked trivial']:.3f} | {m['sandboxed trivial']:.3f} | "
            f"+{m['sandboxed trivial'] - m['forked trivial']:.3f} s |",
            f"| one ONNX Runtime measurement session of the bundle (200 runs, scored) | {m['forked session']:.3f} | "
            f"{m['sandboxed session']:.3f} | +{m['sandboxed session'] - m['forked session']:.3f} s |"]


def refusals(kit: object, tmp: Path) -> list[str]:
    from request_dse.testing import bundle_cases, hostile

    rows = ["| input | handled | exit | wall, s | peak memory, MiB |", "|---|---|---|---|---|"]
    for case in (*hostile.CASES, *bundle_cases.CASES):
        if case.available():
            rows.append(f"| {case.what} | not run here: {case.available()} | | | |")
            continue
        folder = tmp / "cases" / case.name
        outcome = hostile.run(case, folder, kit)  # type: ignore[arg-type]
        problems = outcome.problems(case, folder)
        rows.append(f"| {case.what} | {'yes' if not problems else '; '.join(problems)} | {outcome.code} | "
                    f"{outcome.wall_s:.2f} | {outcome.peak_rss_mb:.0f} |")
    return rows


def main() -> None:
    from request_dse.testing.bundles import Kit

    started = time.time()
    with tempdir() as name:
        tmp = Path(name)
        os.environ["REQUEST_DSE_CACHE"] = str(tmp / "kit" / "cache")
        kit = Kit(tmp / "kit")
        bundle = kit.bundle()
        body = ["### Limit checks on a normal bundle", "", *checks_on_bundles(bundle, tmp), "",
                "### YAML limits (expanded node count, depth) on ordinary files", "", *yaml_checks(), "",
                "### Sandboxed validation workers", "", *sandbox_sessions(bundle, tmp), "",
                "### Bombs and malformed inputs, refused", "", *refusals(kit, tmp), ""]
    lines = ["## Untrusted input: what the limits cost, what refusing costs", "",
             f"Measured {time.strftime('%Y-%m-%d')} on {machine()}, in {time.time() - started:.0f} s, with:", "",
             "    .venv/bin/python benchmarks/untrusted.py", "",
             f"Medians of {ROUNDS} rounds (9 for the workers), configurations alternating within each round (the "
             "machine is shared and noisy: compare within a table).", "", *body]
    write_section(REPO / "benchmarks" / "results" / "untrusted.md", lines)


if __name__ == "__main__":
    main()
