"""What LoadGen sessions add to a trial: the loadgen metrics, the accuracy-log check, the compliance
outcome, and ``loadgen/trial.json`` (which session's logs are the trial's result).

The reported session is the median one by ``loadgen_score`` (its logs stay consistent with every
figure reported); each loadgen metric's 95% interval spans the sessions' values (widened, for the
p90 / p99, to the early-stopping estimates, LoadGen's own upper bounds).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from request_dse.metrics import LOADGEN_METRICS
from request_dse.targets import SessionResult

TRIAL_FILE = "trial.json"
#: A percentile's interval reaches up to LoadGen's early-stopping estimate of it.
_UPPER = {"loadgen_p90_ms": "loadgen_p90_estimate_ms", "loadgen_p99_ms": "loadgen_p99_estimate_ms"}


def _reported(docs: Sequence[Mapping[str, Any]]) -> int:
    scores = [float(d.get("figures", {}).get("loadgen_score", 0.0)) for d in docs]
    order = sorted(range(len(docs)), key=lambda i: scores[i])
    return order[(len(order) - 1) // 2]


def intervals(docs: Sequence[Mapping[str, Any]]) -> dict[str, tuple[float, float, str]]:
    out = {}
    for name in LOADGEN_METRICS:
        values = [float(d["figures"][name]) for d in docs if name in d.get("figures", {})]
        if not values or name == "loadgen_valid":
            continue
        uppers = [float(d["figures"][_UPPER[name]]) for d in docs if _UPPER.get(name) in d.get("figures", {})]
        out[name] = (min(values), max(values + uppers),
                     f"LoadGen's figures of {len(values)} session(s)" + (", up to its early-stopping estimate"
                                                                         if uppers else ""))
    return out


#: What a SingleStream session says of LoadGen's response path (see targets/loadgen/session.py).
_RESPONSE_PATH = ("sut_run_p90_ms", "response_path_p90_ms")


def loadgen_result(sessions: Sequence[SessionResult],
                   trial_dir: Path) -> tuple[dict[str, float], dict[str, Any], str | None]:
    """(metrics, info, why the answers are wrong or None) of LoadGen sessions; writes ``loadgen/trial.json``."""
    docs = [s.loadgen for s in sessions if s.loadgen]
    if not docs:
        return {}, {}, None
    first = sessions[0].loadgen or {}
    info: dict[str, Any] = {"protocol": first.get("protocol")}
    metrics: dict[str, float] = {}
    if first.get("protocol") == "loadgen":
        chosen = _reported(docs)
        metrics = {k: float(v) for k, v in docs[chosen].get("figures", {}).items()}
        info.update(scenario=first.get("scenario"), valid=bool(metrics.get("loadgen_valid")))
        if docs[chosen].get("error"):
            info["error"] = docs[chosen]["error"]
        scored = first.get("scored_dir")
        record = {"reported": Path(docs[chosen]["dir"]).name, "scenario": first.get("scenario"),
                  "scored": Path(scored).name if scored else None,
                  "sessions": [{"dir": Path(d["dir"]).name, "figures": d.get("figures", {}),
                                **{k: d[k] for k in _RESPONSE_PATH if k in d}} for d in docs],
                  "intervals": {k: list(v) for k, v in intervals(docs).items()}}
        for key in ("accuracy", "compliance"):
            if first.get(key) is not None:
                record[key] = first[key]
        folder = Path(docs[chosen]["dir"]).parent
        if folder.is_dir() and folder.parent == trial_dir:
            (folder / TRIAL_FILE).write_text(json.dumps(record, indent=1, default=str) + "\n")
    wrong = None
    accuracy = first.get("accuracy")
    if accuracy is not None:
        info["accuracy_log"] = {k: accuracy[k] for k in ("samples", "disagree", "accuracy_top1") if k in accuracy}
        if accuracy.get("disagree"):
            wrong = (f"LoadGen's accuracy log disagrees with the scored answers on {accuracy['disagree']} of "
                     f"{accuracy['samples']} samples (first: {accuracy.get('first_disagreeing')})")
    if first.get("compliance") is not None:
        info["compliance"] = {test: {"passed": bool(v.get("passed")), "detail": v.get("detail", "")}
                              for test, v in first["compliance"].items()}
    return metrics, info, wrong


def read_intervals(trial_dir: Path) -> dict[str, tuple[float, float, str]]:
    """The loadgen metrics' intervals a trial recorded in ``loadgen/trial.json`` (none when absent)."""
    path = trial_dir / "loadgen" / TRIAL_FILE
    try:
        doc = json.loads(path.read_text())
        return {k: (float(v[0]), float(v[1]), str(v[2])) for k, v in doc.get("intervals", {}).items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError):
        return {}
