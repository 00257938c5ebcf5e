"""Writes run payloads to an MLflow tracking store, idempotently.

Runs are found again by their tags (``request_dse.study_id`` + ``request_dse.role`` +
``request_dse.trial``), never remembered by id alone, so replaying a payload updates the run it
made before instead of making a second one. Params, tags and metrics go in ``log_batch`` calls;
metric points carry fixed timestamps and steps, so a replayed point is the same point.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import request_dse.tracking._projection as P
from request_dse.tracking._settings import TrackingTarget

#: MLflow's limits per log_batch call.
MAX_PARAMS, MAX_TAGS, MAX_METRICS = 100, 100, 1000

_ENV_DEFAULTS = {
    # Fail over to the outbox in seconds, not after MLflow's default of minutes of retries.
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
    "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
}


@dataclass
class RunState:
    """What the sink knows of one run (status and tags as last listed or written)."""

    run_id: str
    status: str
    tags: dict[str, str]
    artifact_uri: str = ""


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def is_connection_error(exc: BaseException) -> bool:
    """Whether ``exc`` says the server is away (rather than that a request was wrong)."""
    from mlflow.exceptions import MlflowException

    if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
        return True
    if isinstance(exc, MlflowException):
        text = str(exc)
        return any(s in text for s in ("Max retries exceeded", "Connection refused", "Failed to establish",
                                        "timed out", "Connection aborted", "RemoteDisconnected", "503", "502"))
    return type(exc).__module__.startswith(("requests", "urllib3", "sqlalchemy"))


class MlflowSink:
    """One study's runs in one MLflow experiment."""

    def __init__(self, target: TrackingTarget, study_id: str) -> None:
        for key, value in _ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        from mlflow import MlflowClient

        self.target = target
        self.study_id = study_id
        self.client = MlflowClient(tracking_uri=target.uri)
        self.experiment_id: str | None = None
        self.parent: RunState | None = None
        self.runs: dict[int, RunState] = {}  # by trial number

    # -- finding things -------------------------------------------------------------------------
    def connect(self) -> None:
        """Find (or create) the experiment, and list the study's runs."""
        client = self.client
        experiment = client.get_experiment_by_name(self.target.experiment)
        if experiment is None:
            location = None
            if self.target.artifact_root is not None:
                folder = self.target.artifact_root / _safe(self.target.experiment)
                folder.mkdir(parents=True, exist_ok=True)
                location = folder.as_uri()
            try:
                self.experiment_id = client.create_experiment(self.target.experiment, artifact_location=location)
            except Exception:  # another process created it first
                experiment = client.get_experiment_by_name(self.target.experiment)
                if experiment is None:
                    raise
                self.experiment_id = experiment.experiment_id
        else:
            self.experiment_id = experiment.experiment_id
        self.runs.clear()
        self.parent = None
        for run in self.study_runs():
            tags = run.data.tags
            if tags.get(P.ROLE) == "study":
                self.parent = self.parent or _state(run)
            elif tags.get(P.ROLE) == "trial" and tags.get(P.TRIAL, "").isdigit():
                self.runs.setdefault(int(tags[P.TRIAL]), _state(run))

    def study_runs(self) -> list[Any]:
        """Every run of this study (parent and children), oldest first."""
        out: list[Any] = []
        token = None
        while True:
            page = self.client.search_runs([self.experiment_id], f"tags.`{P.STUDY_ID}` = '{self.study_id}'",
                                           max_results=1000, order_by=["attributes.start_time ASC"],
                                           page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    # -- writing --------------------------------------------------------------------------------
    def apply(self, payload: Mapping[str, Any]) -> None:
        role = payload["role"]
        if role == "trial":
            self._trial(payload)
        elif role == "parent":
            self._parent(payload)
        elif role == "pareto":
            self._pareto(payload)

    def _log(self, run_id: str, params: Mapping[str, str] = {}, metrics: Mapping[str, float] = {},
             tags: Mapping[str, str] = {}, *, timestamp: int = 0, step: int = 0) -> None:
        from mlflow.entities import Metric, Param, RunTag

        p = [Param(k, v) for k, v in params.items()]
        t = [RunTag(k, v) for k, v in tags.items()]
        m = [Metric(k, float(v), timestamp, step) for k, v in metrics.items()]
        self._log_entities(run_id, p, m, t)

    def _log_entities(self, run_id: str, p: list[Any], m: list[Any], t: list[Any]) -> None:
        if len(p) <= MAX_PARAMS and len(t) <= MAX_TAGS and len(p) + len(t) + len(m) <= MAX_METRICS:
            if p or t or m:  # one request when everything fits in one batch
                self.client.log_batch(run_id, metrics=m, params=p, tags=t)
            return
        for chunk in _chunks(p, MAX_PARAMS):
            self.client.log_batch(run_id, params=chunk)
        if t or m:
            tag_chunks, metric_chunks = list(_chunks(t, MAX_TAGS)), list(_chunks(m, MAX_METRICS))
            for i in range(max(len(tag_chunks), len(metric_chunks))):
                self.client.log_batch(run_id, metrics=metric_chunks[i] if i < len(metric_chunks) else (),
                                      tags=tag_chunks[i] if i < len(tag_chunks) else ())

    def _artifacts(self, state: RunState, artifacts: Iterable[list[str]]) -> None:
        files = [(local, folder) for local, folder in artifacts if P.artifact_exists(local)]
        if not files:
            return
        if not state.artifact_uri:  # MlflowClient.log_artifact would look the run up for every file
            state.artifact_uri = self.client.get_run(state.run_id).info.artifact_uri
        from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

        repo = get_artifact_repository(state.artifact_uri, tracking_uri=self.target.uri)
        for local, folder in files:
            repo.log_artifact(local, folder or None)

    @property
    def parent_id(self) -> str | None:
        return None if self.parent is None else self.parent.run_id

    def _ensure_parent(self, payload: Mapping[str, Any] | None = None) -> RunState:
        if self.parent is None:
            if payload is None or payload.get("key") != "parent:start":
                raise KeyError("the study's parent run was never opened")
            run = self.client.create_run(self.experiment_id, start_time=payload["start_ms"], tags=dict(payload["tags"]),
                                         run_name=payload["name"])
            self.parent = _state(run)
        return self.parent

    def progress(self, payloads: Sequence[Mapping[str, Any]]) -> None:
        """Several stepped-metric points of the parent run (``parent_progress`` payloads) in one batch."""
        from mlflow.entities import Metric

        run_id = self._ensure_parent().run_id
        points = [Metric(k, float(v), p.get("timestamp") or 0, p.get("step", 0))
                  for p in payloads for k, v in p["metrics"].items()]
        self._log_entities(run_id, [], points, [])

    def _parent(self, payload: Mapping[str, Any]) -> None:
        parent = self._ensure_parent(payload)
        run_id = parent.run_id
        params = dict(payload.get("params", {}))
        if params and payload.get("params_once"):
            known = self.client.get_run(run_id).data.params
            params = {k: v for k, v in params.items() if k not in known}
        self._log(run_id, params, payload.get("metrics", {}), payload.get("tags", {}),
                  timestamp=payload.get("timestamp") or payload.get("end_ms") or payload.get("start_ms") or 0,
                  step=payload.get("step", 0))
        self._artifacts(parent, payload.get("artifacts", []))
        for name, text in payload.get("texts", {}).items():
            self.client.log_text(run_id, text, name)
        status = payload.get("status")
        if status == "RUNNING":
            self.client.update_run(run_id, status="RUNNING")
        elif status in P.FINAL:
            self.client.set_terminated(run_id, status, end_time=payload.get("end_ms"))
        parent.tags.update(payload.get("tags", {}))
        parent.status = status or parent.status

    def _trial(self, payload: Mapping[str, Any]) -> None:
        number = payload["number"]
        state = self.runs.get(number)
        tags = dict(payload["tags"])
        if state is None:
            tags[P.PARENT_RUN] = self._ensure_parent().run_id
            run = self.client.create_run(self.experiment_id, start_time=payload["start_ms"], tags=tags,
                                         run_name=payload["name"])
            state = _state(run)
        run_id = state.run_id
        changed = {k: v for k, v in tags.items() if state.tags.get(k) != v}  # a new run has its tags already
        self._log(run_id, payload["params"], payload["metrics"], changed, timestamp=payload.get("end_ms") or payload["start_ms"])
        self._artifacts(state, payload["artifacts"])
        if payload["status"] in P.FINAL:
            self.client.set_terminated(run_id, payload["status"], end_time=payload["end_ms"])
        elif state.status != payload["status"]:
            self.client.update_run(run_id, status=payload["status"])
        self.runs[number] = RunState(run_id, payload["status"], {**state.tags, **tags}, state.artifact_uri)

    def _pareto(self, payload: Mapping[str, Any]) -> None:
        for number, tags in payload["tags"].items():
            state = self.runs.get(int(number))
            if state is None:
                continue
            changed = {k: v for k, v in tags.items() if state.tags.get(k) != v}
            if changed:
                self._log(state.run_id, tags=changed)
                state.tags.update(changed)

    def status_of(self, number: int) -> str | None:
        state = self.runs.get(number)
        return None if state is None else state.status


def _state(run: Any) -> RunState:
    return RunState(run.info.run_id, run.info.status, dict(run.data.tags), run.info.artifact_uri or "")


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def find_parent(target: TrackingTarget, sid: str) -> tuple[str, str] | None:
    """``(experiment id, run id)`` of a study's parent run, or None (creates nothing)."""
    for key, value in _ENV_DEFAULTS.items():
        os.environ.setdefault(key, value)
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=target.uri)
    experiment = client.get_experiment_by_name(target.experiment)
    if experiment is None:
        return None
    runs = client.search_runs([experiment.experiment_id],
                              f"tags.`{P.STUDY_ID}` = '{sid}' and tags.`{P.ROLE}` = 'study'", max_results=1)
    return (experiment.experiment_id, runs[0].info.run_id) if runs else None


def compare_url(ui: str, runs: list[tuple[str, str]]) -> str:
    """The MLflow UI page that compares the given ``(experiment id, run id)`` runs."""
    import json
    from urllib.parse import quote

    experiments = sorted({e for e, _ in runs})
    return (f"{ui.rstrip('/')}/#/compare-runs?runs={quote(json.dumps([r for _, r in runs]))}"
            f"&experiments={quote(json.dumps(experiments))}")
