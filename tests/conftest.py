"""Shared fixtures: an isolated cache, small study files, and the CLI run in-process."""

from __future__ import annotations

import contextlib
import io
import os
import signal
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"

#: The test backends (fault injection, zero cost) are plug-ins, not part of the production registry.
TESTING_PLUGINS = "request_dse.testing.faults,request_dse.testing.noop"

#: A protocol that measures in a fraction of a second (tests check behaviour, not speed).
FAST_MEASURE = {"warmup_runs": 2, "min_runs": 10, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1,
                "timeout_s": 60}


# Tests interrupt the commands they start with Ctrl-C (SIGINT). A suite started in the background
# of a non-interactive shell (`make test &`) inherits SIGINT ignored, and every command it starts
# would inherit that too; a handler, unlike an ignore, is reset to the default by exec.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.fixture(scope="session", autouse=True)
def _session_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One cache and one validation store for the session (prepared models are reused); no MLflow
    server by accident."""
    cache = tmp_path_factory.mktemp("cache")
    saved = {k: os.environ.get(k) for k in ("REQUEST_DSE_CACHE", "REQUEST_DSE_PATH", "MLFLOW_TRACKING_URI",
                                            "REQUEST_DSE_PLUGINS", "REQUEST_DSE_VALIDATIONS")}
    os.environ["REQUEST_DSE_CACHE"] = str(cache)
    os.environ["REQUEST_DSE_VALIDATIONS"] = str(tmp_path_factory.mktemp("organizer") / "validations.jsonl")
    os.environ["REQUEST_DSE_PLUGINS"] = TESTING_PLUGINS
    os.environ.pop("REQUEST_DSE_PATH", None)
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    from request_dse.execute import worker_context

    worker_context(("onnxruntime", "tvm", "tvm.relax", "tvm.relax.frontend.onnx"))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def study_doc(name: str = "t", **overrides: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "name": name,
        "workload": "digits",
        "target": "local-cpu",
        "frameworks": {"onnxruntime": {"graph_optimization_level": ["basic", "all"]}},
        "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25, 0.5],
                                 "model.resolution": [4, 8], "model.precision": ["fp32"]}},
        "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
        "budget": {"trials": 4},
        "sampler": {"name": "random", "seed": 0},
        "measure": dict(FAST_MEASURE),
        "tracking": {"enabled": False},
        "confirm": {"enabled": False},
        "cache": False,
    }
    doc.update(overrides)
    if isinstance(doc.get("confirm"), dict):  # confirmations in one go unless a test spreads them
        doc["confirm"] = {"span_s": 0.0, **doc["confirm"]}
    return doc


@pytest.fixture
def write_study(tmp_path: Path) -> Callable[..., Path]:
    """``write_study(name=..., **fields)`` -> path of a small, fast study file in tmp_path."""

    def write(name: str = "t", *, text: str | None = None, filename: str | None = None, **overrides: Any) -> Path:
        path = tmp_path / (filename or f"{name}.yaml")
        path.write_text(textwrap.dedent(text) if text is not None else yaml.safe_dump(study_doc(name, **overrides)))
        return path

    return write


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err

    def __repr__(self) -> str:
        return f"CliResult(code={self.code}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., CliResult]:
    """Run ``request-dse ARGS`` in this process; returns its exit code and output."""
    from request_dse.cli import main

    def run(*args: str | Path) -> CliResult:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_cli(*args: str | Path) -> CliResult:
    """``request-dse ARGS`` in this process (usable from fixtures of any scope)."""
    from request_dse.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return CliResult(code, out.getvalue(), err.getvalue())


def python() -> str:
    return sys.executable


def run_in_order(path: str | Path, order: Callable[[Any], Any]) -> Any:
    """Run the study at ``path`` over every candidate of its space, sorted by ``order`` (enqueued:
    the sampler is not asked), one trial at a time, so that each candidate is judged after the ones
    before it have finished; returns the finished ``Search``."""
    from request_dse.execute import make_executor
    from request_dse.search import Search
    from request_dse.study import load_plan

    plan = load_plan(path)
    runner = make_executor(plan)
    runner._capacity = 1
    search = Search(plan, runner)
    search.open()
    for candidate in sorted(plan.space.shuffled(0), key=order):
        search.study.enqueue_trial(candidate.params)
    try:
        search.run()
    finally:
        runner.shutdown()
    return search
