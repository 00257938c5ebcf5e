"""A submission's software environment, recreated from the lock it carries.

A bundle's ``environment.lock`` comes from someone else: it is read strictly (:func:`read_lock`:
exact pins and sha256 hashes only, no URL, index option or local path, bounded size and count),
it must pin the framework at the version the submission claims, and it is installed from wheels
only (no build code runs), hashes checked, into an environment that only the validator's worker
processes use. When this installation already has every pinned version, nothing is created.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from request_dse.envs.current import unmet
from request_dse.envs.lock import MAX_BYTES, normalize_name, read_lock
from request_dse.envs.records import EnvError, Lock, python_tag
from request_dse.envs.store import ensure


def read_bounded(file: Path, limit: int = MAX_BYTES) -> str:
    """The text of a lock file, refusing one larger than ``limit`` before reading it."""
    if file.stat().st_size > limit:
        raise EnvError(f"{file.name}: larger than {limit // 1024} KiB")
    try:
        return file.read_text()
    except UnicodeDecodeError:
        raise EnvError(f"{file.name}: not text") from None


def recreate(text: str | None, *, label: str, distribution: str | None, version: str | None,
             checks: Sequence[str] = ()) -> tuple[Lock | None, str]:
    """The lock whose environment a bundle runs in (None: this installation's own) and a note
    saying which; EnvError naming the reason (and the versions this installation lacks) when
    the environment cannot be recreated here."""
    if text is None:
        return None, "the bundle records no software environment: it runs in this installation's"
    lock = read_lock(text, python_tag(), source="environment.lock", label=label, checks=tuple(checks))
    pins = lock.pins()
    if distribution and version:
        pinned = pins.get(normalize_name(distribution))
        if pinned != version:
            raise EnvError(f"environment.lock pins {distribution} {pinned or 'not at all'}, but the submission "
                           f"claims {version}")
    missing = unmet(lock)
    if not missing:
        return None, f"this installation has every version environment.lock pins ({len(pins)} packages)"
    try:
        env, created_s = ensure(lock)
    except EnvError as exc:
        raise EnvError(f"{exc}; this installation lacks {', '.join(missing[:5])}"
                       + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")) from None
    how = f"created in {created_s:.1f} s" if created_s else "already in the cache"
    return lock, (f"measured in the bundle's own environment {lock.id} ({how}: {len(pins)} packages, "
                  f"{len(missing)} of them at other versions than this installation's)")
