"""Plain text for the terminal: tables, numbers, durations, plurals, suggestions, error headlines."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import Any


def fmt(value: Any, metric: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        if metric.startswith("accuracy"):
            return f"{value:.4f}"
        if metric.endswith("_bytes") or metric in ("params", "flops", "samples"):
            return f"{value:,.0f}"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            return f"{value:.3e}"
        return f"{value:.4g}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, align: str | None = None) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" * len(headers)
    lines = []
    for k, row in enumerate(cells):
        parts = [c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(row, widths, align)]
        lines.append("  ".join(parts).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


#: Nouns whose plural is not the singular plus "s".
_PLURALS = {"entry": "entries", "candidacy": "candidacies", "match": "matches", "pass": "passes"}


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``1 trial``, ``2 trials``, ``0 entries``: the count and the noun that agrees with it."""
    form = noun if count == 1 else plural_form or _PLURALS.get(noun, noun + "s")
    return f"{count} {form}"


def did_you_mean(value: object, names: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` when one of ``names`` is close to ``value``, else ``""``."""
    if not isinstance(value, str):
        return ""
    best, score = "", 0.6  # difflib's cutoff for a close match
    for name in map(str, names):  # the first of equally close names wins: callers list the usual one first
        ratio = difflib.SequenceMatcher(None, value, name).ratio()
        if ratio > score or (ratio == score and not best):
            best, score = name, ratio
    return f"; did you mean {best!r}?" if best else ""


def headline(error: str, width: int = 100) -> str:
    """An error's first line cut to ``width`` characters, keeping its cause.

    Errors read ``Class: message (at file:line in function; ...)``: the cause first, then
    where it was raised. The location goes first when the line is too long; a message still
    too long keeps its beginning (the class) and its end (where messages name the operator,
    flag or file), with `` ... `` between them.
    """
    lines = error.strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) <= width:
        return first
    cause, where = first, ""
    if first.endswith(")") and " (at " in first:
        cause, _, rest = first.rpartition(" (at ")
        where = " (at " + rest
    if len(cause) <= width:
        room = width - len(cause)
        return cause + (where[: room - 4] + "...)" if room >= 24 else "")
    head = cause[: max(width * 2 // 5, min(len(cause.split(": ", 1)[0]) + 2, width - 20))]
    tail = cause[len(cause) - (width - len(head) - 5):]
    if " " in head[-12:]:
        head = head[: head.rindex(" ")]
    if " " in tail[:12]:
        tail = tail[tail.index(" ") + 1:]
    return head.rstrip() + " ... " + tail.lstrip()
