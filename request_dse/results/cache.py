"""Results cache: a finished trial's outcome keyed by everything that determines it.

The key (:meth:`request_dse.study.Plan.trial_key`) covers the model file, the candidate, the
resolved flags, the target, the measurement protocol and the environment fingerprint (CPU,
library versions), so a hit stands for a fresh measurement on this machine. Entries are JSON
files written atomically; several processes may share the cache.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from request_dse.cachedir import touch
from request_dse.files import write_atomic
from request_dse.results.records import DETERMINISTIC_FAILURES, TrialResult
from request_dse.space import Candidate


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


def cache_record(result: TrialResult, paths: Mapping[str, str]) -> dict[str, Any]:
    """What the cache keeps of a finished trial."""
    return {"status": result.status, "metrics": dict(result.metrics), "error": result.error,
            "paths": dict(paths), "info": dict(result.info), "timings": dict(result.timings)}


def result_from_cache(candidate: Candidate, hit: Mapping[str, Any]) -> TrialResult:
    """The trial result a cache entry stands for."""
    paths = hit.get("paths", {})
    return TrialResult(candidate, hit["status"], hit.get("metrics", {}), hit.get("error", ""),
                       Path(paths["artifact"]) if "artifact" in paths else None,
                       Path(paths["samples"]) if "samples" in paths else None,
                       Path(paths["build_log"]) if "build_log" in paths else None,
                       hit.get("info", {}), {})
