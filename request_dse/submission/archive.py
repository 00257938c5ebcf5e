"""Safe extraction of bundle archives (``.tar.gz``, ``.tgz``, ``.tar``, ``.zip``) from anyone.

Every member is checked before anything is written: no absolute path, no ``..``, no link that
resolves outside the destination, nothing but files, folders and links, and a cap on the
expanded size and member count. A truncated or corrupt archive is rejected as such. Only then
are the members written, one by one, under the destination folder.
"""

from __future__ import annotations

import gzip
import os
import posixpath
import stat
import tarfile
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from request_dse.submission.errors import BundleError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar", ".zip")
MAX_BYTES = 4 * 2**30
MAX_MEMBERS = 100_000


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


def _limits(archive: Path, count: int, total: int) -> None:
    if count > MAX_MEMBERS:
        raise BundleError(archive, "too_large", f"more than {MAX_MEMBERS} members")
    if total > MAX_BYTES:
        raise BundleError(archive, "too_large", f"expands to more than {MAX_BYTES / 2**30:.0f} GiB")


def _inside(dest: Path, rel: str) -> Path:
    out = (dest / rel).resolve()
    if out != dest and dest not in out.parents:
        raise BundleError(dest, "link_escape", f"{rel!r} would be written outside the bundle through a link")
    return out


def _extract_tar(archive: Path, dest: Path) -> None:
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()  # reads to the end: a truncated archive fails here
            count, total = 0, 0
            for m in members:
                name = _check_name(archive, m.name)
                count += 1
                total += max(m.size, 0)
                _limits(archive, count, total)
                if m.issym():
                    _check_link(archive, name, m.linkname)
                elif m.islnk():
                    _check_link(archive, name, _check_name(archive, m.linkname), hard=True)
                elif not (m.isfile() or m.isdir()):
                    raise BundleError(archive, "special_file", f"member {m.name!r} is not a regular file or folder")
            for m in members:
                name = _check_name(archive, m.name)
                if name == ".":
                    continue
                out = _inside(dest, name)
                if m.isdir():
                    out.mkdir(parents=True, exist_ok=True)
                elif m.issym():
                    out.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(m.linkname, out)
                elif m.islnk():
                    source = _inside(dest, _check_name(archive, m.linkname))
                    if not source.is_file():
                        raise BundleError(archive, "link_escape", f"hard link {m.name!r} points to a missing file")
                    out.parent.mkdir(parents=True, exist_ok=True)
                    os.link(source, out)
                else:
                    out.parent.mkdir(parents=True, exist_ok=True)
                    reader = tar.extractfile(m)
                    assert reader is not None
                    with reader, open(out, "xb") as f:
                        while chunk := reader.read(1 << 20):
                            f.write(chunk)
                    os.chmod(out, 0o644 | (0o111 if m.mode & 0o100 else 0))
    except FileExistsError as exc:
        raise BundleError(archive, "traversal", f"member {Path(exc.filename or '').name!r} appears twice") from None
    except (EOFError, tarfile.ReadError, tarfile.CompressionError, gzip.BadGzipFile, zlib.error) as exc:
        raise BundleError(archive, "truncated", f"truncated or corrupt archive ({type(exc).__name__}: {exc})") from None


def _extract_zip(archive: Path, dest: Path) -> None:
    try:
        with zipfile.ZipFile(archive) as z:
            infos = z.infolist()
            bad = z.testzip()  # reads every member: truncated data fails its CRC here
            if bad is not None:
                raise BundleError(archive, "truncated", f"member {bad!r} fails its CRC check (truncated or corrupt)")
            count, total = 0, 0
            links: dict[str, str] = {}
            for info in infos:
                name = _check_name(archive, info.filename)
                count += 1
                total += info.file_size
                _limits(archive, count, total)
                mode = info.external_attr >> 16
                if stat.S_ISLNK(mode):
                    target = z.read(info).decode("utf-8", "replace")
                    _check_link(archive, name, target)
                    links[info.filename] = target
                elif stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
                    raise BundleError(archive, "special_file", f"member {info.filename!r} is not a regular file or folder")
            for info in infos:
                name = _check_name(archive, info.filename)
                if name == ".":
                    continue
                out = _inside(dest, name)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                elif info.filename in links:
                    out.parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(links[info.filename], out)
                else:
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with z.open(info) as reader, open(out, "xb") as f:
                        while chunk := reader.read(1 << 20):
                            f.write(chunk)
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
