"""Reading what someone else wrote, within limits: regular files only, the size checked before a
byte is read, JSON nesting bounded.

Every reader of an outside file (a study, a catalog, a bundle's documents, a user's ONNX model)
goes through :func:`read_bytes` or :func:`read_json`, so ``/dev/zero``, a FIFO, a folder or a
file larger than the limit is refused at once -- never read until memory or patience runs out.
A refusal is a :class:`Refused` (a ``ValueError``) carrying the rule; each caller turns it into
its own one-line error naming the file and the field.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

#: Deepest nesting a JSON document may have (request-dse's own documents stay under 8).
MAX_JSON_DEPTH = 64
MiB = 1 << 20


class Refused(ValueError):
    """An outside file broke a limit; ``str()`` is the rule it broke."""


def size_text(n: float) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{int(n)} bytes"


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def read_bytes(path: str | Path, max_bytes: int) -> bytes:
    """The content of the regular file ``path`` of at most ``max_bytes`` bytes. Raises
    :class:`Refused` for anything else (checked on the open file, so it cannot be swapped),
    ``FileNotFoundError`` / ``OSError`` as ``open`` does."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0))  # a FIFO must not block here
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Refused(f"is {_kind(info.st_mode)}, not a regular file")
        if info.st_size > max_bytes:
            raise Refused(f"is {size_text(info.st_size)}, over the limit of {size_text(max_bytes)}")
        chunks, total = [], 0
        while chunk := os.read(fd, min(1 << 20, max_bytes + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # it grew while being read
                raise Refused(f"is over the limit of {size_text(max_bytes)}")
        return b"".join(chunks)
    finally:
        os.close(fd)


def check_file(path: str | Path, max_bytes: int) -> int:
    """The size of the regular file ``path``, refused (:class:`Refused`) when it is something
    else or larger than ``max_bytes``: for files a library then opens itself."""
    info = os.stat(path)
    if not stat.S_ISREG(info.st_mode):
        raise Refused(f"is {_kind(info.st_mode)}, not a regular file")
    if info.st_size > max_bytes:
        raise Refused(f"is {size_text(info.st_size)}, over the limit of {size_text(max_bytes)}")
    return info.st_size


def depth(value: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """How deep ``value`` nests (a scalar: 0), walking without recursion and stopping past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > limit:
            return deepest
        stack.extend((c, level) for c in children)
    return deepest


def parse_json(text: str | bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """``json.loads`` that refuses (:class:`Refused`) a document nested deeper than ``max_depth``
    (Python's parser would raise RecursionError, or pass on a depth that breaks later code).
    Invalid JSON raises ``ValueError`` as ``json.loads`` does."""
    try:
        doc = json.loads(text)
    except RecursionError:
        raise Refused(f"nests deeper than {max_depth} levels") from None
    if depth(doc, max_depth) > max_depth:
        raise Refused(f"nests deeper than {max_depth} levels")
    return doc


def read_json(path: str | Path, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """A JSON file within the size and depth limits (:class:`Refused` otherwise)."""
    return parse_json(read_bytes(path, max_bytes), max_depth)


def npz_arrays(path: str | Path, max_bytes: int) -> dict[str, tuple[tuple[int, ...], str]]:
    """The arrays of the ``.npz`` file ``path`` as their headers declare them, ``{name: (shape,
    dtype)}``, read without loading any data: a regular file, no pickled objects, each member's
    size equal to what its header declares, and all of them together at most ``max_bytes``
    once loaded -- so a small archive cannot expand to gigabytes in the process that loads it.
    Raises :class:`Refused`; a file that is no ``.npz`` at all raises ``ValueError`` / ``OSError``."""
    import zipfile

    import numpy as np

    check_file(path, max_bytes)
    out: dict[str, tuple[tuple[int, ...], str]] = {}
    total = 0
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        if len(members) > 1000:
            raise Refused(f"holds {len(members)} arrays, over the limit of 1000")
        for info in members:
            if not info.filename.endswith(".npy"):
                raise Refused(f"member {info.filename!r} is not a .npy array")
            total += info.file_size
            if total > max_bytes:
                raise Refused(f"expands to more than {size_text(max_bytes)}")
            with archive.open(info) as f:
                version = np.lib.format.read_magic(f)
                read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
                shape, _, dtype = read(f, max_header_size=10_000)
                header = f.tell()
            if dtype.hasobject:
                raise Refused(f"array {info.filename[:-4]!r} holds Python objects (only plain numbers are read)")
            size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
            if header + size != info.file_size:
                raise Refused(f"array {info.filename[:-4]!r} declares {size_text(size)} of data but its member "
                              f"holds {size_text(max(0, info.file_size - header))}")
            out[info.filename[:-4]] = (tuple(int(d) for d in shape), dtype.str)
    return out


def npy_array(path: str | Path, max_bytes: int) -> tuple[tuple[int, ...], str]:
    """The shape and dtype the ``.npy`` file ``path`` declares, read from its header only: a
    regular file of at most ``max_bytes``, no pickled objects, and exactly the size it declares
    (:class:`Refused` otherwise)."""
    import numpy as np

    size = check_file(path, max_bytes)
    with open(path, "rb") as f:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(f, max_header_size=10_000)
        header = f.tell()
    if dtype.hasobject:
        raise Refused("holds Python objects (only plain numbers are read)")
    data = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize if shape else dtype.itemsize
    if header + data != size:
        raise Refused(f"declares {size_text(data)} of data but holds {size_text(max(0, size - header))}")
    return tuple(int(d) for d in shape), dtype.str
