"""An entry's page (``/entries/<id>``): its claimed figures next to the ones this service measured,
its system description, how to reproduce it, and its history (uploads, jobs, validations).

Every value shown comes from a participant's bundle or from the database and is escaped.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from request_dse.service.pages import live_script
from request_dse.text import fmt

STYLE = """<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; padding: 16px 24px 40px; max-width: 1200px; }
h1 { font-size: 21px; } h2 { font-size: 16px; margin-top: 26px; border-bottom: 1px solid #d5dae0; }
table { border-collapse: collapse; font-size: 12.5px; } th, td { border-bottom: 1px solid #d5dae0; padding: 3px 8px;
text-align: left; vertical-align: top; } th { background: #f3f5f7; } td.num { text-align: right; }
.badge { border-radius: 3px; padding: 0 6px; border: 1px solid #999; } .badge.reproduced { background: #d9f2dd; }
.badge.functional { background: #fff2c7; } .badge.available { background: #e3ecfa; }
.badge.failed { background: #fbe0de; }
pre { background: #f6f7f9; padding: 8px; white-space: pre-wrap; } .fail { color: #b3261e; font-weight: 600; }
</style>"""


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _interval(low: Any, high: Any, metric: str) -> str:
    if low is None or high is None:
        return ""
    return f"[{fmt(float(low), metric)}, {fmt(float(high), metric)}]"


def figures(doc: Mapping[str, Any], result: Mapping[str, Any] | None) -> str:
    """Claimed vs validated, one row per metric the bundle claims."""
    checks = {c.get("metric"): c for c in (result or {}).get("checks", []) if isinstance(c, Mapping)}
    other = (result or {}).get("not_compared", {}) or {}
    rows = []
    for name, spec in doc["metrics"].items():
        claimed = float(spec["value"])
        c = checks.get(name)
        measured = c.get("measured") if c else other.get(name)
        rows.append((name, fmt(claimed, name), _interval(spec.get("low"), spec.get("high"), name),
                     "-" if measured is None else fmt(float(measured), name),
                     _interval(c.get("measured_low"), c.get("measured_high"), name) if c else "",
                     _interval(c.get("low"), c.get("high"), name) if c else "",
                     ("holds" if c.get("ok") else "DOES NOT HOLD") if c else "reported, not compared"))
    headers = ("metric", "claimed", "claimed 95% interval", "validated", "validated 95% interval", "allowed", "check")
    return _table(headers, rows, "figures")


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, dt.datetime) else str(value or "")


def entry_page(entry: Mapping[str, Any], history: Mapping[str, Sequence[Mapping[str, Any]]], revision: int,
               target: str, server: str) -> str:
    """``entry``: the database row; ``history``: its ``submissions``, ``jobs`` and ``validations``;
    ``server``: the URL the page was asked for, up to its root (for the reproduce commands)."""
    doc = json.loads(entry["submission"])
    system = json.loads(entry["system"])
    validations = history["validations"]
    last = validations[-1] if validations else None
    result = json.loads(last["result"]) if last else None
    eid, badge = str(entry["id"]), str(entry["badge"])
    summary = [("track", entry["track"]), ("participant", entry["participant"]), ("bundle", entry["bundle_id"]),
               ("label", doc.get("label", "")), ("kind", doc.get("kind", "")),
               ("workload", f"{doc['workload']['name']} / {doc['workload'].get('model_id', '')} "
                            f"({doc['workload'].get('precision', '')})"),
               ("framework", f"{doc['framework']['name']} {doc['framework'].get('version', '')}"),
               ("target", doc["target"]["name"]), ("submitted (UTC)", _when(entry["created"])),
               ("content sha256", entry["digest"]), ("withdrawn", "yes" if entry["withdrawn"] else "")]
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>entry {escape(eid)}</title>'
             f'<link rel="icon" href="data:,">{STYLE}</head><body data-rendered="1" data-badge="{escape(badge)}">',
             f'<p><a href="../">&larr; scoreboard</a></p><h1>Entry {escape(eid)} '
             f'<span class="badge {escape(badge)}" id="badge">{escape(badge)}</span></h1>']
    if entry["reason"]:
        parts.append(f'<p id="reason">{escape(str(entry["reason"]))}</p>')
    parts.append(_table(("field", "value"), [(k, v) for k, v in summary if v not in ("", None)], "summary"))
    parts.append("<h2>Claimed and validated figures</h2>")
    if last is None:
        parts.append("<p>Not validated yet: the figures below are the bundle's claims.</p>")
    else:
        parts.append(f"<p>Validated {escape(_when(last['finished']))} UTC on {escape(str(last['node']))}: "
                     f"{escape(str(last['status']))}. Isolation: {escape(str(last['isolation']))}.</p>")
    parts.append(figures(doc, result))
    if result and result.get("log_tail"):
        parts.append(f"<details><summary>log of the last validation</summary><pre>{escape(result['log_tail'])}</pre>"
                     "</details>")
    parts.append("<h2>System</h2>" + _table(("field", "value"), [(k, json.dumps(v) if not isinstance(v, str) else v)
                                                                   for k, v in system.items()], "system"))
    rebuild = str(doc.get("reproduce", {}).get("rebuild", ""))
    archive = str(entry["archive"])
    parts.append("<h2>Reproduce</h2><pre>"
                 + escape(f"curl -o {archive} {server.rstrip('/')}/api/v1/entries/{eid}/bundle\n"
                          f"request-dse validate {archive} --target {target}\n")
                 + (escape(f"# how the participant built it: {rebuild}") if rebuild else "") + "</pre>")
    parts.append("<h2>History</h2><h3>Uploads</h3>" + _table(
        ("received (UTC)", "by", "outcome", "bytes"),
        [(_when(s["received"]), s["participant"], s["outcome"], s["size"]) for s in history["submissions"]],
        "uploads"))
    parts.append("<h3>Validation jobs</h3>" + _table(
        ("job", "state", "attempts", "queued", "started", "finished", "asked by", "note"),
        [(j["id"], j["state"], j["attempts"], _when(j["created"]), _when(j["started"]), _when(j["finished"]),
          j["requested_by"], j["note"]) for j in history["jobs"]], "jobs"))
    parts.append("<h3>Validations</h3>" + _table(
        ("finished (UTC)", "job", "result", "reason", "node"),
        [(_when(v["finished"]), v["job_id"], v["status"], v["reason"], v["node"]) for v in validations],
        "validations"))
    parts.append(live_script(revision, "../") + "</body></html>")
    return "\n".join(parts)
