"""A durable outbox of tracking writes: nothing is lost while the tracking server is down.

Every write to MLflow is first appended to ``<work_dir>/tracking/outbox.jsonl`` as a payload
with a key (``trial:7``, ``parent:start``, ``pareto``...), then sent; a ``done`` line marks it
sent. A later payload with the same key supersedes an unsent earlier one (a trial that started
and then finished is sent once, as finished). Sending is idempotent (runs are found again by
their tags), so a payload sent twice, say by a process killed before it wrote ``done``, does
not make a second run. When everything is sent the file is emptied.

Appends and compaction take an exclusive lock on the file, so the running study and
``request-dse sync`` may share one outbox.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class Outbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock_path = path.with_suffix(".lock")

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a") as lock:
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
        data = "".join(json.dumps(line, separators=(",", ":"), default=str) + "\n" for line in lines)
        with self._locked(), open(self.path, "a+b") as f:
            if f.tell() > 0:  # a line a crash cut short must not swallow the next one
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":
                    data = "\n" + data
            f.write(data.encode())  # no fsync: a kill leaves it in the OS's cache, and what a power
            # loss takes is projected again from the study's storage (``repair`` in sync.py)

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

    def _lines(self) -> list[tuple[int, dict[str, Any]]]:
        with self._locked():
            return self._read()

    def _read(self) -> list[tuple[int, dict[str, Any]]]:
        try:
            text = self.path.read_text()
        except FileNotFoundError:
            return []
        out = []
        for seq, raw in enumerate(text.splitlines()):
            try:
                out.append((seq, json.loads(raw)))
            except json.JSONDecodeError:  # a line a crash cut short: it was never acknowledged
                continue
        return out

    def pending(self) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, payload)`` of the unsent payloads, oldest first (seq: the line number)."""
        return self._pending(self._lines())

    @staticmethod
    def _pending(lines: list[tuple[int, dict[str, Any]]]) -> list[tuple[int, dict[str, Any]]]:
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        for seq, line in lines:
            if "put" in line:
                latest[line["put"]["key"]] = (seq, line["put"])
            elif "done" in line and line["done"] in latest and latest[line["done"]][0] <= line["seq"]:
                del latest[line["done"]]
        return sorted(latest.values(), key=lambda item: item[0])

    def compact(self) -> None:
        """Empty the file when nothing in it is pending (sequence numbers restart)."""
        with self._locked():
            if self.path.exists() and not self._pending(self._read()):
                self.path.write_text("")

    def __len__(self) -> int:
        return len(self.pending())
