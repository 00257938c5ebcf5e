"""A historical results table as a read-only scoreboard track.

The table is the ReQuEST@ASPLOS'18 points layout (``shared/data/request-asplos18/points.csv``:
one row per experiment point, the columns its README documents). Every row becomes an
:class:`~request_dse.scoreboard.entries.Entry`; an empty cell becomes a missing metric, never a
dropped row. Units are turned into the scoreboard's:

=======================  ==========================================  ==========================
scoreboard metric        column                                      rule
=======================  ==========================================  ==========================
accuracy_top1 / _top5    accuracy_top1 / accuracy_top5 (fraction)    as is
latency_mean_ms          latency_s_mean x 1000                       batch-1 (latency) rows only
latency_min_ms           latency_s_min x 1000                        batch-1 (latency) rows only
throughput_ips           throughput_ips (images/s)                   as stored
cost_usd_per_1m          cloud_usage_cost_usd_per_image x 10^6       cloud rows only
platform_price_usd       platform_price_usd                          declared, not measured
platform_peak_power_w    platform_peak_power_w                       declared, not measured
model_size_bytes         model_size_bytes                            as stored
=======================  ==========================================  ==========================

On rows with a batch larger than one, ``latency_s_*`` is the forward time amortised over the
batch, not a latency, so those rows have no latency metric (they keep their throughput).
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

from request_dse.errors import ConfigError, UserError
from request_dse.scoreboard.entries import Entry

TRACK = "ReQuEST@ASPLOS'18"

REQUIRED = ("entry", "point", "submission", "workflow_repo", "model", "precision", "dataset", "platform", "gpu",
            "framework_or_library", "library_version", "batch_size", "config", "measuring_latency",
            "accuracy_top1", "accuracy_top5", "latency_s_min", "latency_s_mean", "throughput_ips",
            "platform_price_usd", "platform_peak_power_w", "model_size_bytes", "cloud_usage_cost_usd_per_image")

#: (scoreboard metric, column, scale, latency rows only)
MAPPING: tuple[tuple[str, str, float, bool], ...] = (
    ("accuracy_top1", "accuracy_top1", 1.0, False),
    ("accuracy_top5", "accuracy_top5", 1.0, False),
    ("latency_mean_ms", "latency_s_mean", 1e3, True),
    ("latency_min_ms", "latency_s_min", 1e3, True),
    ("throughput_ips", "throughput_ips", 1.0, False),
    ("cost_usd_per_1m", "cloud_usage_cost_usd_per_image", 1e6, False),
    ("platform_price_usd", "platform_price_usd", 1.0, False),
    ("platform_peak_power_w", "platform_peak_power_w", 1.0, False),
    ("model_size_bytes", "model_size_bytes", 1.0, False),
)

DETAILS = ("entry", "point", "batch_size", "config", "platform_species", "cpu", "gpu", "os", "compiler",
           "dataset_size", "latency_key", "latency_repeats", "freq_mhz", "platform_price_date",
           "cloud_usage_cost_usd_per_hour")


@dataclass(frozen=True)
class Track:
    """A read-only table: its name, entries and the provenance shown on the page."""

    name: str
    path: Path
    entries: tuple[Entry, ...]
    provenance: str   # the README next to the table, verbatim ("" when there is none)
    rows: int


def _number(path: Path, row: int, column: str, text: str) -> float | None:
    text = text.strip()
    if text == "":
        return None
    try:
        return float(text)
    except ValueError:
        raise ConfigError(path, f"row {row}: {column}", f"must be a number or empty; got {text!r}") from None


def _entry(path: Path, row: int, rec: dict[str, str]) -> Entry:
    is_latency_row = rec["measuring_latency"].strip().lower() == "yes"
    metrics: dict[str, float | None] = {}
    for metric, column, scale, latency_only in MAPPING:
        value = _number(path, row, column, rec[column])
        metrics[metric] = None if value is None or (latency_only and not is_latency_row) else value * scale
    device = rec["gpu"].strip() or "CPU"
    version = rec["library_version"].strip()
    return Entry(
        id=f"asplos18-{rec['point'].strip()}", participant=rec["submission"].strip(),
        study=rec["workflow_repo"].strip(), track=TRACK,
        workload=rec["dataset"].strip() or "(dataset not recorded)", model=rec["model"].strip(),
        target=rec["platform"].strip(), framework=rec["framework_or_library"].strip() + (f" {version}" if version else ""),
        precision=rec["precision"].strip(), baseline=False, badge="validated (ReQuEST 2018)",
        metrics=metrics, source=f"{path.name}:{row}", read_only=True,
        details={"device": device, **{k: rec[k].strip() for k in DETAILS if k in rec and rec[k].strip()}})


def read_track(path: str | Path) -> Track:
    """Read a ReQuEST@ASPLOS'18-style points table; every row becomes an entry."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet may add a byte-order mark
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read the table ({exc})") from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
    if missing:
        raise ConfigError(path, "header", f"lacks the column(s) {', '.join(missing)} of the ReQuEST@ASPLOS'18 "
                          "points layout")
    entries, ids = [], set()
    for row, rec in enumerate(reader, start=2):  # row 1 is the header
        if None in rec or any(v is None for v in rec.values()):
            raise ConfigError(path, f"row {row}", f"must have {len(reader.fieldnames or [])} cells like the header")
        entry = _entry(path, row, rec)
        if entry.id in ids:
            raise ConfigError(path, f"row {row}: point", f"must be unique; {rec['point']!r} repeats")
        ids.add(entry.id)
        entries.append(entry)
    if not entries:
        raise ConfigError(path, "", "has a header but no rows")
    return Track(TRACK, path, tuple(entries), _provenance(path), len(entries))


def _provenance(path: Path) -> str:
    for name in ("README.md", "README"):
        readme = path.parent / name
        if readme.is_file():
            return readme.read_text(encoding="utf-8", errors="replace")
    return ""


def provenance_summary(text: str) -> str:
    """The first bullet of the README's Provenance section (the source and commit), as plain text."""
    match = re.search(r"^## Provenance\s*\n+- (.+?)(?=\n- |\n\n|\Z)", text, flags=re.M | re.S)
    return re.sub(r"\s+", " ", match.group(1)).replace("`", "") if match else ""
