"""The progress line of a running study (trials done / budget, ETA, front size, activity) and of
a baseline run (candidates done, ETA)."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING

from request_dse.results import TrialRecord, TrialResult, candidate_label
from request_dse.text import duration, fmt, headline, plural

if TYPE_CHECKING:
    from request_dse.search import SearchView


def bar_line(done: int, total: int, elapsed_s: float, counts: Sequence[tuple[str, object]], *,
             done_before: int = 0) -> str:
    """``[####......] 12/40 | ETA 1m30s | ok 11 | failed 1 | 1m02s``: the line `tune` and
    `baseline` redraw. ``done_before`` of the ``done`` were finished by an earlier run; the
    ETA is the pace of this run applied to what is left."""
    remaining = max(0, total - done)
    pace = done - done_before
    eta = f"ETA {duration(elapsed_s / pace * remaining)}" if pace > 0 and remaining else "ETA --" if remaining else "done"
    width = 20
    filled = int(width * min(done, total) / total) if total else width
    parts = [f"[{'#' * filled}{'.' * (width - filled)}] {done}/{total}", eta, *(f"{k} {v}" for k, v in counts)]
    parts.append(duration(elapsed_s))
    return " | ".join(parts)


class Progress:
    """Redraws one line on a terminal; prints one line per finished trial elsewhere."""

    def __init__(self, stream: IO[str] | None = None, *, every_s: float = 0.5) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.every_s = every_s
        self._last = 0.0
        self._front = 0
        self._done_before = 0

    def _front_size(self, search: SearchView) -> int:
        front, _, _ = search.front()
        return len(front)

    def status_line(self, search: SearchView) -> str:
        c = search.counters
        activity = search.executor.activity()
        counts = [("front", self._front), ("ok", c.ok), ("failed", c.failed)]
        if c.cached:
            counts.append(("cached", c.cached))
        counts.append(("building", activity.building))
        measuring = ", ".join(f"{k} {v}" for k, v in (activity.measuring or {}).items())
        if measuring:
            counts.append(("measuring", measuring))
        if getattr(search, "waiting", 0):
            counts.append(("waiting", search.waiting))  # type: ignore[attr-defined]
        mode = getattr(search, "mode", "")
        if mode:
            counts.append((mode, ""))
        elif search.stop_reason.startswith("waiting"):
            counts.append((search.stop_reason, ""))
        return bar_line(c.measured, search.budget, search.elapsed(), counts, done_before=self._done_before)

    def on_start(self, search: SearchView) -> None:
        plan = search.plan
        count = plan.space.count()
        size = "a continuous space" if count == float("inf") else \
            f"a space of {plural(int(count), 'candidate')}" if count < 1e6 else f"a space of {count:,.0f} candidates"
        done = self._done_before = search.counters.measured
        resumed = f", resuming at {done} done" if done else ""
        self._front = self._front_size(search)
        print(f"study {plan.name}: {plural(plan.study.trials, 'trial')} of {size}, sampler "
              f"{plan.study.sampler.name} (seed {plan.study.sampler.seed}), executor "
              f"{search.executor.name}{resumed}", file=self.stream, flush=True)

    def on_trial(self, search: SearchView, record: TrialRecord) -> None:
        self._front = self._front_size(search)
        if not self.tty:
            names = search.plan.study.metric_names
            shown = " ".join(f"{m}={fmt(record.metrics.get(m), m)}" for m in names) if record.metrics else ""
            note = f" ({headline(record.error, 100)})" if record.error else ""
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


class BatchProgress:
    """The progress of a fixed list of candidates (``baseline``): one line per finished candidate
    on stdout, and the bar with its ETA -- redrawn on a terminal, printed after each line elsewhere."""

    def __init__(self, stream: IO[str] | None = None, out: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.out = out or sys.stdout
        self.tty = self.stream.isatty()
        self.total = self.earlier = self.ok = self.failed = 0
        self.started = time.monotonic()

    def start(self, to_measure: int, earlier: int) -> None:
        self.total, self.earlier = to_measure + earlier, earlier
        self.started = time.monotonic()
        if to_measure:
            self._bar()

    def result(self, label: str, result: TrialResult) -> None:
        if result.ok:
            self.ok += 1
            shown = (f"p90 {result.metrics.get('latency_p90_ms', float('nan')):.4g} ms, "
                     f"top-1 {result.metrics.get('accuracy_top1', float('nan')):.4f}")
        else:
            self.failed += 1
            shown = headline(result.error, 100)
        if self.tty:
            print("\r\033[K", end="", file=self.stream, flush=True)
        done = self.earlier + self.ok + self.failed
        print(f"  [{done}/{self.total}] {label}: {result.status} {shown}".rstrip(), file=self.out, flush=True)
        self._bar()

    def _bar(self) -> None:
        done = self.earlier + self.ok + self.failed
        counts = [("earlier", self.earlier)] if self.earlier else []
        line = bar_line(done, self.total, time.monotonic() - self.started,
                        [*counts, ("ok", self.ok), ("failed", self.failed)], done_before=self.earlier)
        if self.tty:
            print("\r\033[K" + line, end="" if done < self.total else "\n", file=self.stream, flush=True)
        else:
            print("  " + line, file=self.stream, flush=True)
