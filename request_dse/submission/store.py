"""The validation store: the organizer's own record of every verdict, keyed by bundle content.

A badge is only as good as who wrote it. ``validation.json`` inside a bundle folder is a file
the participant controls (checksums do not cover it), so it is a *claim*. The verdicts that
count are those ``request-dse validate`` appended to the store of the organizer who ran it: a
JSON Lines file outside any bundle, one record per verdict, keyed by the bundle's content
digest (:attr:`Bundle.digest`, the sha256 of its ``checksums.sha256``). The latest record of a
digest wins. A bundle whose folder is rewritten with the same content keeps its verdict; any
change of content is another digest, which no verdict names yet.

Where it lives: ``$REQUEST_DSE_VALIDATIONS``, else ``$XDG_DATA_HOME/request-dse/validations.jsonl``
(``~/.local/share/request-dse/validations.jsonl``). ``validate --store`` and ``scoreboard
--validations`` name another.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from request_dse.errors import UserError
from request_dse.files import lock

ENV = "REQUEST_DSE_VALIDATIONS"
SCHEMA = "request-dse/validation"


def default_path() -> Path:
    """``$REQUEST_DSE_VALIDATIONS``, else the validations file under the user's data folder."""
    env = os.environ.get(ENV)
    if env:
        return Path(env).expanduser()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "request-dse" / "validations.jsonl"


class ValidationStore:
    """One organizer's verdicts, appended under a lock (several validators may share it)."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path).expanduser() if path is not None else default_path()
        if self.path.exists() and not self.path.is_file():
            raise UserError(f"{self.path}: the validation store must be a file (JSON Lines), not a folder")

    def add(self, record: Mapping[str, Any]) -> None:
        """Append one verdict (it must name the ``bundle_digest`` it judged)."""
        if not record.get("bundle_digest"):
            raise ValueError("a verdict without a bundle digest names no content")
        line = json.dumps(record, default=str, separators=(",", ":")) + "\n"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with lock(self.path), open(self.path, "a", encoding="utf-8") as f:
                f.write(line)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            raise UserError(f"{self.path}: cannot record the verdict in the validation store "
                            f"({exc.strerror or exc})") from None

    def records(self) -> Iterator[dict[str, Any]]:
        """Every well-formed record, oldest first (a torn last line is skipped)."""
        try:
            handle = open(self.path, encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return
        except OSError as exc:
            raise UserError(f"{self.path}: cannot read the validation store ({exc.strerror or exc})") from None
        with handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if isinstance(record, dict) and isinstance(record.get("bundle_digest"), str):
                    yield record

    def latest(self) -> dict[str, dict[str, Any]]:
        """The latest verdict of each bundle digest."""
        return {r["bundle_digest"]: r for r in self.records()}

    def get(self, digest: str) -> dict[str, Any] | None:
        return self.latest().get(digest)
