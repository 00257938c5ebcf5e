"""The progress line of a running study: trials done / budget, ETA, front size, activity."""

from __future__ import annotations

import sys
import time
from typing import IO, TYPE_CHECKING

from request_dse.results import TrialRecord, candidate_label
from request_dse.text import duration, fmt

if TYPE_CHECKING:
    from request_dse.search import SearchView


class Progress:
    """Redraws one line on a terminal; prints one line per finished trial elsewhere."""

    def __init__(self, stream: IO[str] | None = None, *, every_s: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = 0.0
        self._front = 0

    def _front_size(self, search: SearchView) -> int:
        front, _, _ = search.front()
        return len(front)

    def status_line(self, search: SearchView) -> str:
        c = search.counters
        done, budget = c.measured, search.budget
        elapsed = search.elapsed()
        remaining = max(0, budget - done)
        eta = f"ETA {duration(elapsed / done * remaining)}" if done and remaining else "ETA --" if remaining else "done"
        activity = search.executor.activity()
        measuring = ", ".join(f"{k} {v}" for k, v in (activity.measuring or {}).items())
        width = 20
        filled = int(width * min(done, budget) / budget) if budget else width
        bar = "#" * filled + "." * (width - filled)
        parts = [f"[{bar}] {done}/{budget}", eta, f"front {self._front}", f"ok {c.ok}", f"failed {c.failed}"]
        if c.cached:
            parts.append(f"cached {c.cached}")
        parts.append(f"building {activity.building}")
        if measuring:
            parts.append(f"measuring {measuring}")
        mode = getattr(search, "mode", "")
        if mode:
            parts.append(mode)
        elif search.stop_reason.startswith("waiting"):
            parts.append(search.stop_reason)
        parts.append(duration(elapsed))
        return " | ".join(parts)

    def on_start(self, search: SearchView) -> None:
        plan = search.plan
        count = plan.space.count()
        size = "continuous" if count == float("inf") else f"{count:,.0f} candidates"
        done = search.counters.measured
        resumed = f", resuming at {done} done" if done else ""
        self._front = self._front_size(search)
        print(f"study {plan.name}: {plan.study.trials} trials of a {size} space, sampler "
              f"{plan.study.sampler.name} (seed {plan.study.sampler.seed}), executor "
              f"{search.executor.name}{resumed}", file=self.stream, flush=True)

    def on_trial(self, search: SearchView, record: TrialRecord) -> None:
        self._front = self._front_size(search)
        if not self.tty:
            names = search.plan.study.metric_names
            shown = " ".join(f"{m}={fmt(record.metrics.get(m), m)}" for m in names) if record.metrics else ""
            note = f" ({record.error.splitlines()[0][:100]})" if record.error else ""
            print(f"trial {record.number:3d} {record.status:13s} {shown} {candidate_label(record.params)}{note}",
                  file=self.stream, flush=True)
        self.on_tick(search, force=True)

    def on_tick(self, search: SearchView, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.every_s:
            return
        self._last = now
        line = self.status_line(search)
        if self.tty:
            print("\r\033[K" + line, end="", file=self.stream, flush=True)
        elif force:
            print("  " + line, file=self.stream, flush=True)

    def on_end(self, search: SearchView) -> None:
        if self.tty:
            print("\r\033[K" + self.status_line(search), file=self.stream, flush=True)
