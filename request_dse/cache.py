"""Results cache: a finished trial's outcome keyed by everything that determines it.

The key (:meth:`request_dse.plan.Plan.trial_key`) covers the model file, the candidate, the
resolved flags, the target, the measurement protocol and the environment fingerprint (CPU,
library versions), so a hit stands for a fresh measurement on this machine. Entries are JSON
files written atomically; several processes may share the cache.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from request_dse.cache_limit import touch
from request_dse.records import DETERMINISTIC_FAILURES
from request_dse.workloads._files import write_atomic


class ResultsCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        path = self._path(key)
        try:
            hit = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        touch(path)
        return hit

    def put(self, key: str, record: dict[str, Any]) -> None:
        """Keep ``ok`` results and failures the candidate itself causes; never passing ones."""
        if record.get("status") != "ok" and record.get("status") not in DETERMINISTIC_FAILURES:
            return
        text = json.dumps(record, sort_keys=True, default=str)
        write_atomic(self._path(key), lambda tmp: tmp.write_text(text))
