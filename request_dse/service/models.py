"""The JSON API's documents (pydantic): what ``/api/v1/`` returns, as its OpenAPI description says."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

Badge = Literal["pending", "available", "functional", "reproduced", "failed"]


class Problem(BaseModel):
    detail: str = Field(description="one line saying what was refused and why")


class EntryOut(BaseModel):
    id: str = Field(description="the entry's id: from its track and the sha256 of its content")
    participant: str = Field(description="the token name that submitted it")
    track: str
    badge: Badge = Field(description="the outcome of this service's last validation of it")
    reason: str = Field("", description="why the badge is not reproduced, when it is not")
    bundle_id: str
    label: str
    workload: str
    model: str
    framework: str
    target: str
    precision: str
    baseline: bool
    submitted: dt.datetime
    validated: dt.datetime | None
    metrics: dict[str, float | None] = Field(description="the figures the bundle claims")
    url: str = Field(description="the entry's page")


class ValidationOut(BaseModel):
    job: int
    status: str
    reason: str
    finished: dt.datetime
    node: str
    isolation: str = Field(description="how the job's processes were isolated")
    checks: list[dict[str, Any]] = Field(description="each compared metric: recorded, measured, allowed band, ok")
    not_compared: dict[str, Any] = Field(default_factory=dict, description="measured, reported, not compared")


class JobOut(BaseModel):
    id: int
    entry: str
    target: str
    state: Literal["queued", "running", "done"]
    attempts: int
    created: dt.datetime
    started: dt.datetime | None
    finished: dt.datetime | None
    note: str
    requested_by: str


class EntryDetail(EntryOut):
    system: dict[str, Any]
    reproduce: dict[str, Any]
    validations: list[ValidationOut]
    jobs: list[JobOut]


class SubmissionOut(BaseModel):
    id: int
    entry: str
    participant: str
    received: dt.datetime
    size: int
    outcome: Literal["accepted", "duplicate"]


class AcceptedOut(BaseModel):
    entry: str
    track: str
    bundle_id: str
    duplicate: bool = Field(description="true when this content was already an entry: nothing new was queued")
    job: int | None = Field(description="the validation job queued for it")
    url: str


class TrackOut(BaseModel):
    name: str
    description: str
    workload: str
    target: str
    metrics: list[dict[str, str]]
    rules: list[str]
    reference: dict[str, float]
    reference_given: bool
    opens: str | None
    closes: str | None
    counts: dict[str, int] = Field(description="entries per badge")
    ranked: list[str] = Field(description="ids of the reproduced entries within the rules")
    front: list[str] = Field(description="ids of the ranked entries on the Pareto frontier")
    hypervolume: dict[str, float] = Field(description="each participant's hypervolume against the reference point")
    total_hypervolume: float


class TournamentOut(BaseModel):
    name: str
    title: str
    description: str
    opens: str | None
    closes: str | None
    tracks: list[str]
    limits: dict[str, float] = Field(description="upload_mb, expanded_mb, members, requests_per_minute, "
                                                 "submissions_per_hour")


class WhoAmI(BaseModel):
    name: str
    role: Literal["participant", "organizer"]


class Revision(BaseModel):
    revision: int = Field(description="moves whenever the scoreboard changes")
