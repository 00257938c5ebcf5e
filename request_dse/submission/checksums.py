"""``checksums.sha256``: the sha256 of every file of a bundle, in ``sha256sum`` format.

It covers every file but itself and ``validation.json`` (the validator's verdict, written
later beside the submitter's files). ``sha256sum -c checksums.sha256`` checks it by hand.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path, PurePosixPath

from request_dse.bounded import Refused, read_bytes, size_text
from request_dse.files import sha256_file
from request_dse.submission.archive import MAX_BYTES, MAX_MEMBERS
from request_dse.submission.errors import BundleError

CHECKSUMS = "checksums.sha256"
VALIDATION = "validation.json"
NOT_COVERED = frozenset({CHECKSUMS, VALIDATION})
#: Room for a line per member (a path of up to 300 characters and its digest).
MAX_CHECKSUMS_BYTES = MAX_MEMBERS * 400
_LINE = re.compile(r"^([0-9a-f]{64}) [ *](.+)$")


def walk(root: Path, label: str | Path | None = None) -> list[tuple[str, int]]:
    """Every file and link of the bundle folder as (relative POSIX path, ``st_mode``), sorted.

    Walks without following links and refuses (:class:`BundleError`) a folder holding anything
    but files, folders and links (a FIFO would hang whoever reads it), more than
    :data:`MAX_MEMBERS` entries, or more than :data:`MAX_BYTES` in its files."""
    label = label if label is not None else root
    out: list[tuple[str, int]] = []
    count = total = 0
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in [*dirs, *files]:
            path = Path(folder) / name
            count += 1
            if count > MAX_MEMBERS:
                raise BundleError(label, "too_large", f"more than {MAX_MEMBERS:,} files and folders (the limit of a bundle)")
            mode = path.lstat().st_mode
            rel = path.relative_to(root).as_posix()
            if stat.S_ISDIR(mode):
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                raise BundleError(label, "special_file", f"{rel} is neither a file, a folder nor a link")
            total += path.lstat().st_size if stat.S_ISREG(mode) else 0
            if total > MAX_BYTES:
                raise BundleError(label, "too_large", f"its files hold more than {size_text(MAX_BYTES)} "
                                                      "(the limit of a bundle)")
            out.append((rel, mode))
    return sorted(out)


def bundle_files(root: Path, label: str | Path | None = None) -> list[str]:
    """Relative POSIX paths of the bundle's files covered by the checksums (links included, as
    the paths they are), within the limits of :func:`walk`."""
    return [rel for rel, _ in walk(root, label) if rel not in NOT_COVERED]


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
        text = read_bytes(path, MAX_CHECKSUMS_BYTES).decode("utf-8")
    except Refused as exc:
        raise BundleError(label, "too_large" if "limit" in str(exc) else "no_checksums", f"{CHECKSUMS} {exc}") from None
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


def check_links(root: Path, label: str | Path, entries: list[tuple[str, int]] | None = None) -> None:
    """No link in the folder may resolve outside it (``validation.json`` included)."""
    real = root.resolve()
    for rel, mode in entries if entries is not None else walk(root, label):
        if stat.S_ISLNK(mode):
            p = root / rel
            target = p.resolve()
            if target != real and real not in target.parents:
                raise BundleError(label, "link_escape", f"{rel} is a link to {p.readlink()} outside the bundle")


def verify(root: Path, label: str | Path | None = None) -> dict[str, str]:
    """Check every file against ``checksums.sha256`` before anything is read; returns the listing.

    Rejects (:class:`BundleError`): a missing or malformed checksums file, a link out of the
    folder, a listed file that is missing, a file whose sha256 differs, a file not listed."""
    label = label if label is not None else root
    entries = walk(root, label)  # limits and special files, before anything is read
    check_links(root, label, entries)
    present = [rel for rel, _ in entries if rel not in NOT_COVERED]
    listed = read_checksums(root, label)
    for rel, expected in listed.items():
        path = root / rel
        if not path.is_file():
            raise BundleError(label, "missing_file", f"{rel}: listed in {CHECKSUMS} but missing from the bundle")
        actual = sha256_file(path)
        if actual != expected:
            raise BundleError(label, "tampered", f"{rel}: sha256 {actual[:16]}... differs from {expected[:16]}... "
                                                 f"in {CHECKSUMS} (the file was changed after the bundle was made)")
    extra = [rel for rel in present if rel not in listed]
    if extra:
        raise BundleError(label, "uncovered_file", f"{extra[0]}: not covered by {CHECKSUMS}"
                                                   + (f" (and {len(extra) - 1} more)" if len(extra) > 1 else ""))
    return listed
