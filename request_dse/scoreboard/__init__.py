"""The tournament scoreboard: bundles and historical tables ranked on one self-contained page.

::
    from request_dse.scoreboard import build_scoreboard

    result = build_scoreboard(["submissions/"], csv_files=["points.csv"], output=Path("scoreboard.html"))

Entries (:mod:`.entries`) come from verified submission bundles (:mod:`.bundles`, badges from
the organizer's validation store) and from read-only historical tables (:mod:`.historical`);
:mod:`.frontier` ranks them per workload on chosen axes, with missing values left out only where
they are missing; :mod:`.page` writes the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from request_dse.errors import UserError
from request_dse.scoreboard.axes import Axis, axes_for, known_axes
from request_dse.scoreboard.bundles import read_live
from request_dse.scoreboard.entries import LIVE, Entry
from request_dse.scoreboard.frontier import Frontier, compute, per_workload
from request_dse.scoreboard.historical import read_track
from request_dse.scoreboard.page import Page, build_page, render_html, write_html
from request_dse.submission.store import ValidationStore

__all__ = ["LIVE", "Axis", "Entry", "Frontier", "Page", "Scoreboard", "axes_for", "build_scoreboard", "compute",
           "known_axes", "per_workload", "render_html", "write_html"]


@dataclass(frozen=True)
class Scoreboard:
    """What ``request-dse scoreboard`` wrote: the page, its entries and each workload's frontier on
    the axes it opens on (``frontier``: the opening workload's)."""
    output: Path
    page: Page
    frontiers: dict[str, Frontier]
    rejected: tuple[str, ...]

    @property
    def frontier(self) -> Frontier:
        return self.frontiers[self.page.workloads[0]["name"]]

    def summary(self) -> str:
        entries = self.page.entries
        live = [e for e in entries if not e.read_only]
        baselines = sum(e.baseline for e in live)
        participants = len({e.participant for e in entries})
        lines = [f"scoreboard: {len(entries)} entries ({len(live)} from bundles, {baselines} of them baselines; "
                 f"{len(entries) - len(live)} historical), {participants} participant{'s' if participants != 1 else ''}, "
                 f"{len(self.frontiers)} workload{'s' if len(self.frontiers) != 1 else ''} -> {self.output}"]
        for w in self.page.workloads:
            f = self.frontiers[w["name"]]
            lines.append(f"workload {w['name']} ({w['entries']} entries), opening axes {w['x']} x {w['y']}: "
                         f"{len(f.front)} on the frontier ({len(f.unvalidated)} not validated), "
                         f"{len(f.excluded)} without both axes (kept in the table)")
        if self.rejected:
            lines.append(f"{len(self.rejected)} bundle(s) rejected (listed on the page)")
        return "\n".join(lines)


def build_scoreboard(bundles: Sequence[str | Path], *, csv_files: Sequence[str | Path] = (), output: Path,
                     x: str | None = None, y: str | None = None, title: str = "request-dse scoreboard",
                     strict: bool = False, store: ValidationStore | None = None) -> Scoreboard:
    """Read every bundle and table, rank them per workload, and write the page to ``output``.
    Badges come from ``store`` (default: the organizer's validation store)."""
    live = read_live(bundles, store) if bundles else None
    if strict and live and live.rejected:
        raise UserError(f"scoreboard: {len(live.rejected)} bundle(s) rejected (--strict): {live.rejected[0]}")
    tracks = [read_track(p) for p in csv_files]
    entries: list[Entry] = list(live.entries) if live else []
    for t in tracks:
        entries.extend(t.entries)
    page = build_page(entries, tracks=tracks, bundle_sources=[str(b) for b in bundles],
                      rejected=live.rejected if live else (), declared=live.declared if live else None,
                      x=x, y=y, title=title)
    frontiers = per_workload(page.entries, {w: [page.axes[x], page.axes[y]] for w, (x, y) in page.workload_axes.items()})
    write_html(page, output)
    return Scoreboard(output, page, frontiers, live.rejected if live else ())
