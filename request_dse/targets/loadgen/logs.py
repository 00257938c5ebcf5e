"""Reading what LoadGen wrote: ``mlperf_log_detail.txt`` (one ``:::MLLOG {json}`` record a line),
``mlperf_log_summary.txt`` (the early-stopping estimates) and ``mlperf_log_accuracy.json`` (the
responses it logged), and the figures request-dse reports from them.

Every reader refuses a file over :data:`MAX_LOG_BYTES` and skips lines it cannot parse: logs may
come from someone else's bundle.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

SUMMARY = "mlperf_log_summary.txt"
DETAIL = "mlperf_log_detail.txt"
ACCURACY = "mlperf_log_accuracy.json"
LOG_FILES = (SUMMARY, DETAIL, ACCURACY)
MAX_LOG_BYTES = 64 * 2**20
_ESTIMATE = re.compile(r"Early stopping (\d+(?:\.\d+)?)th percentile estimate\s*:\s*(\d+)")


class LogError(ValueError):
    """A LoadGen log that is missing, too large or not what LoadGen writes."""


def _text(path: Path) -> str:
    if not path.is_file():
        raise LogError(f"{path}: missing")
    if path.stat().st_size > MAX_LOG_BYTES:
        raise LogError(f"{path}: larger than {MAX_LOG_BYTES // 2**20} MiB")
    return path.read_text(errors="replace")


def detail(path: Path) -> dict[str, Any]:
    """The last value of every key of a detail log (``error_*`` / ``warning_*`` keys counted too)."""
    values: dict[str, Any] = {}
    errors = 0
    for line in _text(path).splitlines():
        head, sep, record = line.partition(":::MLLOG")
        if not sep:
            continue
        try:
            doc = json.loads(record)
        except ValueError:
            continue
        if isinstance(doc, dict) and isinstance(doc.get("key"), str):
            values[doc["key"]] = doc.get("value")
            errors += doc["key"].startswith("error")
    values["error_count"] = errors
    return values


def estimates(path: Path) -> dict[float, int]:
    """The early-stopping percentile estimates of a summary log: ``{90.0: ns, 99.0: ns}``."""
    return {float(p): int(v) for p, v in _ESTIMATE.findall(_text(path))}


def responses(path: Path, limit: int = 10_000_000) -> dict[int, bytes]:
    """The responses of an accuracy log, by sample index (the last response of a repeated index)."""
    try:
        doc = json.loads(_text(path) or "[]")
    except ValueError as exc:
        raise LogError(f"{path}: not JSON ({exc})") from None
    if not isinstance(doc, list) or len(doc) > limit:
        raise LogError(f"{path}: not a list of at most {limit} responses")
    out = {}
    for entry in doc:
        if isinstance(entry, dict) and isinstance(entry.get("qsl_idx"), int) and isinstance(entry.get("data"), str):
            try:
                out[entry["qsl_idx"]] = bytes.fromhex(entry["data"])
            except ValueError:
                continue
    return out


def _ms(values: Mapping[str, Any], key: str) -> float | None:
    v = values.get(key)
    return float(v) / 1e6 if isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 else None


def figures(run_dir: Path, scenario: str) -> dict[str, float]:
    """The loadgen metrics of one performance run folder (see :data:`request_dse.metrics.LOADGEN_METRICS`)."""
    values = detail(run_dir / DETAIL)
    est = estimates(run_dir / SUMMARY)
    out: dict[str, float] = {"loadgen_valid": 1.0 if values.get("result_validity") == "VALID" else 0.0}
    if scenario in ("single_stream", "multi_stream", "server"):
        per = "per_query_" if scenario == "multi_stream" else ""
        for p, name in (("50.00", "loadgen_p50_ms"), ("90.00", "loadgen_p90_ms"), ("99.00", "loadgen_p99_ms")):
            v = _ms(values, f"result_{p}_percentile_{per}latency_ns")
            if v is not None:
                out[name] = v
        mean = _ms(values, f"result_mean_{'query_' if per else ''}latency_ns")
        if mean is not None:
            out["loadgen_mean_ms"] = mean
    if scenario in ("single_stream", "multi_stream"):
        if 90.0 in est and scenario == "single_stream":
            out["loadgen_p90_estimate_ms"] = est[90.0] / 1e6
        if 99.0 in est:
            out["loadgen_p99_estimate_ms"] = est[99.0] / 1e6
        key = "loadgen_p90_estimate_ms" if scenario == "single_stream" else "loadgen_p99_estimate_ms"
        if key in out:
            out["loadgen_score"] = 1e3 / out[key]
    elif scenario == "server":
        qps = values.get("result_completed_samples_per_sec")
        if isinstance(qps, (int, float)) and qps > 0:
            out["server_qps"] = out["loadgen_score"] = float(qps)
    elif scenario == "offline":
        ips = values.get("result_samples_per_second")
        if isinstance(ips, (int, float)) and ips > 0:
            out["offline_ips"] = out["loadgen_score"] = float(ips)
    return out
