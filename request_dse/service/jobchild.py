"""One validation job, as the sandboxed child runs it: ``python -m request_dse.service.jobchild REQUEST FD``.

Before anything of the bundle is touched it dies with its parent, sets its resource limits and,
in the ``process`` sandbox, leaves the network (a network namespace, where the kernel allows
it). Then it runs :func:`request_dse.submission.validate.validate` on the read-only bundle and
writes the verdict as one JSON document to the file descriptor ``FD`` -- a pipe that the
processes it starts do not inherit, so nothing the bundle runs can write a verdict.
"""

from __future__ import annotations

import ctypes
import json
import os
import resource
import signal
import sys
from pathlib import Path
from typing import Any

CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000


def _die_with_parent(parent: int | None) -> None:
    """SIGKILL when the runner goes (bubblewrap's --die-with-parent does it for its sandbox)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if parent is not None and os.getppid() != parent:
        os._exit(1)


def limit(memory_mb: int, cpu_s: float) -> list[str]:
    """Resource limits on this process and everything it starts; what was set, as notes."""
    notes = []
    for name, value in (("RLIMIT_AS", memory_mb * 2**20), ("RLIMIT_CPU", int(cpu_s) + 1),
                        ("RLIMIT_FSIZE", 2**30), ("RLIMIT_NOFILE", 4096), ("RLIMIT_CORE", 0)):
        which = getattr(resource, name)
        soft, hard = resource.getrlimit(which)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        try:
            resource.setrlimit(which, (value, value if name != "RLIMIT_CPU" else hard))
        except (ValueError, OSError):
            continue
        notes.append(name[7:].lower())
    return notes


def leave_network() -> str:
    """Move into an empty network namespace (as root, or through a user namespace)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) == 0:
        return "no network (network namespace)"
    uid, gid = os.getuid(), os.getgid()
    if libc.unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0:
        try:
            Path("/proc/self/setgroups").write_text("deny")
            Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
            Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
        except OSError:
            pass
        return "no network (user and network namespaces)"
    return "NETWORK NOT ISOLATED (the kernel refused a network namespace)"


def _verdict(request: dict[str, Any]) -> dict[str, Any]:
    from request_dse.submission import BundleError
    from request_dse.submission.validate import validate

    try:
        verdict = validate(request["bundle"], target=request["target"], tolerance=request["tolerance"], write=False,
                           span_s=request["span_s"],
                           echo=lambda line: print(line, flush=True))
    except BundleError as exc:
        return {"status": "failed", "reason": str(exc)}
    status = "failed" if verdict.status == "rejected" else verdict.status
    return {"status": status, "reason": verdict.reason, "badges": list(verdict.badges),
            "checks": [c.to_json() for c in verdict.checks], "not_compared": dict(verdict.not_compared),
            "info": {k: v for k, v in verdict.info.items() if isinstance(k, str)}}


def main(argv: list[str]) -> int:
    request = json.loads(Path(argv[0]).read_text())
    fd = int(argv[1])
    _die_with_parent(request["parent"])
    os.set_inheritable(fd, False)
    notes = []
    if request["sandbox"] == "process":
        notes.append(leave_network())
    notes.append("limits: " + ", ".join(limit(request["memory_mb"], request["timeout_s"])))
    try:
        result = _verdict(request)
    except Exception as exc:  # noqa: BLE001 - the verdict is a value, whatever happened
        from request_dse.execute import summarize_exception

        result = {"status": "failed", "reason": f"the validation failed: {summarize_exception(exc)}"}
    result["sandbox_notes"] = notes
    with os.fdopen(fd, "w") as out:
        out.write(json.dumps(result, default=str, allow_nan=False) if _finite(result) else json.dumps(
            {"status": "failed", "reason": "the verdict held a value that is not a finite number"}))
    return 0


def _finite(doc: Any) -> bool:
    try:
        json.dumps(doc, default=str, allow_nan=False)
    except ValueError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
