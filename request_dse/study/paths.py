"""Where data files are found: ``<kind>/`` next to the study, on REQUEST_DSE_PATH, in the repository."""

from __future__ import annotations

import os
from pathlib import Path

from request_dse.fields import Ctx
from request_dse.study.records import Study
from request_dse.text import did_you_mean

#: The repository checkout this package runs from (an editable install).
REPO_ROOT = Path(__file__).resolve().parents[2]

#: Kinds of data folder, as named at the top of the repository.
KINDS = ("backends", "targets", "search_spaces", "studies")


def search_dirs(kind: str, near: Path | None = None) -> list[Path]:
    """The folders searched for a ``kind`` file, in order: ``<kind>/`` next to the study, in
    each folder on REQUEST_DSE_PATH, then in the repository."""
    dirs: list[Path] = []
    if near is not None:
        dirs.append(near / kind)
    for entry in os.environ.get("REQUEST_DSE_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry) / kind)
    dirs.append(REPO_ROOT / kind)
    return dirs


def find_data_file(kind: str, name: str, near: Path | None = None) -> Path | None:
    """The first ``<name>.yaml`` (or the path ``name`` itself) found for ``kind``."""
    as_path = Path(name)
    if as_path.suffix in (".yaml", ".yml"):
        candidates = [as_path] if as_path.is_absolute() else [d / as_path for d in search_dirs(kind, near)]
        if near is not None and not as_path.is_absolute():
            candidates.insert(0, near / as_path)
    else:
        candidates = [d / f"{name}.yaml" for d in search_dirs(kind, near)]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    return None


def available_names(kind: str, near: Path | None = None) -> list[str]:
    """Names of the ``kind`` files reachable from ``near`` (for error messages)."""
    return sorted({p.stem for d in search_dirs(kind, near) if d.is_dir() for p in d.glob("*.yaml")})


def find_file(kind: str, name: str, study: Study, ctx: Ctx, what: str, fallback: Path | None = None) -> Path:
    """``<kind>/<name>.yaml`` for ``study`` (``fallback`` when none is found), or a ConfigError
    naming the places looked in."""
    path = find_data_file(kind, name, study.source.resolve().parent) or fallback
    if path is None:
        known = available_names(kind, study.source.resolve().parent)
        raise ctx.error(f"no {what} named {name!r} (looked in {kind}/ next to the study, on REQUEST_DSE_PATH and "
                        f"in the repository; available: {', '.join(known) or 'none'}){did_you_mean(name, known)}")
    return path
