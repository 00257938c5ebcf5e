"""Recorded tables: a study's measured candidates as JSON Lines, and reading them back.

One line per distinct candidate measured::

    {"knobs": {...}, "hash": "3f2a...", "status": "ok", "error": "",
     "metrics": {"accuracy_top1": 0.97, "latency_p90_ms": 0.21, ...},
     "samples": {"n": 64, "sessions": 1, "min_ms": ..., "median_ms": ..., "max_ms": ...},
     "source": {"study": "...", "trial": 12, "target": "local-cpu", "model_id": "..."}}

``knobs`` are the candidate's active dimensions (canonical: what :class:`~request_dse.space.Candidate`
hashes), ``metrics`` everything the trial reported, ``samples`` the statistics of the raw latency
samples (milliseconds per batch). Failed candidates keep their status and error, so a replay
fails them the same way. ``request-dse export-table`` writes a table from any study; the
``replay`` target answers a study's candidates from one (see ``targets/replay.yaml``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from request_dse.errors import UserError
from request_dse.results.samples import load_samples
from request_dse.space import Candidate

#: Version of the line format, written into every line as ``format``.
FORMAT = 1


@dataclass(frozen=True)
class Row:
    """One recorded candidate."""

    knobs: Mapping[str, Any]
    status: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    error: str = ""
    samples: Mapping[str, float] = field(default_factory=dict)
    source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return Candidate.of(self.knobs).hash

    def to_json(self) -> str:
        doc = {"format": FORMAT, "knobs": dict(sorted(self.knobs.items())), "hash": self.hash, "status": self.status,
               "error": self.error, "metrics": dict(sorted(self.metrics.items())), "samples": dict(self.samples),
               "source": dict(self.source)}
        return json.dumps(doc, sort_keys=False, separators=(",", ":"), default=str)


@dataclass(frozen=True)
class Table:
    """Rows by candidate hash (the first row of a hash wins)."""

    path: Path
    rows: Mapping[str, Row]

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, candidate: Candidate) -> Row | None:
        return self.rows.get(candidate.hash)

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows.values())


def sample_stats(sessions: Sequence[Any]) -> dict[str, float]:
    """Statistics of raw latency samples (arrays of nanoseconds, one per session), in ms."""
    import numpy as np

    if not sessions:
        return {}
    ms = np.sort(np.concatenate([np.asarray(s, dtype=np.float64) for s in sessions]) / 1e6)
    if len(ms) == 0:
        return {}
    return {"n": int(len(ms)), "sessions": len(sessions), "min_ms": float(ms[0]),
            "p10_ms": float(np.percentile(ms, 10)), "median_ms": float(np.median(ms)),
            "mean_ms": float(ms.mean()), "p90_ms": float(np.percentile(ms, 90)),
            "p99_ms": float(np.percentile(ms, 99)), "max_ms": float(ms[-1]),
            "std_ms": float(ms.std(ddof=1)) if len(ms) > 1 else 0.0,
            "session_medians_ms": [float(np.median(np.asarray(s) / 1e6)) for s in sessions]}  # type: ignore[dict-item]


def write_table(rows: Iterable[Row], path: Path) -> int:
    """Write rows (one per line); returns how many. ``-`` writes to standard output."""
    lines = [row.to_json() for row in rows]
    text = "\n".join(lines) + ("\n" if lines else "")
    if str(path) == "-":
        import sys

        sys.stdout.write(text)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(path)
    return len(lines)


def _row(doc: Any, where: str) -> Row:
    if not isinstance(doc, dict):
        raise UserError(f"{where}: must be a JSON object; got {type(doc).__name__}")
    for key, kind in (("knobs", dict), ("status", str)):
        if not isinstance(doc.get(key), kind):
            raise UserError(f"{where}: field {key!r} must be a{'n object' if kind is dict else ' string'}")
    metrics = doc.get("metrics") or {}
    if not isinstance(metrics, dict):
        raise UserError(f"{where}: field 'metrics' must be an object")
    return Row(doc["knobs"], doc["status"], {k: float(v) for k, v in metrics.items() if v is not None},
               str(doc.get("error") or ""), doc.get("samples") or {}, doc.get("source") or {})


def read_table(path: str | Path) -> Table:
    """Read a table; a malformed line is a UserError naming the file and line."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise UserError(f"{path}: cannot read the replay table ({exc.strerror or exc})") from None
    return _read(path.resolve(), mtime)


@lru_cache(maxsize=8)
def _read(path: Path, mtime: int) -> Table:
    rows: dict[str, Row] = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                doc = json.loads(line)
            except ValueError as exc:
                raise UserError(f"{path}:{i}: not valid JSON ({exc})") from None
            row = _row(doc, f"{path}:{i}")
            rows.setdefault(row.hash, row)
    return Table(path, rows)


def rows_from_records(records: Sequence[Any], *, study: str, target: str, workload: str,
                      metric_constraint_status: bool = False) -> list[Row]:
    """Table rows from a study's trial records: one per distinct candidate it measured.

    A trial that only broke the study's own metric constraints was measured fine; it is
    written as ``ok`` (the constraint belongs to the study, not to the candidate) unless
    ``metric_constraint_status`` keeps ``infeasible``. Skipped proposals and interrupted
    trials are left out."""
    out: dict[str, Row] = {}
    for rec in records:
        if not rec.measured or rec.state == "RUNNING" or not rec.params:
            continue
        knobs = dict(rec.params)
        key = Candidate.of(knobs).hash
        if key in out:
            continue
        status, error = rec.status, rec.error
        if status == "infeasible" and error.startswith("violates ") and not metric_constraint_status:
            status, error = "ok", ""
        samples: dict[str, Any] = {}
        path = rec.paths.get("samples")
        if path and Path(path).exists():
            try:
                samples = sample_stats(load_samples(Path(path)))
            except (OSError, ValueError, KeyError):
                samples = {}
        source = {"study": study, "trial": rec.number, "target": target, "workload": workload}
        for key_name in ("model_id", "model_sha256"):
            if key_name in rec.info:
                source[key_name] = rec.info[key_name]
        if rec.finished is not None:
            source["finished"] = str(rec.finished)
        out[key] = Row(knobs, status, dict(rec.metrics), error, samples, source)
    return list(out.values())
