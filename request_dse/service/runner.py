"""Running one validation job on this machine: unpack, sandbox, wait, read the verdict.

The same function runs in the server (``executor: local``) and inside a Ray task on the node
that owns the target (``executor: ray``). It never raises: every ending is an outcome --
the verdict, a wall-clock timeout, a child that died, a sandbox that could not start.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from request_dse.service.sandbox import sandbox
from request_dse.submission.archive import safe_extract

#: Variables a job's child takes from the server (nothing else: no credentials reach bundle code).
PASSED_ENV = ("PATH", "PYTHONPATH", "VIRTUAL_ENV", "LANG", "LC_ALL", "REQUEST_DSE_PLUGINS", "REQUEST_DSE_PATH",
              "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "TVM_NUM_THREADS", "OMP_NUM_THREADS")
MAX_RESULT_BYTES = 4 << 20
OWNER = "owner.pid"
STATUSES = ("available", "functional", "reproduced", "failed")


@dataclass(frozen=True)
class JobRequest:
    job: int
    entry: str
    target: str
    target_yaml: str          # the organizer's target file, as the tournament names it
    tolerance: float
    span_s: float
    timeout_s: float
    memory_mb: int
    sandbox: str              # auto | bubblewrap | process
    hide: tuple[str, ...]     # folders the job must not see (database, bundle store)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(max(0, os.fstat(f.fileno()).st_size - 8192))
            return "\n".join(f.read().decode("utf-8", "replace").splitlines()[-lines:])
    except OSError:
        return ""


def _read_only(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if not path.is_symlink():
            mode = path.stat().st_mode
            path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def _writable(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _prepare(request: JobRequest, archive: Path, job_dir: Path) -> tuple[Path, Path]:
    bundle = safe_extract(archive, job_dir / "bundle")
    (bundle / "validation.json").unlink(missing_ok=True)  # a verdict comes from this job, never from the bundle
    _read_only(job_dir / "bundle")
    work = job_dir / "work"
    for sub in ("targets", "tmp", "home", "cache"):
        (work / sub).mkdir(parents=True)
    (work / "targets" / f"{request.target}.yaml").write_text(request.target_yaml)
    return bundle, work


def _outcome(raw: bytes, code: int | None, log: Path, timed_out: bool, timeout_s: float) -> dict[str, Any]:
    if timed_out:
        return {"status": "failed", "reason": f"the validation took longer than {timeout_s:g} s and was stopped",
                "log_tail": _tail(log)}
    try:
        result = json.loads(raw.decode("utf-8")) if raw else None
    except (ValueError, UnicodeDecodeError):
        result = None
    if not isinstance(result, dict) or result.get("status") not in STATUSES:
        how = f"exit code {code}" if code is None or code >= 0 else f"signal {signal.Signals(-code).name}"
        return {"status": "failed", "reason": f"the validation process ended without a verdict ({how})",
                "log_tail": _tail(log)}
    if result["status"] == "failed":
        result["log_tail"] = _tail(log)
    return result


def run_job(request: JobRequest, archive: Path, cancel: threading.Event | None = None) -> dict[str, Any]:
    """Validate the bundle in ``archive`` in a sandboxed child; the verdict as a JSON-ready dict
    (``status``, ``reason``, checks, ``isolation``, ``node``). ``cancel`` stops it early."""
    node = socket.gethostname()
    sweep_job_dirs()
    job_dir = Path(tempfile.mkdtemp(prefix=f"request-dse-job{request.job}-"))
    (job_dir / OWNER).write_text(str(os.getpid()))
    try:
        try:
            bundle, work = _prepare(request, archive, job_dir)
            box = sandbox(request.sandbox, job_dir, bundle, [Path(p) for p in request.hide], work)
        except Exception as exc:  # noqa: BLE001 - a job that cannot start is an outcome too
            return {"status": "failed", "reason": f"the job could not start: {type(exc).__name__}: {exc}",
                    "isolation": "", "node": node}
        env = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
        env.update(HOME=str(work / "home"), TMPDIR=str(work / "tmp"), REQUEST_DSE_CACHE=str(work / "cache"),
                   PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
        reader, writer = os.pipe()
        (work / "request.json").write_text(json.dumps({
            "bundle": str(bundle), "target": request.target, "tolerance": request.tolerance,
            "span_s": request.span_s, "timeout_s": request.timeout_s, "memory_mb": request.memory_mb,
            "sandbox": box.kind, "parent": os.getpid() if box.kind == "process" else None}))
        log = job_dir / "job.log"
        with open(log, "wb") as out:
            try:
                proc = subprocess.Popen([*box.prefix, sys.executable, "-m", "request_dse.service.jobchild",
                                         str(work / "request.json"), str(writer)], cwd=work, env=env, stdout=out,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, pass_fds=(writer,),
                                        start_new_session=True)
            finally:
                os.close(writer)
            chunks: list[bytes] = []
            drain = threading.Thread(target=_drain, args=(reader, chunks), daemon=True)
            drain.start()
            timed_out = _wait(proc, request.timeout_s, cancel)
            drain.join(timeout=10)
        if cancel is not None and cancel.is_set():
            return {"status": "interrupted", "reason": "the job was stopped", "isolation": box.description,
                    "node": node}
        result = _outcome(b"".join(chunks), proc.returncode, log, timed_out, request.timeout_s)
        notes = "; ".join(result.pop("sandbox_notes", []) or [])
        inner = _inner_isolation(result.get("info"))
        result["isolation"] = "; ".join(x for x in (box.description, notes, inner) if x)
        result["node"] = node
        return result
    finally:
        _writable(job_dir)
        shutil.rmtree(job_dir, ignore_errors=True)


def sweep_job_dirs() -> None:
    """Remove the folders of jobs whose runner is gone (a server or Ray worker killed mid-job)."""
    import psutil

    for folder in Path(tempfile.gettempdir()).glob("request-dse-job*-*"):
        try:
            owner = int((folder / OWNER).read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(owner):
            _writable(folder)
            shutil.rmtree(folder, ignore_errors=True)


def _drain(fd: int, chunks: list[bytes]) -> None:
    size = 0
    with os.fdopen(fd, "rb") as f:
        while data := f.read(65536):
            size += len(data)
            if size <= MAX_RESULT_BYTES:
                chunks.append(data)


def _wait(proc: subprocess.Popen[bytes], timeout_s: float, cancel: threading.Event | None) -> bool:
    """Wait for the child; kill its process group on timeout or cancel. True when it timed out."""
    deadline = time.monotonic() + timeout_s
    while proc.poll() is None:
        late = time.monotonic() > deadline
        if late or (cancel is not None and cancel.is_set()):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait()
            return late
        time.sleep(0.1)
    return False


def _inner_isolation(info: Any) -> str:
    """The isolation the validator itself names for its measurement children, when it names one."""
    if not isinstance(info, Mapping):
        return ""
    for key in ("isolation", "sandbox"):
        if isinstance(info.get(key), str) and info[key]:
            return f"validation children: {info[key]}"
    return ""


def run_job_remote(request: Mapping[str, Any], archive_bytes: bytes, archive_name: str) -> dict[str, Any]:
    """:func:`run_job` in a Ray task: the archive travels with the task to the target's node."""
    import ray

    req = JobRequest(**{**request, "hide": tuple(request["hide"])})
    with tempfile.TemporaryDirectory(prefix="request-dse-upload-") as tmp:
        archive = Path(tmp) / Path(archive_name).name
        archive.write_bytes(archive_bytes)
        result = run_job(req, archive)
    result["node"] = f"{result.get('node', '')} (Ray node {ray.get_runtime_context().get_node_id()})"
    return result


def request_json(request: JobRequest) -> dict[str, Any]:
    return asdict(request)
