"""The first instructions of a sandboxed worker: ``python -m request_dse.execute._sandboxed DIR``.

Before anything of the call is read, the worker limits itself (memory, CPU time, file size,
open files, no core dumps) and pins itself to its cores; the limits are hard, so nothing it
loads afterwards can lift them. Then it runs the call the parent pickled into ``DIR`` and
writes the answer there as data (:mod:`request_dse.execute._transfer`).
"""

from __future__ import annotations

import json
import os
import pickle
import resource
import sys
import traceback
from pathlib import Path

CALL = "call.pkl"
LIMITS = "limits.json"


def limit_self(limits: dict[str, int]) -> None:
    """Hard limits on this process and everything it starts."""
    pairs = {"memory_bytes": resource.RLIMIT_DATA, "cpu_s": resource.RLIMIT_CPU, "file_bytes": resource.RLIMIT_FSIZE,
             "open_files": resource.RLIMIT_NOFILE}
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for name, which in pairs.items():
        value = limits.get(name)
        if value:
            resource.setrlimit(which, (value, value))
    cores = limits.get("cores") or []
    if cores:
        try:
            os.sched_setaffinity(0, cores)  # type: ignore[arg-type]
        except OSError:
            pass


def main(folder: Path) -> None:
    from request_dse.execute import _transfer
    from request_dse.execute._worker import summarize_exception

    limit_self(json.loads((folder / LIMITS).read_text()))
    with open(folder / CALL, "rb") as f:
        fn, arg = pickle.load(f)  # written by the parent, never by the sandbox's code
    try:
        status, value = "ok", fn(arg)
    except MemoryError as exc:
        traceback.print_exc()
        status, value = "out_of_memory", summarize_exception(exc)
    except BaseException as exc:  # noqa: BLE001 - every failure becomes a value
        traceback.print_exc()
        status, value = "error", summarize_exception(exc)
    try:
        _transfer.write(folder, status, value)
    except Exception as exc:  # noqa: BLE001 - e.g. a value that cannot be sent
        _transfer.write(folder, "error", f"result could not be sent back: {summarize_exception(exc)}")
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)  # skip library teardown: the answer is written


def boot(argv: list[str]) -> None:
    """The entry of a sandboxed worker in another environment's interpreter
    (:func:`request_dse.envs.boot_command`): ``argv`` holds the call's folder."""
    main(Path(argv[0]))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
