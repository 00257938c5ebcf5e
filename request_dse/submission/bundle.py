"""Reading submission bundles: verify first, then parse, then (elsewhere) load.

A bundle is a folder (or a ``.tar.gz`` / ``.tgz`` / ``.zip`` of one)::

    submission.json   what the entry is and claims (schema request_dse/schemas/submission-1.json)
    system.json       MLPerf-style system description
    artifact/         what the backend built
    measurements/     raw latency samples, accuracy log
    data/             the inputs it was scored on and the reference outputs
    README.md, study.yaml
    checksums.sha256  sha256 of every file above
    validation.json   (optional) a copy of a verdict: not covered by checksums, so only a claim
                      (badges come from the organizer's validation store, :mod:`.store`)

:func:`open_bundle` checks, in this order and before any artifact is touched: safe extraction
(archives), links, checksums (missing, changed and unlisted files), JSON syntax, the schema.
Reading never imports a backend; running an artifact happens in a child process
(:mod:`request_dse.submission.validate`).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.bounded import Refused, read_json
from request_dse.submission.archive import archive_stem, is_archive, safe_extract
from request_dse.submission.checksums import VALIDATION, digest, verify
from request_dse.submission.errors import BundleError
from request_dse.submission.schema import check_document, check_system

SUBMISSION = "submission.json"
SYSTEM = "system.json"
#: How deep a folder of bundles is searched.
MAX_SEARCH_DEPTH = 16
#: Largest document read from a bundle (request-dse's own stay under 100 KB).
MAX_DOCUMENT_BYTES = 16 << 20


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its documents, and (while open) its folder."""

    source: Path                       # the folder or archive given
    root: Path | None                  # the verified folder; None once an archive's extraction is gone
    submission: Mapping[str, Any]
    system: Mapping[str, Any]
    digest: str                        # sha256 of checksums.sha256: names the whole content
    validation: Mapping[str, Any] | None = field(default=None, compare=False)  # validation.json: a claim

    # -- what the scoreboard reads ---------------------------------------------------------------
    @property
    def id(self) -> str:
        return str(self.submission["id"])

    @property
    def kind(self) -> str:
        """``study`` (a Pareto point of a study) or ``baseline``."""
        return str(self.submission["kind"])

    @property
    def is_baseline(self) -> bool:
        return self.kind == "baseline"

    @property
    def label(self) -> str:
        return str(self.submission.get("label") or self.id)

    @property
    def study(self) -> str | None:
        study = self.submission.get("study")
        return study["name"] if study else None

    @property
    def workload(self) -> str:
        return str(self.submission["workload"]["name"])

    @property
    def framework(self) -> str:
        return str(self.submission["framework"]["name"])

    @property
    def target(self) -> str:
        return str(self.submission["target"]["name"])

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(metric, direction) of the objectives it was selected on."""
        return [(o["metric"], o["direction"]) for o in self.submission["objectives"]]

    @property
    def metrics(self) -> dict[str, float]:
        """Every reported metric's value."""
        return {k: float(v["value"]) for k, v in self.submission["metrics"].items()}

    def metric(self, name: str) -> float | None:
        entry = self.submission["metrics"].get(name)
        return float(entry["value"]) if entry else None

    def interval(self, name: str) -> tuple[float, float] | None:
        """The 95% interval recorded for ``name`` (low, high), or None when none was measured."""
        entry = self.submission["metrics"].get(name)
        if not entry or "low" not in entry or "high" not in entry:
            return None
        return float(entry["low"]), float(entry["high"])

    @property
    def pareto(self) -> Mapping[str, Any] | None:
        return self.submission.get("pareto")

    @property
    def confirmed(self) -> bool:
        return bool(self.pareto and self.pareto.get("confirmed"))

    @property
    def claimed_badges(self) -> tuple[str, ...]:
        """The badges a ``validation.json`` beside this content *claims*. The participant controls
        that file: show these as claimed, never as badges (those come from the organizer's
        :class:`request_dse.submission.store.ValidationStore`)."""
        badges = self.validation.get("badges", ()) if self.validation else ()
        return tuple(b for b in badges if isinstance(b, str)) if isinstance(badges, (list, tuple)) else ()

    def path(self, key: str) -> Path:
        """A file of the open bundle by its ``files`` key (``artifact``, ``samples``, ...)."""
        if self.root is None:
            raise RuntimeError(f"{self.source}: the bundle is not open (use open_bundle)")
        return self.root / self.submission["files"][key]


def validation_path(source: Path) -> Path:
    """Where ``request-dse validate`` writes its verdict: inside a bundle folder, or beside an archive."""
    if is_archive(source):
        return source.with_name(archive_stem(source) + ".validation.json")
    return source / VALIDATION


def read_validation(source: Path, content_digest: str | None = None) -> dict[str, Any] | None:
    """The ``validation.json`` beside a bundle (a claim); None when absent, unreadable, too large
    or deep, or about other content."""
    try:
        doc = read_json(validation_path(source), MAX_DOCUMENT_BYTES)
    except (OSError, ValueError):  # Refused included: too large or too deep is no verdict
        return None
    if not isinstance(doc, dict) or (content_digest is not None and doc.get("bundle_digest") != content_digest):
        return None
    return doc


def _load_json(root: Path, name: str, label: Path) -> Any:
    try:
        return read_json(root / name, MAX_DOCUMENT_BYTES)
    except FileNotFoundError:
        raise BundleError(label, "missing_file", f"{name}: missing (every bundle has one)") from None
    except Refused as exc:
        raise BundleError(label, "too_large" if "limit" in str(exc) else "bad_json", f"{name}: {exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(label, "bad_json", f"{name}: not valid JSON ({exc})") from None


def _check_files(doc: Mapping[str, Any], listed: Mapping[str, str], label: Path) -> None:
    """Every file the submission names is covered by the checksums (a folder: some file under it)."""
    for key, rel in doc["files"].items():
        if key == "checksums" or rel in listed or any(p.startswith(rel.rstrip("/") + "/") for p in listed):
            continue
        raise BundleError(label, "missing_file", f"submission.json: files/{key}: {rel!r} is not in the bundle")


def verify_folder(root: Path, label: Path) -> Bundle:
    """Verify a bundle folder and parse its documents (nothing is loaded or run)."""
    if not (root / SUBMISSION).exists() and not (root / "checksums.sha256").exists():
        raise BundleError(label, "not_a_bundle", f"no {SUBMISSION} in {root}")
    listed = verify(root, label)
    doc = _load_json(root, SUBMISSION, label)
    check_document(doc, label)
    system = _load_json(root, SYSTEM, label)
    check_system(system, label)
    _check_files(doc, listed, label)
    content = digest(root)
    return Bundle(label, root, doc, system, content, read_validation(label, content))


@contextlib.contextmanager
def open_bundle(path: str | Path) -> Iterator[Bundle]:
    """A verified bundle whose folder exists for the ``with`` block (archives are extracted to a
    temporary folder, safely, and removed afterwards). Raises :class:`BundleError`."""
    source = Path(path)
    if not source.exists():
        raise BundleError(source, "not_found", "no such file or folder")
    if source.is_dir():
        yield verify_folder(source.resolve(), source)  # an absolute root: workers run elsewhere
        return
    if not is_archive(source):
        raise BundleError(source, "not_a_bundle", "expected a bundle folder or a .tar.gz / .tgz / .zip archive")
    with tempfile.TemporaryDirectory(prefix="request-dse-bundle-") as tmp:
        root = safe_extract(source, Path(tmp) / "x")
        yield verify_folder(root, source)


def read_bundle(path: str | Path) -> Bundle:
    """A verified bundle's documents (its folder stays usable only when it is a folder)."""
    with open_bundle(path) as bundle:
        pass
    if Path(path).is_dir():
        return bundle
    return Bundle(bundle.source, None, bundle.submission, bundle.system, bundle.digest, bundle.validation)


def find_bundles(paths: Iterable[str | Path], *, keep_missing: bool = False) -> list[Path]:
    """Bundle folders and archives at or under ``paths`` (a folder holding submission.json is one
    bundle; other folders are searched), in sorted order, without duplicates. With
    ``keep_missing``, a path that does not exist, and a folder in which no bundle is found, are
    returned as they are (for the caller to reject) instead of raising :class:`BundleError`."""
    found: list[Path] = []

    def walk(top: Path) -> None:  # depth-first, in sorted order, no deeper than MAX_SEARCH_DEPTH
        stack = [(top, 0)]
        while stack:
            p, level = stack.pop()
            if p.is_file():
                if is_archive(p):
                    found.append(p)
                continue
            if not p.is_dir() or p.is_symlink() or level > MAX_SEARCH_DEPTH:
                continue
            if (p / SUBMISSION).exists():
                found.append(p)
                continue
            children = sorted((c for c in p.iterdir() if not c.name.startswith(".")), reverse=True)
            stack.extend((c, level + 1) for c in children)

    for path in paths:
        p = Path(path)
        if not p.exists():
            if not keep_missing:
                raise BundleError(p, "not_found", "no such file or folder")
            found.append(p)
            continue
        before = len(found)
        walk(p)
        if keep_missing and len(found) == before:
            found.append(p)
    seen: set[Path] = set()
    return [p for p in found if not (p.resolve() in seen or seen.add(p.resolve()))]  # type: ignore[func-returns-value]


def load_bundles(paths: Iterable[str | Path]) -> tuple[list[Bundle], list[BundleError]]:
    """Every bundle at or under ``paths``: the verified ones, and the rejected ones with why."""
    good: list[Bundle] = []
    bad: list[BundleError] = []
    for path in find_bundles(paths):
        try:
            good.append(read_bundle(path))
        except BundleError as exc:
            bad.append(exc)
    return good, bad
