"""Plain text for the terminal: tables, numbers, durations, plurals, suggestions, error headlines,
and names from someone else's files escaped."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
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


#: Characters never printed as they are: C0 and C1 controls, DEL, and the Unicode format characters
#: that reorder or hide text (bidirectional overrides, zero-width marks).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]")


def escape(text: str) -> str:
    """``text`` with every control or invisible character shown as an escape (``\\n``, ``\\x1b``,
    ``\\u202e``): a name from someone else's file can neither break a line nor drive the terminal."""

    def one(m: re.Match[str]) -> str:
        c = m.group(0)
        return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _UNSAFE.sub(one, text)


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, produced by a walk that stops there: a value
    that is huge once expanded (a YAML alias bomb) costs no more than a small one."""
    parts: list[str] = []
    used = 0
    stack: list[Any] = [value]
    while stack and used <= limit:
        item = stack.pop()
        if isinstance(item, _Text):
            piece = str(item)
        elif isinstance(item, Mapping):
            pairs = list(_first(item.items(), limit))
            stack.append(_Text("}"))
            for i, (k, v) in enumerate(reversed(pairs)):
                stack.extend([v, _Text(": "), k] + ([_Text(", ")] if i < len(pairs) - 1 else []))
            piece = "{"
        elif isinstance(item, (list, tuple)):
            items = list(_first(item, limit))
            stack.append(_Text("]" if isinstance(item, list) else ",)" if len(item) == 1 else ")"))
            for i, v in enumerate(reversed(items)):
                stack.extend([v] + ([_Text(", ")] if i < len(items) - 1 else []))
            piece = "[" if isinstance(item, list) else "("
        else:
            piece = repr(item) if not isinstance(item, str) or len(item) <= limit else repr(item[:limit + 1])
        parts.append(piece)
        used += len(piece)
    text = "".join(parts)
    return text if len(text) <= limit and not stack else text[:limit - 3] + "..."


class _Text(str):
    """Punctuation pushed on the walk's stack (told apart from a string value)."""


def _first(items: Any, n: int) -> Any:
    for i, item in enumerate(items):
        if i >= n:
            return
        yield item
