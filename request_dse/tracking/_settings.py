"""Where a study's runs go: tracking URI, experiment, artifact folder, UI address.

Resolution, first match wins:

1. ``tracking.uri`` in study.yaml;
2. the ``MLFLOW_TRACKING_URI`` environment variable;
3. the embedded default: a SQLite store ``mlflow/mlflow.db`` and artifacts under
   ``mlflow/artifacts/`` in the project folder (:func:`project_root`).

The experiment is ``tracking.experiment`` or ``request-dse/<workload>``: one experiment per
workload, so studies of one workload sit side by side in the MLflow UI.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from request_dse.errors import UserError

#: Where `request-dse ui` serves the embedded store unless told otherwise.
DEFAULT_UI_PORT = 5000
EXPERIMENT_PREFIX = "request-dse/"


def project_root(start: Path | None = None) -> Path:
    """The folder holding the embedded ``mlflow/`` store.

    The nearest folder, from ``start`` (the study's folder) upwards, that already has an
    ``mlflow/`` folder or is a git checkout (has ``.git``); otherwise the current directory.
    """
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "mlflow").is_dir() or (folder / ".git").exists():
            return folder
    return Path.cwd().resolve()


@dataclass(frozen=True)
class TrackingTarget:
    """A resolved tracking destination."""
    uri: str
    experiment: str
    artifact_root: Path | None = None  # where a local database keeps its artifacts
    embedded: bool = False  # the default store under the project's mlflow/ folder

    @property
    def remote(self) -> bool:
        return self.uri.startswith(("http://", "https://"))

    def ui_url(self, port: int = DEFAULT_UI_PORT) -> str:
        """The address of the MLflow UI that shows this store."""
        if self.remote:
            return self.uri.rstrip("/")
        return f"http://127.0.0.1:{port}"


def embedded_target(root: Path, experiment: str) -> TrackingTarget:
    folder = root / "mlflow"
    return TrackingTarget(f"sqlite:///{folder / 'mlflow.db'}", experiment, folder / "artifacts", embedded=True)


def resolve(uri: str | None, experiment: str | None, workload: str, near: Path | None = None) -> TrackingTarget:
    """The tracking target of a study (see the module docstring for the order)."""
    name = experiment or f"{EXPERIMENT_PREFIX}{workload}"
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    if uri is None:
        return embedded_target(project_root(near), name)
    if uri.startswith("file:") or "://" not in uri:
        raise UserError(f"tracking URI {uri!r}: use an http(s):// server or a database URI such as "
                        "sqlite:///path/mlflow.db (MLflow's file store is not supported)")
    if uri.startswith("sqlite:///"):  # artifacts beside the database, as for the embedded store
        return TrackingTarget(uri, name, Path(uri[len("sqlite:///"):]).parent / "artifacts")
    return TrackingTarget(uri, name)


def check_writable(target: TrackingTarget) -> None:
    """A local SQLite store (the embedded one included) must take writes before a study starts:
    one line and exit code 2 now, rather than a stalled study and a screen of warnings later."""
    if not target.uri.startswith("sqlite:///"):
        return
    db = Path(target.uri[len("sqlite:///"):])
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=db.parent, prefix=".write-test-"):  # SQLite writes its journal beside it
            pass
        if db.exists():
            os.close(os.open(db, os.O_WRONLY | os.O_APPEND))
    except OSError as exc:
        raise UserError(f"{db}: the MLflow store is not writable ({exc.strerror or exc}); make it writable, set "
                        "tracking.uri to another store, or turn tracking off (tracking: {enabled: false})") from None


def for_plan(plan: object) -> TrackingTarget:
    """The tracking target of a loaded plan."""
    study = plan.study  # type: ignore[attr-defined]
    return resolve(study.tracking.uri, study.tracking.experiment, plan.workload.name,  # type: ignore[attr-defined]
                   study.source.resolve().parent)
