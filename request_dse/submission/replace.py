"""Putting a study's freshly written bundles in place: beside other studies' bundles, keeping
the ones whose content did not change.

A folder of bundles may hold several studies' bundles (their names start with the study's
name). Emitting one study touches only that study's bundles, found by the study named in their
``submission.json``: a bundle whose evidence is unchanged stays as it is, byte for byte, so its
content digest -- and the organizer's verdict on it -- still holds; a changed one is replaced
(a new digest: no verdict names it yet); one no longer on the front is removed, with its archive
and its verdict copy. Other files and other studies' bundles are never touched.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from request_dse.bounded import read_json
from request_dse.errors import UserError
from request_dse.submission.archive import ARCHIVE_SUFFIXES
from request_dse.submission.bundle import MAX_DOCUMENT_BYTES, SUBMISSION, SYSTEM
from request_dse.submission.checksums import CHECKSUMS, VALIDATION

#: Files that describe rather than evidence a bundle: a re-export may word them anew.
DESCRIPTIVE = frozenset({SUBMISSION, SYSTEM, "README.md", CHECKSUMS, VALIDATION})
#: Fields of submission.json that say when, where and by what it was written, not what it shows.
VOLATILE = ("created", "environment")
VOLATILE_REPRODUCE = ("validate", "git_revision", "request_dse_version")


def _document(folder: Path) -> dict[str, Any] | None:
    try:
        doc = read_json(folder / SUBMISSION, MAX_DOCUMENT_BYTES)
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def study_bundles(out: Path, study: str) -> dict[str, Path]:
    """The bundle folders in ``out`` whose ``submission.json`` names ``study``, by folder name."""
    found = {}
    for child in sorted(out.iterdir()) if out.is_dir() else ():
        if child.is_dir() and not child.is_symlink() and not child.name.startswith("."):
            doc = _document(child)
            named = doc.get("study") if doc else None
            if isinstance(named, dict) and named.get("name") == study:
                found[child.name] = child
    return found


def _listing(folder: Path) -> dict[str, str]:
    try:
        lines = (folder / CHECKSUMS).read_text().splitlines()
    except OSError:
        return {}
    return {rel: digest for digest, _, rel in (line.partition("  ") for line in lines) if rel}


def _shown(doc: Mapping[str, Any]) -> dict[str, Any]:
    kept = {k: v for k, v in doc.items() if k not in VOLATILE}
    kept["reproduce"] = {k: v for k, v in dict(doc.get("reproduce") or {}).items() if k not in VOLATILE_REPRODUCE}
    return kept


def same_evidence(new: Path, old: Path) -> bool:
    """Whether two bundle folders show the same thing: the same files with the same content
    (artifact, measurements, data), and the same ``submission.json`` but for when, where and by
    which request-dse version it was written."""
    a, b = _listing(new), _listing(old)
    files = {rel for rel in a if rel not in DESCRIPTIVE}
    if not a or files != {rel for rel in b if rel not in DESCRIPTIVE} or any(a[r] != b[r] for r in files):
        return False
    doc_new, doc_old = _document(new), _document(old)
    return doc_new is not None and doc_old is not None and _shown(doc_new) == _shown(doc_old)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def _remove_with_companions(bundle: Path) -> None:
    for suffix in (*ARCHIVE_SUFFIXES, ".validation.json"):
        companion = bundle.with_name(bundle.name + suffix)
        if companion.exists():
            _remove(companion)
    _remove(bundle)


def install(staging: Path, names: Iterable[str], out: Path, study: str) -> tuple[list[Path], list[str]]:
    """Move the bundles ``names`` from ``staging`` into ``out``; returns their paths in ``out``
    and the names kept unchanged. The study's other bundles in ``out`` are removed."""
    out.mkdir(parents=True, exist_ok=True)
    previous = study_bundles(out, study)
    placed, kept = [], []
    for name in names:
        new, dest = staging / name, out / name
        if (dest.exists() or dest.is_symlink()) and name not in previous:
            raise UserError(f"{dest}: exists and is not a bundle of study {study}; emission never replaces it")
        if dest.is_dir() and same_evidence(new, dest):
            kept.append(name)  # byte for byte as it was: its digest, and any verdict on it, still hold
        else:
            if dest.exists() or dest.is_symlink():
                _remove_with_companions(dest)
            new.rename(dest)
        placed.append(dest)
    for name, path in previous.items():
        if out / name not in placed:
            _remove_with_companions(path)
    return placed, kept
