"""The sandbox a validation job runs in: submitted artifacts are someone else's code.

With bubblewrap (``bwrap``, Debian's ``bubblewrap``; ``tests/setup-system.sh`` installs it) the
job's process tree gets: no network (its own, empty network namespace), the whole file system
read-only, a private ``/tmp``, its own PID, IPC and UTS namespaces, the tournament's database
and bundle store hidden, the bundle read-only, a user namespace (root inside has no power
outside), a new session (no terminal injection), and death with the server. Without it, the
``process`` sandbox gives what the kernel allows an ordinary child: a network namespace where
permitted, a private working folder, and the same resource limits; the job's result says which.

Inside either, :mod:`.jobchild` sets resource limits (address space, CPU time, file size, open
files, no core dumps) before any bundle code runs, and the runner kills the job's process group
when its wall-clock limit passes.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from request_dse.errors import UserError


@dataclass(frozen=True)
class Sandbox:
    kind: str                        # bubblewrap | process
    prefix: tuple[str, ...]          # the command line before the job's own
    description: str


#: Folders the sandbox replaces with empty, private ones.
PRIVATE = ("/tmp", "/var/tmp", "/dev/shm", "/run")


def code_paths() -> list[Path]:
    """Folders a job imports from (this package, PYTHONPATH, the environment, REQUEST_DSE_PATH) that
    lie under one of the :data:`PRIVATE` folders, which would hide them."""
    import request_dse

    candidates = [Path(request_dse.__file__).resolve().parents[1], Path(sys.prefix).resolve()]
    for variable in ("PYTHONPATH", "REQUEST_DSE_PATH"):
        candidates += [Path(p).resolve() for p in os.environ.get(variable, "").split(os.pathsep) if p]
    out: list[Path] = []
    for p in candidates:
        if p.is_dir() and any(p.is_relative_to(root) for root in PRIVATE) and p not in out:
            out.append(p)
    return out


@functools.cache
def bubblewrap() -> tuple[str | None, str]:
    """(path of a working ``bwrap``, its version) or (None, why not)."""
    path = shutil.which("bwrap")
    if path is None:
        return None, "bubblewrap is not installed"
    try:
        probe = subprocess.run([path, "--unshare-user", "--uid", "0", "--gid", "0", "--unshare-net", "--ro-bind", "/",
                                "/", "--dev", "/dev", "--proc", "/proc", "true"], capture_output=True, text=True,
                               timeout=30)
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"bwrap does not run here ({exc})"
    if probe.returncode != 0:
        return None, f"bwrap cannot create namespaces here ({probe.stderr.strip().splitlines()[-1:] or ['?']})"
    return path, version or "bubblewrap"


def check_mode(mode: str) -> None:
    """Fail at start-up when the tournament requires bubblewrap and this machine has none."""
    if mode == "bubblewrap" and bubblewrap()[0] is None:
        raise UserError(f"validation.sandbox is bubblewrap, but {bubblewrap()[1]} (apt-get install bubblewrap)")


def sandbox(mode: str, job_dir: Path, bundle_dir: Path, hide: Sequence[Path], work: Path) -> Sandbox:
    """How to start a job in ``job_dir`` (writable) on ``bundle_dir`` (read-only), ``hide`` unseen."""
    path, version = bubblewrap() if mode in ("auto", "bubblewrap") else (None, "the tournament asks for process")
    if path is None:
        if mode == "bubblewrap":
            raise RuntimeError(f"validation.sandbox is bubblewrap, but {version}")
        return Sandbox("process", (), f"process sandbox ({version}): file system not isolated")
    argv = [path, "--unshare-user", "--uid", "0", "--gid", "0", "--unshare-net", "--unshare-pid", "--unshare-ipc",
            "--unshare-uts", "--unshare-cgroup-try", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for private in PRIVATE:
        argv += ["--tmpfs", private]
    for needed in code_paths():  # the code the job imports stays visible (read-only) if it lives under /tmp
        argv += ["--ro-bind", str(needed), str(needed)]
    for hidden in hide:
        if hidden.is_dir():
            argv += ["--tmpfs", str(hidden)]
    argv += ["--bind", str(job_dir), str(job_dir), "--ro-bind", str(bundle_dir), str(bundle_dir), "--chdir", str(work)]
    return Sandbox("bubblewrap", (*argv, "--"),
                   f"{version}: no network, read-only file system, private /tmp, own PID/IPC/UTS namespaces, "
                   "user namespace, bundle read-only, tournament database and store hidden")
