"""The tournament scoreboard: bundles and historical tables ranked on one self-contained page.

::
    from request_dse.scoreboard import build_scoreboard

    result = build_scoreboard(["submissions/"], csv_files=["points.csv"], output=Path("scoreboard.html"))

Entries (:mod:`.entries`) come from verified submission bundles (:mod:`.bundles`) and from
read-only historical tables (:mod:`.historical`); :mod:`.frontier` ranks them on chosen axes
with missing values left out only where they are missing; :mod:`.page` writes the page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from request_dse.errors import UserError
from request_dse.scoreboard.axes import Axis, axes_for, known_axes
from request_dse.scoreboard.bundles import read_live
from request_dse.scoreboard.entries import LIVE, Entry
from request_dse.scoreboard.frontier import Frontier, compute
from request_dse.scoreboard.historical import read_track
from request_dse.scoreboard.page import Page, build_page, render_html, write_html

__all__ = ["LIVE", "Axis", "Entry", "Frontier", "Page", "Scoreboard", "axes_for", "build_scoreboard", "compute",
           "known_axes", "render_html", "write_html"]


@dataclass(frozen=True)
class Scoreboard:
    """What ``request-dse scoreboard`` wrote: the page, its entries and the opening frontier."""
    output: Path
    page: Page
    frontier: Frontier
    rejected: tuple[str, ...]

    def summary(self) -> str:
        entries = self.page.entries
        live = [e for e in entries if not e.read_only]
        baselines = sum(e.baseline for e in live)
        participants = len({e.participant for e in entries})
        excluded = len(self.frontier.excluded)
        lines = [f"scoreboard: {len(entries)} entries ({len(live)} from bundles, {baselines} of them baselines; "
                 f"{len(entries) - len(live)} historical), {participants} participant{'s' if participants != 1 else ''} -> {self.output}",
                 f"opening axes {self.page.x} x {self.page.y}: {len(self.frontier.front)} on the frontier, "
                 f"{excluded} without both axes (kept in the table)"]
        if self.rejected:
            lines.append(f"{len(self.rejected)} bundle(s) rejected (listed on the page)")
        return "\n".join(lines)


def build_scoreboard(bundles: Sequence[str | Path], *, csv_files: Sequence[str | Path] = (), output: Path,
                     x: str | None = None, y: str | None = None, title: str = "request-dse scoreboard",
                     strict: bool = False) -> Scoreboard:
    """Read every bundle and table, rank them, and write the page to ``output``."""
    live = read_live(bundles) if bundles else None
    if strict and live and live.rejected:
        raise UserError(f"scoreboard: {len(live.rejected)} bundle(s) rejected (--strict): {live.rejected[0]}")
    tracks = [read_track(p) for p in csv_files]
    entries: list[Entry] = list(live.entries) if live else []
    for t in tracks:
        entries.extend(t.entries)
    page = build_page(entries, tracks=tracks, bundle_sources=[str(b) for b in bundles],
                      rejected=live.rejected if live else (), declared=live.declared if live else None,
                      x=x, y=y, title=title)
    frontier = compute(page.entries, [page.axes[page.x], page.axes[page.y]])
    write_html(page, output)
    return Scoreboard(output, page, frontier, live.rejected if live else ())
