"""Writing submission bundles: one folder per entry, checked against the schema before it is kept.

An :class:`Entry` is everything a bundle states about one candidate (a study's Pareto point or a
baseline). :func:`write_bundle` copies its artifact, raw samples, accuracy log and scoring data,
writes ``submission.json`` (validated against the schema first), ``system.json``, a README and
``checksums.sha256``, then reads the result back through the verifying reader. It writes into a
temporary folder and renames it into place, so a bundle folder is complete or absent.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from request_dse import __version__, sysinfo
from request_dse.evaluate import Interval
from request_dse.files import sha256_file
from request_dse.metrics import METRICS
from request_dse.submission.bundle import SUBMISSION, SYSTEM, verify_folder
from request_dse.submission.checksums import CHECKSUMS, write_checksums
from request_dse.submission.loadgen_logs import copy_into_bundle
from request_dse.submission.schema import SCHEMA_VERSION, check_document, check_system
from request_dse.submission.system import LOCK_FILE
from request_dse.workloads import PreparedModel

FILES = {"artifact": "artifact", "samples": "measurements/samples.npz", "accuracy_log": "measurements/accuracy.json",
         "inputs": "data/inputs.npz", "reference": "data/reference.npy", "readme": "README.md",
         "system": SYSTEM, "checksums": CHECKSUMS}


@dataclass(frozen=True)
class Entry:
    """One candidate as a bundle states it."""

    id: str
    kind: str                                   # "study" | "baseline"
    label: str
    candidate: Mapping[str, Any]
    candidate_hash: str
    backend: str
    backend_version: str | None
    flags: Mapping[str, Any]
    build_info: Mapping[str, Any]
    target_name: str
    target_kind: str
    target_system: Mapping[str, Any]
    batch_size: int
    threads: int
    protocol: Mapping[str, Any]
    metrics: Mapping[str, float]
    intervals: Mapping[str, Interval]
    objectives: Sequence[tuple[str, str]]       # (metric, direction)
    artifact_dir: Path
    samples_path: Path
    prepared: PreparedModel
    workload: str
    predictions_path: Path | None = None
    constraints: Sequence[tuple[str, bool]] = ()
    pareto: Mapping[str, Any] | None = None
    study: Mapping[str, Any] | None = None
    study_file: Path | None = None
    confirm: Mapping[str, Any] | None = None
    rebuild: str = ""
    energy_source: str = ""
    sessions: int = 1
    location: str = ""                          # how the validate command names the bundle folder
    environment: Mapping[str, Any] = field(default_factory=dict)
    software: Mapping[str, Any] = field(default_factory=dict)  # the lock summary of its software environment
    environment_lock: Path | None = None        # that lock, with its hashes: the bundle's environment.lock
    loadgen_dir: Path | None = None             # the trial's LoadGen logs (measurements/loadgen/)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def metrics_doc(metrics: Mapping[str, float], intervals: Mapping[str, Interval]) -> dict[str, Any]:
    out = {}
    for name, value in sorted(metrics.items()):
        if value is None or not np.isfinite(value):
            continue
        entry: dict[str, Any] = {"value": float(value)}
        if name in METRICS:
            entry["unit"] = METRICS[name].unit
            entry["better"] = METRICS[name].better
        if name in intervals:
            low, high, how = intervals[name]
            entry.update(low=float(low), high=float(high), interval=how)
        out[name] = entry
    return out


def accuracy_log(entry: Entry) -> dict[str, Any] | None:
    """Per-sample top-k predictions on the bundled inputs, with the labels' digest and the scores."""
    if entry.predictions_path is None or not entry.predictions_path.is_file():
        return None
    top = np.load(entry.predictions_path)
    with np.load(entry.prepared.data_path) as data:
        labels = data["y_eval"] if "y_eval" in data.files else None
    doc: dict[str, Any] = {"samples": int(len(top)), "k": int(top.shape[1]) if top.ndim == 2 else 1,
                           "predictions": top.astype(int).tolist()}
    if labels is not None:
        doc["labels_sha256"] = __import__("hashlib").sha256(np.ascontiguousarray(labels).tobytes()).hexdigest()
        doc["correct_top1"] = int(np.sum(top[:, 0] == labels))
    for name in ("accuracy_top1", "accuracy_top5"):
        if name in entry.metrics:
            doc[name] = float(entry.metrics[name])
    return doc


def submission_doc(entry: Entry, files: Mapping[str, str], data_sha256: str, eval_samples: int) -> dict[str, Any]:
    prepared = entry.prepared
    env = dict(entry.environment or sysinfo.environment())
    study = dict(entry.study) if entry.study else None
    doc: dict[str, Any] = {
        "schema": "request-dse/submission",
        "schema_version": SCHEMA_VERSION,
        "id": entry.id,
        "kind": entry.kind,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "label": entry.label,
        "study": study,
        "workload": {"name": entry.workload, "model_id": prepared.model_id, "model_sha256": prepared.sha256,
                     "precision": prepared.precision, "data_sha256": data_sha256, "eval_samples": eval_samples,
                     "tolerance": [float(t) for t in prepared.tolerance], "input_name": prepared.input_name,
                     "sample_shape": [int(s) for s in prepared.sample_shape]},
        "candidate": _jsonable(dict(entry.candidate)),
        "framework": {"name": entry.backend, "version": entry.backend_version, "flags": _jsonable(dict(entry.flags)),
                      "build": _jsonable(dict(entry.build_info))},
        "target": {"name": entry.target_name, "kind": entry.target_kind, "batch_size": entry.batch_size,
                   "threads": entry.threads, "system": SYSTEM},
        "metrics": metrics_doc(entry.metrics, entry.intervals),
        "objectives": [{"metric": m, "direction": d} for m, d in entry.objectives],
        "constraints": [{"expression": c, "satisfied": bool(ok)} for c, ok in entry.constraints],
        "pareto": _jsonable(dict(entry.pareto)) if entry.pareto is not None else None,
        "measurement": {"protocol": _jsonable(dict(entry.protocol)),
                        "sessions": max(1, int(entry.sessions)),
                        "samples": int(entry.metrics.get("samples", 1)),
                        "energy_source": entry.energy_source or "none",
                        "confirm": _jsonable(dict(entry.confirm)) if entry.confirm is not None else None},
        "environment": _jsonable(env),
        "reproduce": {"validate": f"request-dse validate {entry.location or entry.id}",
                      "rebuild": entry.rebuild, "git_revision": env.get("git_revision"),
                      "request_dse_version": __version__},
        "files": dict(files),
    }
    if not entry.rebuild:
        doc["reproduce"].pop("rebuild")
    return doc


def readme(doc: Mapping[str, Any]) -> str:
    m = doc["metrics"]

    def show(name: str) -> str:
        e = m[name]
        spread = "exact" if e.get("low") == e.get("high") == e["value"] else \
            f"{e['low']:.4g} .. {e['high']:.4g}" if "low" in e else "-"
        return f"| {name} | {e['value']:.6g} {e.get('unit', '')} | {spread} |"

    objectives = [o["metric"] for o in doc["objectives"]]
    shown = objectives + [n for n in ("latency_p50_ms", "latency_p90_ms", "throughput_ips", "accuracy_top1",
                                      "energy_mj_per_inference") if n not in objectives]
    pareto = doc.get("pareto")
    lines = [f"# {doc['id']}", "",
             f"{'Baseline' if doc['kind'] == 'baseline' else 'Pareto point'}: {doc['label']}", "",
             f"- workload: {doc['workload']['name']} / {doc['workload']['model_id']}",
             f"- framework: {doc['framework']['name']} {doc['framework'].get('version') or ''}",
             f"- target: {doc['target']['name']} (batch {doc['target']['batch_size']}, "
             f"{doc['target']['threads']} thread(s)); system in system.json",
             f"- measured: {doc['measurement']['samples']} timed runs in {doc['measurement']['sessions']} session(s)"
             + (", confirmed in fresh sessions" if pareto and pareto.get("confirmed") else ""), ""]
    if pareto and (pareto.get("ties") or pareto.get("dominated_within_noise_by")):
        lines += [f"- tied with (intervals overlap): {', '.join(pareto.get('ties', [])) or 'none'}",
                  f"- dominated within noise by: {', '.join(pareto.get('dominated_within_noise_by', [])) or 'none'}", ""]
    lines += ["| metric | value | 95% interval |", "|---|---|---|"]
    lines += [show(n) for n in shown if n in m]
    lines += ["", "## Reproduce", "", "Check and re-run this bundle on a target (writes validation.json):", "",
              "    " + doc["reproduce"]["validate"], ""]
    if doc["reproduce"].get("rebuild"):
        lines += ["Re-run what produced it (git revision "
                  f"{doc['reproduce'].get('git_revision') or 'unknown'}):", "", "    " + doc["reproduce"]["rebuild"], ""]
    lines += ["Every file is listed in checksums.sha256 (`sha256sum -c checksums.sha256`).", ""]
    return "\n".join(lines)


def write_bundle(entry: Entry, out_dir: Path, system_doc: Mapping[str, Any]) -> Path:
    """Write ``entry`` as the bundle folder ``out_dir`` (replaced if present); returns it."""
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    try:
        files = dict(FILES)
        shutil.copytree(entry.artifact_dir, tmp / files["artifact"], symlinks=False)
        (tmp / "measurements").mkdir()
        shutil.copyfile(entry.samples_path, tmp / files["samples"])
        if entry.loadgen_dir is not None:
            copy_into_bundle(entry.loadgen_dir, tmp)
        log = accuracy_log(entry)
        if log is None:
            files.pop("accuracy_log")
        else:
            (tmp / files["accuracy_log"]).write_text(json.dumps(log) + "\n")
        (tmp / "data").mkdir()
        shutil.copyfile(entry.prepared.data_path, tmp / files["inputs"])
        shutil.copyfile(entry.prepared.reference_path, tmp / files["reference"])
        if entry.study_file is not None and entry.study_file.is_file():
            shutil.copyfile(entry.study_file, tmp / "study.yaml")
            files["study"] = "study.yaml"
        if entry.environment_lock is not None and entry.environment_lock.is_file():
            shutil.copyfile(entry.environment_lock, tmp / LOCK_FILE)
            files["environment_lock"] = LOCK_FILE
        with np.load(tmp / files["inputs"]) as data:
            eval_samples = int(len(data["x_eval"])) if "x_eval" in data.files else 0
        doc = submission_doc(entry, files, sha256_file(tmp / files["inputs"]), eval_samples)
        check_document(doc, out_dir)
        system = dict(system_doc)
        check_system(system, out_dir)
        (tmp / SUBMISSION).write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
        (tmp / SYSTEM).write_text(json.dumps(system, indent=1) + "\n")
        (tmp / files["readme"]).write_text(readme(doc))
        write_checksums(tmp)
        verify_folder(tmp, out_dir)  # read back through the verifying reader
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return out_dir
