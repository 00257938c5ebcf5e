"""Workers for code from someone else: a fresh process in a sandbox, answering as data only.

:class:`SandboxRunner` runs each call in a new Python process (not forked from the parent: it
inherits nothing), which limits itself before reading the call (:mod:`._sandboxed`). Where
bubblewrap (``bwrap``, the Debian package ``bubblewrap``) works, the process also runs in its
own namespaces: no network (only a loopback of its own), its own process tree, no
capabilities, a private empty ``/tmp``, and a filesystem holding only the system's libraries,
the Python installation, request-dse, the paths the caller lists read-only (the bundle), the
folders it lists writable (its log and its answer), and a private writable copy of each folder
the caller names in ``scratch`` (a cache inside the read-only bundle that a library insists on
writing to: the copy is shown in its place, and discarded). Without bubblewrap only the limits
apply; :func:`isolation` says which, and validation records it.

What comes back is read as data (:mod:`._transfer`), never unpickled, so a worker that ran
hostile native code cannot run code in the parent.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from request_dse.envs import Environment, boot_command
from request_dse.execute import _transfer
from request_dse.execute._base import ChildOutcome
from request_dse.execute._sandboxed import CALL, LIMITS
from request_dse.execute._worker import HINTS, MEMORY_POLL_S, POLL_S, PROPAGATED_ENV, rss_bytes, signal_name, tail
from request_dse.execute.process import ProcessRunner, RunningWorker

#: Limits every sandboxed worker gets (memory comes from the call's own limit).
FILE_BYTES = 1 << 30
OPEN_FILES = 1024
#: System files a Python process and its native libraries read.
ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "passwd", "group", "nsswitch.conf", "localtime")


@dataclass(frozen=True)
class Isolation:
    """How sandboxed workers are isolated on this machine."""

    kind: str        # "bubblewrap" or "limits only"
    detail: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "detail": self.detail}


def _probe() -> str | None:
    """Why bubblewrap cannot sandbox here, or None."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return "bubblewrap (bwrap) is not installed"
    # the mounts a worker's sandbox makes: inside another sandbox (a tournament service's job) a
    # new /proc is refused, and the worker then runs with its limits only, inside that one
    done = subprocess.run([bwrap, "--unshare-all", "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
                           "--dev", "/dev", "--tmpfs", "/tmp", "--cap-drop", "ALL", "true"],
                          capture_output=True, text=True, timeout=30)
    if done.returncode:
        return f"bwrap cannot create namespaces here ({done.stderr.strip()[:120]})"
    return None


@cache
def isolation() -> Isolation:
    why = _probe()
    limits = (f"limits: memory (RLIMIT_DATA = the protocol's memory limit), CPU time, files up to "
              f"{FILE_BYTES >> 20} MiB, {OPEN_FILES} open files, no core dumps")
    if why is None:
        return Isolation("bubblewrap", "bwrap: no network, own PID/IPC/UTS namespaces, no capabilities, private "
                                       "/tmp, read-only system and bundle, writable log and answer folders only; "
                                       + limits)
    return Isolation("limits only", f"{why}: no network or filesystem isolation; {limits}")


def _python_paths() -> list[Path]:
    import request_dse

    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.exec_prefix), Path(request_dse.__file__).parents[1]}
    paths |= {Path(p) for p in sys.path if p and Path(p).is_dir()}
    return sorted(p.resolve() for p in paths)


def bwrap_args(readonly: Iterable[Path], writable: Iterable[Path], cwd: Path,
               shadows: Iterable[tuple[Path, Path]] = ()) -> list[str]:
    """The bubblewrap command line (without the command it runs); ``shadows``: (private copy,
    folder it is shown as), mounted over the read-only view."""
    args = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/") / top
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    for name in ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--ro-bind-try", "/sys/devices/system/cpu", "/sys/devices/system/cpu"]
    seen: set[Path] = set()
    for path in [*_python_paths(), *readonly]:
        real = Path(path).resolve()
        if real not in seen and not any(parent in seen for parent in real.parents):
            seen.add(real)
            args += ["--ro-bind", str(real), str(real)]
    for path in writable:
        args += ["--bind", str(Path(path).resolve()), str(Path(path).resolve())]
    for copy, shown in shadows:
        args += ["--bind", str(copy.resolve()), str(shown.resolve())]
    return [*args, "--chdir", str(cwd.resolve())]


def child_env(env: Mapping[str, str], home: str) -> dict[str, str]:
    """A clean environment: request-dse's own variables, the call's, a private home and temp dir."""
    import request_dse

    base = {k: os.environ[k] for k in (*PROPAGATED_ENV, "LANG", "LC_ALL") if k in os.environ}
    path = os.pathsep.join(filter(None, [str(Path(request_dse.__file__).parents[1]), os.environ.get("PYTHONPATH")]))
    return {**base, "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": home, "TMPDIR": home, "PYTHONPATH": path,
            "PYTHONDONTWRITEBYTECODE": "1", **env}


class _Proc:
    """What :class:`ProcessRunner` needs of a worker to pause and kill it."""

    def __init__(self, popen: subprocess.Popen) -> None:  # type: ignore[type-arg]
        self.popen = popen
        self.pid = popen.pid


@dataclass
class SandboxRunner(ProcessRunner):
    """Runs each call in a sandboxed process (see the module docstring); ``readonly``: paths the
    workers may read (besides the system, Python and request-dse), ``results``: the record types
    a worker may send back."""

    readonly: Sequence[Path] = ()
    results: Sequence[type] = ()
    scratch: Sequence[Path] = ()
    _spawned: dict[int, Any] = field(default_factory=dict)

    def run(self, fn: Callable[[Any], Any], arg: Any, *, timeout_s: float, memory_limit_mb: int | None = None,
            cores: tuple[int, ...] = (), env: Mapping[str, str] | None = None, label: str = "worker",
            log_path: Path | None = None, environment: Environment | None = None) -> ChildOutcome:
        if self._closed:
            return ChildOutcome("interrupted", error="the study is stopping")
        with tempfile.TemporaryDirectory(prefix="request-dse-sandbox-") as tmp:
            folder = Path(tmp)
            with open(folder / CALL, "wb") as f:
                pickle.dump((fn, arg), f)
            memory = (memory_limit_mb or 0) << 20
            (folder / LIMITS).write_text(json.dumps({
                "memory_bytes": memory, "cpu_s": int(timeout_s * max(1, len(cores)) + 60), "file_bytes": FILE_BYTES,
                "open_files": OPEN_FILES, "cores": list(cores)}))
            (folder / "home").mkdir()
            log = log_path or folder / "worker.log"
            log.parent.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, "-m", "request_dse.execute._sandboxed", str(folder)]
            readonly = list(self.readonly)
            if environment is not None:  # that environment's interpreter, isolated, with request-dse's code
                cmd = boot_command(environment, "request_dse.execute._sandboxed:boot", [str(folder)])
                readonly += [environment.root, environment.python.resolve().parents[1]]
            home = str(folder / "home")
            if isolation().kind == "bubblewrap":
                shadows = []
                for i, path in enumerate(self.scratch):
                    copy = folder / f"scratch-{i}"
                    shutil.copytree(path, copy, symlinks=True)
                    shadows.append((copy, path))
                cmd = [*bwrap_args(readonly, [folder, log.parent], folder, shadows), *cmd]
                home = "/tmp"
            started = time.monotonic()
            with open(log, "ab") as out:
                popen = subprocess.Popen(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, cwd=folder,
                                         env=child_env(env or {}, home), start_new_session=True, close_fds=True)
            entry = RunningWorker(_Proc(popen), label, tuple(cores))
            with self._lock:
                self._running[popen.pid] = entry
            try:
                self._started(popen.pid, entry)
                ended = self._wait(entry, started, timeout_s, memory_limit_mb, log)
                if ended is not None:
                    return ended
                return self._answer(folder, popen.returncode, label, log, time.monotonic() - started)
            finally:
                with self._lock:
                    self._running.pop(popen.pid, None)
                self._ended(popen.pid, entry)
                if popen.poll() is None:
                    self._kill(entry.process)
                popen.wait()

    def _wait(self, entry: RunningWorker, started: float, timeout_s: float, memory_limit_mb: int | None,
              log: Path) -> ChildOutcome | None:
        """None once the worker has exited by itself; otherwise how it was stopped."""
        popen = entry.process.popen
        limit = memory_limit_mb * 2**20 if memory_limit_mb else None
        next_memory_check = 0.0
        while popen.poll() is None:
            time.sleep(POLL_S)
            now = time.monotonic()
            if self._closed:
                self._kill(entry.process)
                return ChildOutcome("interrupted", error="the study was stopped", wall_s=now - started)
            paused = entry.paused_total + (now - entry.paused_since if entry.paused_since else 0.0)
            if now - started - paused > timeout_s:
                self._kill(entry.process)
                return ChildOutcome("timeout", error=f"{entry.label} timed out: killed after {timeout_s:g} s",
                                    log_tail=tail(log), wall_s=now - started)
            if limit and now >= next_memory_check:
                next_memory_check = now + MEMORY_POLL_S
                rss = rss_bytes(popen.pid)
                if rss > limit:
                    self._kill(entry.process)
                    return ChildOutcome("out_of_memory", error=f"{entry.label} exceeded its memory limit of "
                                        f"{memory_limit_mb} MB (resident {rss / 2**20:.0f} MB): killed",
                                        log_tail=tail(log), wall_s=now - started)
        return None

    def _answer(self, folder: Path, code: int, label: str, log: Path, wall: float) -> ChildOutcome:
        if code > 128 and isolation().kind == "bubblewrap":  # bwrap exits 128 + the signal that ended its child
            code = 128 - code
        if code != 0 or not (folder / _transfer.RESULT_JSON).is_file():
            name = signal_name(code) if code else "exit code 0 without an answer"
            hint = HINTS.get(name, "")
            return ChildOutcome("crashed", error=f"{label} worker died: {name}" + (f" ({hint})" if hint else ""),
                                log_tail=tail(log), wall_s=wall, exitcode=code)
        try:
            status, value = _transfer.read(folder, self.results)
        except (OSError, ValueError, TypeError, KeyError) as exc:
            return ChildOutcome("error", error=f"{label} worker sent back no usable answer ({exc})",
                                log_tail=tail(log), wall_s=wall)
        if status == "ok":
            return ChildOutcome("ok", value=value, wall_s=wall)
        if status in ("error", "out_of_memory"):
            return ChildOutcome(status, error=str(value), log_tail=tail(log), wall_s=wall)
        return ChildOutcome("error", error=f"{label} worker sent back the status {status!r}", wall_s=wall)
