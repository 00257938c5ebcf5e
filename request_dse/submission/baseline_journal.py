"""What a baseline run has measured so far, kept so that running the same command again continues.

One JSON line per finished candidate (its number, hash, status, metrics, error, info and where
its artifact and samples are, with the samples' digest) in the run's work dir, appended and flushed as each result comes
in: Ctrl-C or ``kill -9`` loses at most the candidates in flight. A journal belongs to one
command line, output folder and set of library versions (its file name is their digest), so a
run with other options, or after an upgrade, measures afresh. Candidates that ended
``interrupted`` are not recorded: the next run measures them.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from request_dse.files import sha256_file
from request_dse.results import TrialResult
from request_dse.space import Candidate

#: The largest journal line read back (a line is a few kilobytes; a larger one is not ours).
MAX_LINE = 1 << 20


class BaselineJournal:
    """The finished candidates of one baseline command, keyed by candidate hash."""

    def __init__(self, work_dir: Path, identity: Sequence[str]) -> None:
        digest = hashlib.sha256("\n".join(identity).encode()).hexdigest()[:16]
        self.path = work_dir / f"measured-{digest}.jsonl"

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)

    def load(self, candidates: Sequence[Candidate]) -> dict[int, TrialResult]:
        """Earlier results of ``candidates`` by their index; entries whose files are gone are left out."""
        by_hash = {c.hash: (i, c) for i, c in enumerate(candidates)}
        found: dict[int, TrialResult] = {}
        try:
            handle = open(self.path, encoding="utf-8")
        except FileNotFoundError:
            return found
        with handle:
            for line in iter(lambda: handle.readline(MAX_LINE), ""):
                doc = _parse(line)
                if doc is None or doc["hash"] not in by_hash:
                    continue
                index, candidate = by_hash[doc["hash"]]
                result = _result(candidate, doc)
                if result is not None:
                    found[index] = result
        return found

    def record(self, number: int, result: TrialResult) -> None:
        """Append one finished candidate (not an interrupted one) and flush it to disk."""
        if result.status == "interrupted":
            return
        doc = {"number": number, "hash": result.candidate.hash, "status": result.status,
               "metrics": dict(result.metrics), "error": result.error, "info": dict(result.info),
               "artifact_dir": str(result.artifact_dir) if result.artifact_dir else None,
               "samples_path": str(result.samples_path) if result.samples_path else None,
               "samples_sha256": sha256_file(result.samples_path) if result.ok and result.samples_path else None}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(doc, sort_keys=True) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


def _parse(line: str) -> dict[str, Any] | None:
    """A journal line, or None for a torn or foreign one (the last line of a killed run may be cut)."""
    try:
        doc = json.loads(line)
    except ValueError:
        return None
    keys = {"hash": str, "status": str, "metrics": Mapping, "error": str, "info": Mapping}
    if not isinstance(doc, dict) or any(not isinstance(doc.get(k), t) for k, t in keys.items()):
        return None
    return doc


def _result(candidate: Candidate, doc: Mapping[str, Any]) -> TrialResult | None:
    artifact = Path(doc["artifact_dir"]) if isinstance(doc.get("artifact_dir"), str) else None
    samples = Path(doc["samples_path"]) if isinstance(doc.get("samples_path"), str) else None
    if doc["status"] == "ok" and not (artifact and artifact.is_dir() and samples and samples.is_file()
                                      and sha256_file(samples) == doc.get("samples_sha256")):
        return None  # its files were removed or measured again since: measure it again
    return TrialResult(candidate, doc["status"], dict(doc["metrics"]), doc["error"], artifact, samples,
                       info=dict(doc["info"]))
