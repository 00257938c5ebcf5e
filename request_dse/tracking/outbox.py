"""A durable outbox of tracking writes: nothing is lost while the tracking server is down.

Every write to MLflow is first appended to ``<work_dir>/tracking/outbox.jsonl`` as a payload
with a key (``trial:7``, ``parent:start``, ``pareto``...), then sent; a ``done`` line marks it
sent. A later payload with the same key supersedes an unsent earlier one (a trial that started
and then finished is sent once, as finished). Sending is idempotent (runs are found again by
their tags), so a payload sent twice, say by a process killed before it wrote ``done``, does
not make a second run. When everything is sent the file is replaced by an empty one, whose only
line names its generation.

Appends, reads and compaction take an exclusive lock on the file, so the running study and
``request-dse sync`` may share one outbox. A reader keeps what it has read (the pending
payloads, the offset and the generation) and reads only the lines appended since: the lock is
held for one short read, and a sender's cost per payload does not grow with the file. A writer
keeps the lock file and the outbox open between appends (an append is a few system calls, no
``open``); it opens the outbox again when compaction has replaced it, and a copy in another
process (or after a fork) opens its own.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_suffix(".lock")
        self._fds: dict[str, int] = {}  # "lock" and "append": descriptors this process keeps open
        self._pid = os.getpid()
        self._threads = threading.Lock()  # the file lock is the process's: threads take turns first
        self._forget()

    def _forget(self) -> None:
        """Drop what was read: the next read starts at the file's first line."""
        self._generation = b""  # the file's first line when it was read (compaction changes it)
        self._offset = 0  # bytes read: always just after a newline
        self._count = 0  # lines read (the next line's seq)
        self._latest: dict[str, tuple[int, dict[str, Any]]] = {}  # pending payloads by key

    def __getstate__(self) -> dict[str, Any]:  # a copy sent to another process reads afresh
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]

    def close(self) -> None:
        """Close the descriptors this process keeps (the next append opens them again)."""
        fds, self._fds = self._fds, {}
        if self._pid == os.getpid():  # a forked copy's descriptors are its parent's too
            for fd in fds.values():
                os.close(fd)

    def __del__(self) -> None:
        try:
            self.close()
        except (OSError, AttributeError):
            pass

    def _fd(self, name: str, path: Path, flags: int) -> int:
        if self._pid != os.getpid():  # forked: a lock shared with the parent would not exclude it
            self._fds, self._pid = {}, os.getpid()
        fd = self._fds.get(name)
        if fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._fds[name] = os.open(path, flags | os.O_CREAT | os.O_CLOEXEC, 0o644)
        return fd

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._threads:
            lock = self._fd("lock", self._lock_path, os.O_WRONLY)
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    @contextmanager
    def sending(self) -> Iterator[bool]:
        """Hold the right to send (one sender per outbox); yields False when another holds it."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".send-lock"), "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _append(self, lines: list[dict[str, Any]]) -> None:
        data = "".join(json.dumps(line, separators=(",", ":"), default=str) + "\n" for line in lines).encode()
        with self._locked():
            fd = self._fd("append", self.path, os.O_RDWR | os.O_APPEND)
            if not _same_file(fd, self.path):  # compacted (or removed) since: append to the file there now
                os.close(self._fds.pop("append"))
                fd = self._fd("append", self.path, os.O_RDWR | os.O_APPEND)
            size = os.fstat(fd).st_size
            if size > 0 and os.pread(fd, 1, size - 1) != b"\n":  # a line a crash cut short must not
                data = b"\n" + data                                   # swallow the next one
            while data:  # no fsync: a kill leaves it in the OS's cache, and what a power loss takes is
                data = data[os.write(fd, data):]  # projected again from the study's storage (``repair``)

    def put(self, *payloads: dict[str, Any]) -> None:
        """Queue payloads (each with a ``key``), in one write."""
        self._append([{"put": payload} for payload in payloads])

    def done(self, key: str, seq: int) -> None:
        """Mark the payload read as ``seq`` sent."""
        self.done_many([(key, seq)])

    def done_many(self, marks: list[tuple[str, int]]) -> None:
        """Mark several payloads ``(key, seq)`` sent, in one write."""
        if marks:
            self._append([{"done": key, "seq": seq} for key, seq in marks])

    def pending(self) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, payload)`` of the unsent payloads, oldest first (seq: the line number)."""
        with self._locked():
            self._catch_up()
            latest = list(self._latest.values())
        return sorted(latest, key=lambda item: item[0])

    def _catch_up(self) -> None:
        """Read the lines appended since the last read (the whole file when it was compacted)."""
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            self._forget()
            return
        with f:
            first = f.readline()
            if not first.endswith(b"\n") or first != self._generation or os.fstat(f.fileno()).st_size < self._offset:
                self._forget()
            if not first.endswith(b"\n"):
                return  # empty, or one line still cut short: nothing complete to read
            self._generation = first
            f.seek(self._offset)
            data = f.read()
        end = data.rfind(b"\n") + 1  # a last line without its newline was cut short by a crash:
        for seq, line in _parse(data[:end], self._count):  # it is read, and skipped, once the next append ends it
            _apply(self._latest, seq, line)
        self._count += data.count(b"\n", 0, end)
        self._offset += end

    def compact(self) -> None:
        """Replace the file by an empty one when nothing in it is pending (sequence numbers restart)."""
        with self._locked():
            self._catch_up()
            if self.path.exists() and not self._latest:
                fresh = self.path.with_suffix(".compacting")
                fresh.write_text(json.dumps({"generation": uuid.uuid4().hex}) + "\n")
                os.replace(fresh, self.path)
                self._forget()

    def __len__(self) -> int:
        return len(self.pending())


def _same_file(fd: int, path: Path) -> bool:
    try:
        there = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (mine.st_dev, mine.st_ino) == (there.st_dev, there.st_ino)


def _parse(data: bytes, first_seq: int) -> Iterator[tuple[int, dict[str, Any]]]:
    for seq, raw in enumerate(data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n"), first_seq):
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:  # a line a crash cut short: it was never acknowledged
            continue
        if isinstance(line, dict):
            yield seq, line


def _apply(latest: dict[str, tuple[int, dict[str, Any]]], seq: int, line: dict[str, Any]) -> None:
    if "put" in line:
        latest[line["put"]["key"]] = (seq, line["put"])
    elif "done" in line and line["done"] in latest and latest[line["done"]][0] <= line["seq"]:
        del latest[line["done"]]
