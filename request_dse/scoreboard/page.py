"""The scoreboard page: one self-contained HTML file (inline CSS, script, SVG plot and data).

Nothing on the page is fetched from the network: the entries are embedded as JSON, and the
page's own script draws the plot, applies the filters and recomputes the frontier and the
hypervolumes for the axes the reader picks. The reader picks a workload first: the plot, the
frontier, the hypervolumes and the table show one workload at a time, each opening on its own
axes.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from request_dse import __version__
from request_dse.errors import UserError
from request_dse.scoreboard.axes import Axis, axes_for
from request_dse.scoreboard.bundles import workload_names
from request_dse.scoreboard.entries import Entry, metric_names
from request_dse.scoreboard.historical import Track, provenance_summary

#: Preferred default axes: (Y, X); the first pair that some entries share wins.
DEFAULT_PAIRS = (("accuracy_top1", "latency_p90_ms"), ("accuracy_top1", "latency_mean_ms"),
                 ("accuracy_top1", "latency_p50_ms"), ("accuracy_top1", "throughput_ips"))


@dataclass(frozen=True)
class Page:
    entries: tuple[Entry, ...]
    axes: Mapping[str, Axis]
    x: str                                      # the opening workload's axes
    y: str
    tracks: tuple[Mapping[str, Any], ...]
    title: str
    workloads: tuple[Mapping[str, Any], ...] = ()  # {name, entries, live, x, y}, the opening one first

    @property
    def workload_axes(self) -> dict[str, tuple[str, str]]:
        return {w["name"]: (w["x"], w["y"]) for w in self.workloads}

def _shared(entries: Sequence[Entry], *metrics: str) -> int:
    return sum(1 for e in entries if e.has(*metrics))


def default_axes(entries: Sequence[Entry], axes: Mapping[str, Axis], x: str | None, y: str | None) -> tuple[str, str]:
    """The axes the page opens on: the ones asked for, else the first common pair with data."""
    for name, label in ((x, "--x"), (y, "--y")):
        if name is not None and name not in axes:
            raise UserError(f"{label} {name}: no entry reports this metric; known here: {', '.join(sorted(axes))}")
    if x and y:
        return x, y
    live = [e for e in entries if not e.read_only] or list(entries)
    historical = [e for e in entries if e.read_only]
    # first a pair that live and historical entries share (so they open comparable), then any live pair
    for need_both in (bool(historical), False):
        for pair_y, pair_x in DEFAULT_PAIRS:
            if (x in (None, pair_x)) and (y in (None, pair_y)) and _shared(live, pair_x, pair_y) and (
                    not need_both or _shared(historical, pair_x, pair_y)):
                return pair_x, pair_y
    names = [n for n in axes if _shared(entries, n)]
    if not names:
        raise UserError("no entry reports any metric: nothing to rank")
    chosen_x = x or next((n for n in names if n != y), names[0])
    chosen_y = y or next((n for n in names if n != chosen_x), chosen_x)
    return chosen_x, chosen_y


def build_page(entries: Sequence[Entry], *, tracks: Sequence[Track] = (), bundle_sources: Sequence[str] = (),
               rejected: Sequence[str] = (), declared: Mapping[str, str] | None = None,
               x: str | None = None, y: str | None = None,
               title: str = "request-dse scoreboard") -> Page:
    """Check the entries and choose the opening axes."""
    if not entries:
        raise UserError("no entries to rank: give bundle directories or --import-csv")
    duplicates = sorted(i for i, n in Counter(e.id for e in entries).items() if n > 1)
    if duplicates:
        raise UserError(f"entry id {duplicates[0]!r} appears more than once (the same bundle given twice?)")
    axes = axes_for(metric_names(entries), declared)
    chosen_x, chosen_y = default_axes(entries, axes, x, y)  # checks --x / --y against every entry
    workloads = []
    for name in workload_names(entries):
        group = [e for e in entries if e.workload == name]
        try:
            wx, wy = default_axes(group, axes, x, y)
        except UserError:  # no entry of this workload reports any metric
            wx, wy = chosen_x, chosen_y
        workloads.append({"name": name, "entries": len(group), "live": sum(not e.read_only for e in group),
                          "x": wx, "y": wy})
    chosen_x, chosen_y = workloads[0]["x"], workloads[0]["y"]
    track_info: list[dict[str, Any]] = []
    live = [e for e in entries if not e.read_only]
    if live or rejected:
        track_info.append({"name": "live submission bundles", "read_only": False, "rows": len(live),
                           "rejected": list(rejected),
                           "source": ", ".join(Path(b).resolve().name or str(b) for b in bundle_sources)
                                     or "bundle directories", "summary": "", "provenance": "",
                           "mapping": "Badges (available, functional, reproduced) come only from the organizer's "
                                      "validation store, matched by each bundle's content digest; what a bundle's "
                                      "own validation.json says is shown as claimed. On a frontier, a star marks an "
                                      "entry the organizer reproduced; an open star, one that is not validated."})
    for t in tracks:
        track_info.append({"name": t.name, "read_only": True, "rows": t.rows, "source": t.path.name,
                           "summary": provenance_summary(t.provenance), "provenance": t.provenance,
                           "mapping": _MAPPING_NOTE})
    return Page(tuple(entries), axes, chosen_x, chosen_y, tuple(track_info), title, tuple(workloads))


_MAPPING_NOTE = ("Units as on the page: latency_s_* x 1000 -> latency_mean_ms / latency_min_ms (batch-1 latency rows "
                 "only; on larger batches it is amortised forward time, not a latency), throughput_ips as stored, "
                 "cloud cost per image x 10^6 -> cost_usd_per_1m, platform price and peak power as declared (typed in "
                 "by hand, not measured). Empty cells are missing values: such rows stay in the table and leave a "
                 "frontier only on the axes they lack.")


def page_data(page: Page) -> dict[str, Any]:
    return {
        "version": __version__,
        "axes": {n: {"unit": a.unit, "direction": a.direction, "family": a.family, "description": a.description}
                 for n, a in page.axes.items()},
        "metrics": list(page.axes),
        "defaults": {"x": page.x, "y": page.y, "workload": page.workloads[0]["name"] if page.workloads else ""},
        "workloads": list(page.workloads),
        "entries": [e.to_json() for e in page.entries],
        "tracks": list(page.tracks),
    }


def _asset(name: str) -> str:
    return resources.files("request_dse.scoreboard").joinpath("assets", name).read_text(encoding="utf-8")


def _embed_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def render_html(page: Page, *, generated: _dt.datetime | None = None) -> str:
    """The whole page as one string."""
    generated = generated or _dt.datetime.now(_dt.UTC)
    replacements = {
        "__TITLE__": _escape(page.title), "__VERSION__": __version__,
        "__GENERATED__": generated.strftime("%Y-%m-%d %H:%M UTC"),
        "__CSS__": _asset("scoreboard.css"), "__DATA__": _embed_json(page_data(page)), "__JS__": _asset("scoreboard.js"),
    }
    # one pass, so text inserted for one marker is never read as another
    return re.sub(r"__(TITLE|VERSION|GENERATED|CSS|DATA|JS)__", lambda m: replacements[m.group(0)], _asset("page.html"))


def write_html(page: Page, out: Path) -> Path:
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_html(page), encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{out}: cannot write the scoreboard ({exc.strerror or exc})") from None
    return out
