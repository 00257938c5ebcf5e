"""The environments of the shared cache: ``$REQUEST_DSE_CACHE/envs/<lock id>/``.

One environment per lock, created once under a lock (several studies, processes and trials may
ask at once), in a temporary folder renamed into place: an environment folder is complete or
absent. Each use touches its ``.used`` file, so the cache's size limit evicts the least recently
used environment whole (``envs`` is a unit area of :mod:`request_dse.cachedir`), never one in use.

A creation that fails leaves ``<lock id>.failed`` (the installer's message) beside the folders:
the lock is not tried again (a failure is a fact about that version, not luck) until
``request-dse env prune --failed`` removes the record.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from request_dse.cachedir import MIN_AGE_S, cache_root, touch
from request_dse.envs.installer import configure, create as install, version as installer_version
from request_dse.envs.records import EnvError, EnvInfo, Environment, Lock
from request_dse.files import lock as file_lock, write_atomic

AREA = "envs"
META = "request-dse-env.json"
USED = ".used"
FAILED = ".failed"
CHECK_TIMEOUT_S = 300.0


def root() -> Path:
    return cache_root() / AREA


def folder(lock: Lock) -> Path:
    return root() / lock.id


def _ready(path: Path) -> bool:
    return (path / META).is_file()


def find(lock: Lock) -> Environment | None:
    """The environment of ``lock`` when it exists (and mark it used)."""
    path = folder(lock)
    if not _ready(path):
        return None
    touch(path / USED)
    return Environment(lock, path)


def failure(lock: Lock) -> str | None:
    """Why creating the environment of ``lock`` failed before, or None."""
    try:
        return str(json.loads((root() / f"{lock.id}{FAILED}").read_text())["message"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record_failure(lock: Lock, message: str) -> None:
    doc = {"id": lock.id, "label": lock.label, "message": message, "when": time.time(), "lock": lock.text}
    write_atomic(root() / f"{lock.id}{FAILED}", lambda tmp: tmp.write_text(json.dumps(doc, indent=1) + "\n"))


def ensure(lock: Lock) -> tuple[Environment, float]:
    """The environment of ``lock``, created if missing; and the seconds spent having it (0.0 when
    it existed; the wait when another process was creating it). Raises :class:`EnvError` with the
    installer's message when it cannot be created, now or in an earlier attempt."""
    found = find(lock)
    if found is not None:
        return found, 0.0
    started = time.perf_counter()
    with file_lock(folder(lock)):
        found = find(lock)
        if found is not None:
            return found, time.perf_counter() - started  # another process created it while this one waited
        earlier = failure(lock)
        if earlier is not None:
            raise EnvError(earlier)
        try:
            _create(lock)
        except EnvError as exc:
            message = f"the environment of {lock.label or lock.id} could not be created: {exc}"
            _record_failure(lock, message)
            raise EnvError(message) from None
    found = find(lock)
    assert found is not None  # just created
    return found, time.perf_counter() - started


def create(job: tuple[Lock, dict[str, str]]) -> tuple[Environment | None, float, str]:
    """:func:`ensure` as a value, with the driver's installer configuration (a worker's function):
    (environment, seconds spent creating it, why it cannot be had -- empty when it can)."""
    lock, settings = job
    configure(settings)
    started = time.perf_counter()
    try:
        env, created_s = ensure(lock)
    except EnvError as exc:
        return None, time.perf_counter() - started, str(exc)
    return env, created_s, ""


def _create(lock: Lock) -> None:
    final = folder(lock)
    tmp = final.with_name(f".{lock.id}.tmp")  # under the lock: what is there was left by a killed creation
    shutil.rmtree(tmp, ignore_errors=True)
    started = time.perf_counter()
    try:
        install(lock.text, tmp)
        for module in lock.checks:
            _check_import(tmp, module)
        meta = {"id": lock.id, "label": lock.label, "python": lock.python, "packages": lock.pins(),
                "hashed": lock.hashed, "created": time.time(), "create_s": round(time.perf_counter() - started, 3),
                "uv": installer_version()}
        (tmp / META).write_text(json.dumps(meta, indent=1) + "\n")
        (tmp / USED).touch()
        shutil.rmtree(final, ignore_errors=True)  # a half-removed folder left by an eviction
        os.rename(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _check_import(env: Path, module: str) -> None:
    """The backend's library must import in the new environment (a wheel built against another
    NumPy, a missing system library): a failure now is a clear message instead of a crash later."""
    try:
        done = subprocess.run([str(env / "bin" / "python"), "-I", "-c", f"import {module}"], capture_output=True,
                              text=True, timeout=CHECK_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvError(f"import {module} could not be checked: {exc}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.splitlines() if line.strip() and not line.startswith(" ")]
        errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Warning):", line)]
        why = "; ".join(dict.fromkeys(lines[:1] + errors[-2:])) or f"exit code {done.returncode}"
        raise EnvError(f"import {module} fails in it: {why[:600]}")


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in os.walk(path):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                pass
    return total


def environments(*, sizes: bool = True) -> Iterator[EnvInfo]:
    """Every environment of the cache, and every failure record."""
    base = root()
    if not base.is_dir():
        return
    for path in sorted(base.iterdir()):
        if path.is_dir() and _ready(path):
            try:
                meta = json.loads((path / META).read_text())
                used = (path / USED).stat().st_mtime if (path / USED).exists() else meta.get("created", 0.0)
            except (OSError, ValueError):
                continue
            yield EnvInfo(path.name, path, str(meta.get("label", "")), str(meta.get("python", "")),
                          len(meta.get("packages", {})), _size(path) if sizes else 0, float(meta.get("created", 0)),
                          used, float(meta.get("create_s", 0.0)), meta=meta)
        elif path.is_file() and path.name.endswith(FAILED):
            try:
                doc = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            yield EnvInfo(path.name[: -len(FAILED)], path, str(doc.get("label", "")), "", 0, 0,
                          float(doc.get("when", 0)), float(doc.get("when", 0)), 0.0, str(doc.get("message", "")))


def remove(info: EnvInfo) -> None:
    """Remove one environment (under its lock, so never while it is being created) or failure record."""
    if info.failure:
        info.root.unlink(missing_ok=True)
        return
    with file_lock(info.root):
        shutil.rmtree(info.root, ignore_errors=True)


def prune(*, unused_days: float | None = None, failed: bool = False, everything: bool = False,
          min_age_s: float = MIN_AGE_S) -> list[EnvInfo]:
    """Remove the environments unused for ``unused_days`` (all of them with ``everything``) and,
    with ``failed`` (or ``everything``), the failure records; an environment used in the last
    ``min_age_s`` seconds is kept whatever is asked: a study may be running in it."""
    now = time.time()
    removed = []
    for info in environments(sizes=False):
        if info.failure:
            wanted = failed or everything
        else:
            recent = now - info.used < min_age_s
            old = unused_days is not None and now - info.used >= unused_days * 86400
            wanted = not recent and (everything or old)
        if wanted:
            remove(info)
            removed.append(info)
    return removed
