"""``checksums.sha256``: the sha256 of every file of a bundle, in ``sha256sum`` format.

It covers every file but itself and ``validation.json`` (the validator's verdict, written
later beside the submitter's files). ``sha256sum -c checksums.sha256`` checks it by hand.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

from request_dse.submission.errors import BundleError

CHECKSUMS = "checksums.sha256"
VALIDATION = "validation.json"
NOT_COVERED = frozenset({CHECKSUMS, VALIDATION})
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def bundle_files(root: Path) -> list[str]:
    """Relative POSIX paths of the bundle's files (links included, as the paths they are)."""
    out = []
    for p in sorted(root.rglob("*")):
        if p.is_dir() and not p.is_symlink():
            continue
        rel = p.relative_to(root).as_posix()
        if rel not in NOT_COVERED:
            out.append(rel)
    return out


def write_checksums(root: Path) -> Path:
    lines = [f"{sha256_file(root / rel)}  {rel}" for rel in bundle_files(root)]
    path = root / CHECKSUMS
    path.write_text("\n".join(lines) + "\n")
    return path


def digest(root: Path) -> str:
    """The sha256 of the checksums file: one value that names the bundle's whole content."""
    return sha256_file(root / CHECKSUMS)


def read_checksums(root: Path, label: str | Path) -> dict[str, str]:
    path = root / CHECKSUMS
    if not path.is_file() or path.is_symlink():
        raise BundleError(label, "no_checksums", f"{CHECKSUMS} is missing: every file of a bundle must be covered")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError(label, "no_checksums", f"{CHECKSUMS} is unreadable ({exc})") from None
    out: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        m = _LINE.match(line)
        if m is None:
            raise BundleError(label, "no_checksums", f"{CHECKSUMS}: line {n}: not '<sha256>  <path>'")
        rel = m.group(2)
        parts = PurePosixPath(rel).parts
        if rel.startswith("/"):
            raise BundleError(label, "absolute_path", f"{CHECKSUMS}: line {n}: absolute path {rel!r}")
        if ".." in parts:
            raise BundleError(label, "traversal", f"{CHECKSUMS}: line {n}: path {rel!r} climbs out with '..'")
        if rel in out:
            raise BundleError(label, "no_checksums", f"{CHECKSUMS}: line {n}: {rel!r} is listed twice")
        out[rel] = m.group(1)
    if not out:
        raise BundleError(label, "no_checksums", f"{CHECKSUMS} lists no file")
    return out


def check_links(root: Path, label: str | Path) -> None:
    """No link in the folder may resolve outside it."""
    real = root.resolve()
    for p in root.rglob("*"):
        if p.is_symlink():
            target = p.resolve()
            if target != real and real not in target.parents:
                raise BundleError(label, "link_escape",
                                  f"{p.relative_to(root).as_posix()} is a link to {p.readlink()} outside the bundle")


def verify(root: Path, label: str | Path | None = None) -> dict[str, str]:
    """Check every file against ``checksums.sha256`` before anything is read; returns the listing.

    Rejects (:class:`BundleError`): a missing or malformed checksums file, a link out of the
    folder, a listed file that is missing, a file whose sha256 differs, a file not listed."""
    label = label if label is not None else root
    check_links(root, label)
    listed = read_checksums(root, label)
    for rel, expected in listed.items():
        path = root / rel
        if not path.is_file():
            raise BundleError(label, "missing_file", f"{rel}: listed in {CHECKSUMS} but missing from the bundle")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(label, "tampered", f"{rel}: sha256 {actual[:16]}... differs from {expected[:16]}... "
                                                 f"in {CHECKSUMS} (the file was changed after the bundle was made)")
    extra = [rel for rel in bundle_files(root) if rel not in listed]
    if extra:
        raise BundleError(label, "uncovered_file", f"{extra[0]}: not covered by {CHECKSUMS}"
                                                   + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    return listed
