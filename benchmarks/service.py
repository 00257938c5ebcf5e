"""The tournament service at the scale of a tournament: submissions accepted per second, and the
scoreboard's response time with 1,000 entries, on SQLite (the embedded default) and PostgreSQL.

    .venv/bin/python benchmarks/service.py [--entries 1000] [--clients 4] [--rounds 2]

A real ``request-dse serve`` process (validation off: ``workers: 0``, so only intake is
measured) takes ``--entries`` distinct bundles -- one real bundle of a one-trial study, with a
different label in each copy and its checksums rewritten, as a ``.tar.gz`` -- from ``--clients``
concurrent HTTP clients. Every upload is checked as in production: archive limits, safe
extraction, every checksum, the schema, the track's rules; then stored and recorded. With the
entries in, it times ``GET /`` (the whole scoreboard page): the first request (every bundle's
documents parsed), just after a change (the board rebuilt from the columns that change,
frontiers and hypervolumes computed, HTML rendered) and unchanged (served from the cache of that
revision), and ``GET /api/v1/entries``: medians of ``--requests`` requests.
The two databases alternate, round by round, on a fresh database each time. Writes
``benchmarks/results/service.md``.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import statistics
import sys
import tarfile
import threading
import time
from pathlib import Path

import yaml
from _util import REPO, machine, request_dse, tempdir, write_section

sys.path.insert(0, str(REPO))

from request_dse.testing.postgres import start_postgres  # noqa: E402
from request_dse.testing.service import ServerProcess, http  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "service.md"
COMMAND = ".venv/bin/python benchmarks/service.py"


def base_bundle(tmp: Path) -> Path:
    study = {"name": "bench", "workload": "digits", "target": "local-cpu",
             "frameworks": {"onnxruntime": {"graph_optimization_level": ["all"]}},
             "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [4],
                                      "model.precision": ["fp32"]}},
             "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}], "budget": {"trials": 1},
             "sampler": {"name": "random", "seed": 0}, "tracking": {"enabled": False}, "cache": False,
             "measure": {"warmup_runs": 2, "min_runs": 20, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1}}
    (tmp / "bench.yaml").write_text(yaml.safe_dump(study))
    done = request_dse("tune", str(tmp / "bench.yaml"), "-q", env=None, cwd=tmp)  # type: ignore[arg-type]
    assert done.returncode == 0, done.stderr
    return next(p for p in (tmp / "submissions" / "bench").iterdir() if p.is_dir())


def variants(bundle: Path, n: int) -> list[bytes]:
    """``n`` archives of the bundle, each with its own label (and so its own content digest)."""
    files = {p.relative_to(bundle).as_posix(): p.read_bytes() for p in sorted(bundle.rglob("*")) if p.is_file()
             and p.name not in ("checksums.sha256", "validation.json")}
    doc = json.loads(files["submission.json"])
    out = []
    for i in range(n):
        doc["label"] = f"bench entry {i}"
        files["submission.json"] = json.dumps(doc, indent=1).encode()
        sums = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in sorted(files.items()))
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
            for name, data in [*sorted(files.items()), ("checksums.sha256", sums.encode())]:
                info = tarfile.TarInfo(f"bench-{i}/{name}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        out.append(buf.getvalue())
    return out


def tournament(folder: Path, database: str | None) -> Path:
    doc = yaml.safe_load((REPO / "tournaments" / "example.yaml").read_text())
    doc["validation"] = {"workers": 0}
    doc["limits"] = {"requests_per_minute": 1_000_000, "submissions_per_hour": 1_000_000}
    if database:
        doc["database"] = database
    folder.mkdir(parents=True)
    path = folder / "tournament.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def submit_all(server: ServerProcess, token: str, archives: list[bytes], clients: int) -> float:
    """Seconds to have every archive accepted by ``clients`` concurrent uploaders."""
    todo = list(range(len(archives)))
    lock = threading.Lock()
    failures: list[str] = []

    def uploader() -> None:
        while True:
            with lock:
                if not todo:
                    return
                i = todo.pop()
            reply = http("POST", f"{server.url}/api/v1/submissions", token=token, body=archives[i],
                         headers={"Content-Type": "application/gzip"})
            if reply.status != 201:
                failures.append(f"{reply.status} {reply.body[:200]!r}")

    threads = [threading.Thread(target=uploader) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert not failures, failures[:3]
    return elapsed


def timed(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    reply = http("GET", url)
    assert reply.status == 200, reply.status
    return time.perf_counter() - started, len(reply.body)


def page_times(server: ServerProcess, database: str, requests: int) -> dict[str, float]:
    import sqlalchemy as sa

    engine = sa.create_engine(database)
    rebuilt, cached, api = [], [], []
    first = timed(server.url + "/")[0]  # every bundle's documents parsed for the first time
    size = 0
    try:
        for _ in range(requests):
            with engine.begin() as conn:  # a change: the next page is built afresh
                conn.execute(sa.text("UPDATE meta SET value = value + 1 WHERE key = 'revision'"))
            seconds, size = timed(server.url + "/")
            rebuilt.append(seconds)
            cached.append(timed(server.url + "/")[0])
            api.append(timed(server.url + "/api/v1/entries")[0])
    finally:
        engine.dispose()
    return {"first": first, "rebuilt": statistics.median(rebuilt), "cached": statistics.median(cached),
            "api": statistics.median(api), "size_kb": size / 1024}


def one_run(kind: str, tmp: Path, archives: list[bytes], clients: int, requests: int, pg: object) -> dict[str, float]:
    from request_dse.service import load_tournament

    folder = tmp / f"{kind}-{time.monotonic_ns()}"
    database = None
    if kind == "postgresql":
        import sqlalchemy as sa

        name = f"bench_{time.monotonic_ns()}"
        admin = sa.create_engine(pg.url, isolation_level="AUTOCOMMIT")  # type: ignore[attr-defined]
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        database = pg.url.rsplit("/", 1)[0] + f"/{name}"  # type: ignore[attr-defined]
    path = tournament(folder, database)
    token = request_dse("admin", str(path), "token", "add", "bench", env=None, cwd=folder).stdout.strip()  # type: ignore[arg-type]
    server = ServerProcess(path).start()
    try:
        seconds = submit_all(server, token, archives, clients)
        times = page_times(server, load_tournament(path).database, requests)
        assert len(server.get("/api/v1/entries")) == len(archives)
    finally:
        server.stop()
    return {"accepted_per_s": len(archives) / seconds, **times}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=15)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"sqlite": [], "postgresql": []}
    load = [os.getloadavg()[0]]
    pg = start_postgres()
    try:
        with tempdir() as tmp_name:
            tmp = Path(tmp_name)
            archives = variants(base_bundle(tmp), args.entries)
            for _ in range(args.rounds):
                for kind in results:  # alternate: the machine's load drifts
                    results[kind].append(one_run(kind, tmp, archives, args.clients, args.requests, pg))
                    print(kind, results[kind][-1], flush=True)
    finally:
        pg.stop()
    load.append(os.getloadavg()[0])
    size = statistics.median(len(a) for a in archives) / 1024

    def med(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in results[kind])

    lines = ["## Tournament service (request-dse serve)", "",
             f"Measured {datetime.date.today()} on {machine()}; {args.rounds} rounds, SQLite and PostgreSQL "
             f"alternating, each on a fresh database; load average {load[0]:.1f} when it started, {load[1]:.1f} when "
             "it ended (other work shares the machine: read the figures as upper bounds).", "",
             f"Reproduce: `{COMMAND} --entries {args.entries} --clients {args.clients} --rounds {args.rounds} "
             f"--requests {args.requests}`", "",
             f"Intake: {args.entries} distinct bundles (a one-trial study's bundle, {size:.0f} KiB as .tar.gz, each "
             f"with its own label) uploaded by {args.clients} concurrent HTTP clients to one server process with "
             "validation off; every upload checked as in production (archive limits, safe extraction, checksums, "
             "schema, track rules), stored and recorded. Page: `GET /` with all the entries on one track: the "
             "first request (every bundle's documents parsed), just after a change (the board rebuilt from the "
             "changed columns) and unchanged (cached per revision); `GET /api/v1/entries` (from the same board); "
             "medians "
             f"of {args.requests} requests.", "",
             "| database | submissions accepted per s | `GET /` first (s) | `GET /` after a change (s) | "
             "`GET /` unchanged (s) | `GET /api/v1/entries` (s) | page size (KiB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for kind in results:
        lines.append(f"| {kind} | {med(kind, 'accepted_per_s'):.1f} | {med(kind, 'first'):.2f} | "
                     f"{med(kind, 'rebuilt'):.3f} | "
                     f"{med(kind, 'cached'):.4f} | {med(kind, 'api'):.3f} | {med(kind, 'size_kb'):.0f} |")
    ratio = med("postgresql", "accepted_per_s") / med("sqlite", "accepted_per_s")
    lines += ["", f"PostgreSQL / SQLite, submissions per second: {ratio:.2f} (ratio of medians measured in the same "
                  "run). Per round: " + "; ".join(
                      f"{k} " + ", ".join(f"{r['accepted_per_s']:.1f}/s" for r in v) for k, v in results.items()) + "."]
    write_section(RESULTS, lines)


if __name__ == "__main__":
    main()
