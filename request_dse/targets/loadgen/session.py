"""A measurement session that drives MLPerf LoadGen (runs in a worker process).

With ``measure.protocol: loadgen``: load the artifact (scoring it as every session does), warm
it up, then -- when scored -- a LoadGen accuracy run whose log must agree with the scored
answers, then the scenario's performance run (for Server, the search for the highest valid
QPS). With ``compliance``, TEST01 and TEST04 follow. With the request-dse protocol and
``compliance``, the session times the protocol first and then runs only the compliance tests
(single_stream, short settings), so a validation checks every bundle the same way.

Everything LoadGen wrote stays in a folder of its own under ``request.log_dir``
(``session-<id>/``), described by ``session.json``.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from request_dse.protocol import LoadGenConfig
from request_dse.targets._base import SessionRequest, SessionResult
from request_dse.targets.loadgen.compliance import run_tests
from request_dse.targets.loadgen.harness import Harness, Run
from request_dse.targets.loadgen.server import search
from request_dse.targets.loadgen.settings import RunSettings, run_settings
from request_dse.targets.session import Loaded, finish, load_and_score, time_runs

SESSION_FILE = "session.json"
#: What the compliance tests of a request-dse protocol session use.
COMPLIANCE_ONLY = LoadGenConfig(min_duration_ms=500)


def _warm(loaded: Loaded, request: SessionRequest) -> float:
    """Warm-up runs, each on other samples (a cache of results must not make the estimate); the
    median run time (s) of one batch, what LoadGen's settings are sized from."""
    bs, x = request.batch_size, loaded.x_eval
    placed = [loaded.session.place(np.ascontiguousarray(np.resize(x[i * bs:(i + 1) * bs] if len(x) > i * bs else x[:bs],
                                                                  (bs, *x.shape[1:]))))
              for i in range(min(8, max(1, len(x) // bs)))]
    times = []
    for k in range(max(5, request.protocol.warmup_runs)):
        t = time.perf_counter()
        loaded.session.run(placed[k % len(placed)])
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def _accuracy(harness: Harness, settings: RunSettings, folder: Path, loaded: Loaded,
              labels: np.ndarray | None) -> dict[str, Any]:
    """LoadGen's accuracy run, checked against the scored answers; writes ``accuracy.txt``."""
    harness.run(settings.at(mode="accuracy"), folder)
    logged = harness.predictions(folder)
    scored = loaded.top5[:, 0] if loaded.top5 is not None else None
    wrong = sorted(i for i, cls in logged.items() if scored is not None and int(scored[i]) != cls)
    out: dict[str, Any] = {"samples": len(logged), "disagree": len(wrong), "first_disagreeing": wrong[:10]}
    if labels is not None and logged:
        good = sum(1 for i, cls in logged.items() if int(labels[i]) == cls)
        out["accuracy_top1"] = good / len(logged)
        (folder / "accuracy.txt").write_text(f"accuracy={100.0 * good / len(logged):.3f}%, good={good}, "
                                             f"total={len(logged)}\n")
    return out


def _performance(harness: Harness, settings: RunSettings, folder: Path, budget_s: float) -> tuple[Run | None, Any]:
    if settings.scenario != "server":
        run = harness.run(settings, folder / "performance" / "run_1")
        ips = run.figures.get("offline_ips")
        if settings.scenario == "offline" and not run.figures.get("loadgen_valid") and ips:
            # the warm-up underestimated the throughput (a busy machine while it ran), so the one
            # query ended before the minimum duration: size it from what this run achieved
            run = harness.run(settings.at(target_qps=max(2 * settings.target_qps, 1.2 * ips)),
                              folder / "performance" / "run_1")
        return run, None
    best, tried = search(harness.run, settings, folder / "search", budget_s)
    if best is None:
        return None, tried
    reported = folder / "performance" / "run_1"
    shutil.copytree(best.folder, reported)
    return dataclasses.replace(best, folder=reported), tried


def _response_path(run: Run) -> dict[str, float]:
    """In SingleStream, LoadGen's p90 counts the run of the session (timed inside the SUT, as the
    request-dse protocol times it) and the path around it: the callback into Python, reading the
    answer, the completion call. Both p90s, so a reader sees what the harness adds."""
    p90 = run.figures.get("loadgen_p90_ms")
    if run.settings.scenario != "single_stream" or p90 is None or not len(run.samples_ns):
        return {}
    inner = float(np.quantile(run.samples_ns, 0.90, method="inverted_cdf")) / 1e6
    return {"sut_run_p90_ms": inner, "response_path_p90_ms": p90 - inner}


def measure_session(request: SessionRequest) -> SessionResult:
    """One session (see the module's docstring); LoadGen's outcome in ``SessionResult.loadgen``."""
    loaded = load_and_score(request)
    protocol = request.protocol
    samples, energy, judged = ((np.empty(0, np.int64), None, None) if protocol.uses_loadgen
                               else time_runs(loaded, request))
    batch_time = _warm(loaded, request)
    root = request.log_dir or Path(tempfile.gettempdir())
    root.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="session-", dir=root))
    config, scenario = ((protocol.loadgen, protocol.scenario) if protocol.uses_loadgen
                        else (COMPLIANCE_ONLY, "single_stream"))
    settings = run_settings(config, scenario, batch_time_s=batch_time, batch_size=request.batch_size,
                            samples=len(loaded.x_eval))
    with np.load(request.prepared.data_path) as data:
        labels = data["y_eval"] if "y_eval" in data.files else None
    doc: dict[str, Any] = {"dir": str(folder), "scenario": scenario, "protocol": protocol.protocol,
                           "batch_time_s": batch_time}
    if request.score:
        doc["scored_dir"] = str(folder)  # where the accuracy run and the compliance tests are
    # Server queries batch up in a worker thread only when a batch holds more than one sample: a
    # hand-over between threads costs more than a small candidate's run.
    harness = Harness(loaded.session, loaded.x_eval, request.batch_size,
                      threaded=scenario == "server" and request.batch_size > 1)
    try:
        if protocol.uses_loadgen and request.score:
            doc["accuracy"] = _accuracy(harness, settings, folder / "accuracy", loaded, labels)
        run = None
        if protocol.uses_loadgen:
            run, tried = _performance(harness, settings, folder, config.server_search_s)
            if tried is not None:
                doc["server_search"] = tried
            if run is not None:
                samples = run.samples_ns
                doc.update(figures=run.figures, settings=dataclasses.asdict(run.settings))
                doc.update(_response_path(run))
            else:
                doc["figures"] = {"loadgen_valid": 0.0}
                lowest = min((t["qps"] for t in tried), default=settings.target_qps)
                doc["error"] = (f"no offered load met the p99 bound of {config.target_latency_ms} ms "
                                f"(lowest tried: {lowest:.3g} QPS)")
        if request.compliance and loaded.top5 is not None:
            expected = {i: int(c) for i, c in enumerate(loaded.top5[:, 0])}
            use = run.settings if run is not None else settings
            doc["compliance"] = run_tests(harness, use, folder, expected, run)
    finally:
        harness.close()
    (folder / SESSION_FILE).write_text(json.dumps(doc, indent=1, default=str) + "\n")
    if not len(samples):  # no valid server run: the warm-up's figure keeps the session's statistics defined
        samples = np.asarray([int(batch_time * 1e9)], dtype=np.int64)
    return finish(loaded, samples, energy, doc, judged)
