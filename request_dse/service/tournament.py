"""The tournament file: its tracks, where its database and bundle store live, its limits.

::

    name: example
    database: .request-dse/example/tournament.db    # a file (SQLite) or a SQLAlchemy URL
    store: .request-dse/example/bundles
    opens: 2026-01-01T00:00:00Z                     # optional; closes: likewise
    limits: {upload_mb: 64, expanded_mb: 256, members: 2000, requests_per_minute: 120}
    validation: {executor: local, tolerance: 0.25, span_s: 4, timeout_s: 900, sandbox: auto}
    tracks:
      - name: digits-cpu
        workload: digits
        target: local-cpu
        metrics: [{maximize: accuracy_top1}, {minimize: latency_p90_ms}]
        rules: ["accuracy_top1 >= 0.5"]
        reference: {accuracy_top1: 0.0, latency_p90_ms: 1.0}

Relative paths are relative to the file. Every value is checked when the file is read; a bad
one is a :class:`~request_dse.errors.ConfigError` naming the file, the field and the rule.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.errors import ConfigError
from request_dse.expr import ExpressionError, MetricConstraint
from request_dse.fields import Choice, Ctx, Custom, Field, Float, Int, ListOf, MapOf, Record, Str, describe, validate
from request_dse.metrics import METRICS, Objective
from request_dse.protocol import SPAN_S
from request_dse.study import available_names, find_data_file
from request_dse.yamlfile import load_yaml

NAME = r"[a-z0-9][a-z0-9_.-]*"
EXECUTORS = ("local", "ray")
SANDBOXES = ("auto", "bubblewrap", "process")


@dataclass(frozen=True)
class Track:
    name: str
    workload: str
    target: str
    target_file: Path
    metrics: tuple[Objective, ...]
    rules: tuple[MetricConstraint, ...] = ()
    reference: Mapping[str, float] = field(default_factory=dict)
    description: str = ""
    opens: dt.datetime | None = None
    closes: dt.datetime | None = None

    def closed_reason(self, now: dt.datetime) -> str | None:
        """Why a submission to this track is refused at ``now`` (None: it is open)."""
        if self.opens is not None and now < self.opens:
            return f"track {self.name!r} opens at {iso(self.opens)}"
        if self.closes is not None and now >= self.closes:
            return f"track {self.name!r} closed at {iso(self.closes)}"
        return None


@dataclass(frozen=True)
class Limits:
    upload_mb: float = 64.0             # one upload, as sent
    expanded_mb: float = 256.0          # an archive's content, unpacked
    members: int = 2000                 # files and folders in one archive
    requests_per_minute: int = 120      # per token, every authenticated request
    submissions_per_hour: int = 60      # per token, uploads

    @property
    def upload_bytes(self) -> int:
        return int(self.upload_mb * 2**20)

    @property
    def expanded_bytes(self) -> int:
        return int(self.expanded_mb * 2**20)


@dataclass(frozen=True)
class Validation:
    executor: str = "local"             # local: a sandboxed child here; ray: a task on the target's node
    ray_address: str | None = None      # ray: the cluster (default $RAY_ADDRESS, else a local instance)
    workers: int = 1                    # 0: this server only takes submissions (another one validates)
    tolerance: float = 0.25
    span_s: float = SPAN_S              # wall time a bundle's sessions spread over, at least
    timeout_s: float = 900.0            # wall clock of one validation job
    memory_mb: int = 8192               # address-space limit of the job's processes
    attempts: int = 3                   # a job whose runner is lost this many times fails
    sandbox: str = "auto"               # auto: bubblewrap where installed; bubblewrap: required; process


@dataclass(frozen=True)
class Tournament:
    source: Path
    name: str
    title: str
    database: str                       # a SQLAlchemy URL
    store: Path
    tracks: tuple[Track, ...]
    limits: Limits = Limits()
    validation: Validation = Validation()
    description: str = ""
    opens: dt.datetime | None = None
    closes: dt.datetime | None = None

    def track(self, name: str) -> Track | None:
        return next((t for t in self.tracks if t.name == name), None)

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(t.target for t in self.tracks))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _moment(value: Any, ctx: Ctx) -> dt.datetime:
    if isinstance(value, dt.datetime):
        moment = value
    elif isinstance(value, dt.date):
        moment = dt.datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ctx.error(f"must be a date and time such as 2026-06-01T00:00:00Z; got {describe(value)}") from None
    else:
        raise ctx.error(f"must be a date and time such as 2026-06-01T00:00:00Z; got {describe(value)}")
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def _metric(value: Any, ctx: Ctx) -> str:
    if not isinstance(value, str) or value not in METRICS:
        raise ctx.error(f"must be a known metric ({', '.join(sorted(METRICS))}); got {describe(value)}")
    return value


def _objective(value: Any, ctx: Ctx) -> Objective:
    if isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in ("minimize", "maximize"):
        direction, metric = next(iter(value.items()))
        return Objective(_metric(metric, ctx.at(direction)), direction)
    raise ctx.error(f"must be {{maximize: <metric>}} or {{minimize: <metric>}}; got {describe(value)}")


def _rule(value: Any, ctx: Ctx) -> MetricConstraint:
    if not isinstance(value, str):
        raise ctx.error(f"must be a rule such as 'accuracy_top1 >= 0.9'; got {describe(value)}")
    try:
        parsed = MetricConstraint.parse(value)
    except ExpressionError as exc:
        raise ctx.error(f"invalid rule {value!r}: {exc}") from None
    _metric(parsed.metric, ctx)
    return parsed


_WINDOW = {"opens": Field(Custom(_moment, "a date and time"), None),
           "closes": Field(Custom(_moment, "a date and time"), None)}

_TRACK = Record({
    "name": Field(Str(pattern=NAME, hint="a name of lower-case letters, digits, . _ -")),
    "description": Field(Str(), ""),
    "workload": Field(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*", hint="a workload name")),
    "target": Field(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_.-]*", hint="a target name (targets/<name>.yaml)")),
    "metrics": Field(ListOf(Custom(_objective, "a metric and its direction"), min_len=1)),
    "rules": Field(ListOf(Custom(_rule, "an accuracy rule")), []),
    "reference": Field(MapOf(Float(), key=Custom(_metric, "a metric name")), {}),
    **_WINDOW,
})

_FILE = Record({
    "name": Field(Str(pattern=NAME, hint="a name of lower-case letters, digits, . _ -")),
    "title": Field(Str(), None),
    "description": Field(Str(), ""),
    "database": Field(Str(), None),
    "store": Field(Str(), None),
    **_WINDOW,
    "limits": Field(Record({
        "upload_mb": Field(Float(low=0, low_exclusive=True, high=4096), Limits.upload_mb),
        "expanded_mb": Field(Float(low=0, low_exclusive=True, high=16384), Limits.expanded_mb),
        "members": Field(Int(low=1, high=100_000), Limits.members),
        "requests_per_minute": Field(Int(low=1), Limits.requests_per_minute),
        "submissions_per_hour": Field(Int(low=1), Limits.submissions_per_hour),
    }), dict),
    "validation": Field(Record({
        "executor": Field(Choice(EXECUTORS), Validation.executor),
        "ray_address": Field(Str(), None),
        "workers": Field(Int(low=0, high=64), Validation.workers),
        "tolerance": Field(Float(low=0), Validation.tolerance),
        "span_s": Field(Float(low=0, high=60), Validation.span_s),
        "timeout_s": Field(Float(low=0, low_exclusive=True), Validation.timeout_s),
        "memory_mb": Field(Int(low=256), Validation.memory_mb),
        "attempts": Field(Int(low=1, high=100), Validation.attempts),
        "sandbox": Field(Choice(SANDBOXES), Validation.sandbox),
    }), dict),
    "tracks": Field(ListOf(Custom(lambda v, c: _TRACK.check(v, c), "a track"), min_len=1)),
})


def _database(value: str | None, base: Path, name: str) -> str:
    if value is None:
        return f"sqlite:///{(base / '.request-dse' / name / 'tournament.db').resolve()}"
    if "://" in value:
        return value
    return f"sqlite:///{(base / value).resolve()}"


def _track(doc: Mapping[str, Any], ctx: Ctx, base: Path, window: Mapping[str, Any]) -> Track:
    target_file = find_data_file("targets", doc["target"], base)
    if target_file is None:
        known = available_names("targets", base)
        raise ctx.at("target").error(f"no target named {doc['target']!r} (looked in targets/ next to the tournament "
                                     f"file, on REQUEST_DSE_PATH and in the repository; available: "
                                     f"{', '.join(known) or 'none'})")
    names = [o.metric for o in doc["metrics"]]
    if len(set(names)) != len(names):
        raise ctx.at("metrics").error(f"names a metric twice: {', '.join(names)}")
    stray = sorted(set(doc["reference"]) - set(names))
    if stray:
        raise ctx.at("reference").at(stray[0]).error(f"is not one of the track's metrics ({', '.join(names)})")
    opens, closes = doc["opens"] or window["opens"], doc["closes"] or window["closes"]
    if opens is not None and closes is not None and closes <= opens:
        raise ctx.at("closes").error(f"must be after opens ({iso(opens)}); got {iso(closes)}")
    return Track(doc["name"], doc["workload"], doc["target"], target_file.resolve(), tuple(doc["metrics"]),
                 tuple(doc["rules"]), dict(doc["reference"]), doc["description"], opens, closes)


def load_tournament(path: str | Path) -> Tournament:
    """Read and check a tournament file."""
    source = Path(path)
    if not source.is_file():
        raise ConfigError(source, "", "no such tournament file" if not source.exists() else "is not a regular file")
    doc = validate(load_yaml(source), _FILE, str(source))
    base = source.resolve().parent
    ctx = Ctx(str(source))
    if doc["opens"] and doc["closes"] and doc["closes"] <= doc["opens"]:
        raise ctx.at("closes").error(f"must be after opens ({iso(doc['opens'])}); got {iso(doc['closes'])}")
    tracks = []
    for i, raw in enumerate(doc["tracks"]):
        tracks.append(_track(raw, ctx.at("tracks").at(i), base, doc))
    names = [t.name for t in tracks]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ctx.at("tracks").at(i).at("name").error(f"duplicates an earlier track: {name!r}")
    validation = Validation(**doc["validation"])
    if validation.ray_address is not None and validation.executor != "ray":
        raise ctx.at("validation").at("ray_address").error("is used only with executor: ray")
    store = Path(doc["store"]) if doc["store"] else Path(".request-dse") / doc["name"] / "bundles"
    return Tournament(source=source.resolve(), name=doc["name"], title=doc["title"] or f"{doc['name']} tournament",
                      database=_database(doc["database"], base, doc["name"]),
                      store=(base / store).resolve(), tracks=tuple(tracks), limits=Limits(**doc["limits"]),
                      validation=validation, description=doc["description"], opens=doc["opens"],
                      closes=doc["closes"])
