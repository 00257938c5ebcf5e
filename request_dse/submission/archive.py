"""Safe extraction of bundle archives (``.tar.gz``, ``.tgz``, ``.tar``, ``.zip``) from anyone.

Two passes. The first reads only the members' headers (a zip's central directory; a tar's
headers, one after another) and refuses the archive at the first member that breaks a rule: an
absolute path, ``..``, a link resolving outside the folder, anything but files, folders and
links, more than :data:`MAX_MEMBERS` members or more than :data:`MAX_BYTES` declared in all. It
stops there, so a bomb costs at most the headers up to the limit, and nothing has been written.
The second pass writes the members one by one, streaming each with a running total, so no
member writes more than it declared; a truncated or corrupt member (a failed CRC) is rejected.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from request_dse.bounded import size_text
from request_dse.submission.errors import BundleError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
#: What a bundle may hold, in all: its files' bytes and the number of its members.
MAX_BYTES = 1 << 30
MAX_MEMBERS = 10_000
_CHUNK = 1 << 20


def is_archive(path: Path) -> bool:
    return path.name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: Path) -> str:
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def _check_name(archive: Path, name: str) -> str:
    """The member's normalized relative path, or a rejection."""
    if name.startswith(("/", "\\")) or PurePosixPath(name).is_absolute() or (len(name) > 1 and name[1] == ":"):
        raise BundleError(archive, "absolute_path", f"member {name!r} has an absolute path")
    parts = PurePosixPath(name.replace("\\", "/")).parts
    if ".." in parts:
        raise BundleError(archive, "traversal", f"member {name!r} climbs out of the bundle folder with '..'")
    clean = posixpath.normpath("/".join(p for p in parts if p not in ("", ".")) or ".")
    return clean


def _check_link(archive: Path, name: str, target: str, hard: bool = False) -> None:
    """A link may only point inside the archive's folder."""
    if not target or target.startswith("/") or PurePosixPath(target).is_absolute():
        raise BundleError(archive, "link_escape", f"link {name!r} points outside the bundle (to {target!r})")
    base = "" if hard else posixpath.dirname(name)
    resolved = posixpath.normpath(posixpath.join(base, target))
    if resolved in (".", "..") or resolved.startswith("../") or resolved.startswith("/"):
        raise BundleError(archive, "link_escape", f"link {name!r} points outside the bundle (to {target!r})")


class _Budget:
    """Running totals of members and declared bytes against the limits."""

    def __init__(self, archive: Path) -> None:
        self.archive, self.count, self.total = archive, 0, 0

    def add(self, size: int) -> None:
        self.count += 1
        self.total += max(size, 0)
        if self.count > MAX_MEMBERS:
            raise BundleError(self.archive, "too_large", f"more than {MAX_MEMBERS:,} members (the limit of a bundle)")
        if self.total > MAX_BYTES:
            raise BundleError(self.archive, "too_large", f"its members declare more than {size_text(MAX_BYTES)} "
                                                         "(the limit of a bundle)")


def _inside(dest: Path, rel: str) -> Path:
    out = (dest / rel).resolve()
    if out != dest and dest not in out.parents:
        raise BundleError(dest, "link_escape", f"{rel!r} would be written outside the bundle through a link")
    return out


def _copy(archive: Path, name: str, reader: IO[bytes], out: Path, declared: int) -> None:
    """Stream one member into ``out``, never past the size it declared."""
    written = 0
    with open(out, "xb") as f:
        while chunk := reader.read(min(_CHUNK, declared - written + 1)):
            written += len(chunk)
            if written > declared:
                raise BundleError(archive, "truncated", f"member {name!r} holds more than the {declared} bytes it declares")
            f.write(chunk)
    if written != declared:
        raise BundleError(archive, "truncated", f"member {name!r} holds {written} of the {declared} bytes it declares")


def _tar_members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The members' headers, one at a time (a gzip stream is read forward, never kept whole)."""
    while (member := tar.next()) is not None:
        yield member


def _scan_tar(archive: Path, tar: tarfile.TarFile) -> list[tarfile.TarInfo]:
    budget, members = _Budget(archive), []
    for m in _tar_members(tar):
        name = _check_name(archive, m.name)
        budget.add(m.size if m.isfile() else 0)
        if m.issym():
            _check_link(archive, name, m.linkname)
        elif m.islnk():
            _check_link(archive, name, _check_name(archive, m.linkname), hard=True)
        elif not (m.isfile() or m.isdir()):
            raise BundleError(archive, "special_file", f"member {m.name!r} is not a regular file or folder")
        members.append(m)
    return members


def _extract_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = _scan_tar(archive, tar)  # headers only; stops at the first broken rule
            for m in members:
                name = _check_name(archive, m.name)
                if name == ".":
                    continue
                out = _inside(dest, name)
                if m.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                if m.issym():
                    os.symlink(m.linkname, out)
                elif m.islnk():
                    source = _inside(dest, _check_name(archive, m.linkname))
                    if not source.is_file():
                        raise BundleError(archive, "link_escape", f"hard link {m.name!r} points to a missing file")
                    os.link(source, out)
                else:
                    reader = tar.extractfile(m)
                    assert reader is not None  # a regular file has a reader
                    with reader:
                        _copy(archive, m.name, reader, out, m.size)
                    os.chmod(out, 0o644 | (0o111 if m.mode & 0o100 else 0))
    except FileExistsError as exc:
        raise BundleError(archive, "traversal", f"member {Path(exc.filename or '').name!r} appears twice") from None
    except (EOFError, tarfile.ReadError, tarfile.CompressionError, gzip.BadGzipFile, zlib.error) as exc:
        raise BundleError(archive, "truncated", f"truncated or corrupt archive ({type(exc).__name__}: {exc})") from None


def _scan_zip(archive: Path, z: zipfile.ZipFile) -> dict[str, str]:
    """Check the central directory (no member is decompressed but links' short targets)."""
    budget, links = _Budget(archive), {}
    for info in z.infolist():
        name = _check_name(archive, info.filename)
        budget.add(info.file_size)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            if info.file_size > 4096:
                raise BundleError(archive, "link_escape", f"link {info.filename!r} has a target of {info.file_size} bytes")
            target = z.read(info).decode("utf-8", "replace")
            _check_link(archive, name, target)
            links[info.filename] = target
        elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            raise BundleError(archive, "special_file", f"member {info.filename!r} is not a regular file or folder")
    return links


def _extract_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            links = _scan_zip(archive, z)
            for info in z.infolist():
                name = _check_name(archive, info.filename)
                if name == ".":
                    continue
                out = _inside(dest, name)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                if info.filename in links:
                    os.symlink(links[info.filename], out)
                else:
                    with z.open(info) as reader:  # checks the CRC when the member ends
                        _copy(archive, info.filename, reader, out, info.file_size)
    except (zipfile.BadZipFile, EOFError, zipfile.LargeZipFile, NotImplementedError, zlib.error) as exc:
        raise BundleError(archive, "truncated", f"truncated or corrupt archive ({type(exc).__name__}: {exc})") from None
    except FileExistsError as exc:
        raise BundleError(archive, "traversal", f"member {Path(exc.filename or '').name!r} appears twice") from None


def safe_extract(archive: Path, dest: Path) -> Path:
    """Extract ``archive`` into the empty folder ``dest``; returns the bundle folder inside it
    (``dest`` itself, or its only sub-folder when the archive wraps the bundle in one)."""
    if not archive.is_file():
        raise BundleError(archive, "not_found", "no such archive")
    dest.mkdir(parents=True, exist_ok=True)
    dest = dest.resolve()
    if archive.name.lower().endswith(".zip"):
        _extract_zip(archive, dest)
    else:
        _extract_tar(archive, dest)
    entries = [p for p in dest.iterdir()]
    if len(entries) == 1 and entries[0].is_dir() and not entries[0].is_symlink():
        return entries[0]
    return dest


def make_archive(bundle_dir: Path, archive: Path) -> Path:
    """Pack a bundle folder as ``archive`` (``.tar.gz`` or ``.zip``) under its own folder name."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in bundle_dir.rglob("*") if p.is_file())
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
            for p in files:
                z.write(p, f"{bundle_dir.name}/{p.relative_to(bundle_dir).as_posix()}")
    else:
        with tarfile.open(archive, "w:gz") as tar:
            tar.add(bundle_dir, arcname=bundle_dir.name)
    return archive
