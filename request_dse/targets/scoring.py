"""Scoring a session's held-out split: its top-5 classes, in the split's order.

A judging session (early stopping) scores the split at its judge's first look, in chunks, and
asks the judge after each: accuracy on the whole split is known exactly only once every row is
scored, but after ``k`` of ``N`` rows with ``c`` right it lies between ``c / N`` and
``(c + N - k) / N`` whatever the other rows give. The judge's order puts the rows the study's
candidates got wrong most often first, so a candidate that errs where the front's points err
shows, after a few dozen rows, that it cannot be more accurate than they are; a candidate the
front beats in latency as well then stops without scoring the rest.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from request_dse.targets._base import SessionRequest

#: Rows scored before the judge first looks at them (then at every doubling).
FIRST_ROWS = 16


def batches(x: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, int]]:
    """Fixed-size batches (the last one padded with zeros) and how many rows of each are real."""
    out = []
    for i in range(0, len(x), batch_size):
        chunk = x[i:i + batch_size]
        real = len(chunk)
        if real < batch_size:
            chunk = np.concatenate([chunk, np.zeros((batch_size - real, *x.shape[1:]), x.dtype)])
        out.append((np.ascontiguousarray(chunk), real))
    return out


def infer(session: Any, x: np.ndarray, batch_size: int) -> np.ndarray:
    parts = [session.fetch(session.run(session.place(b)))[:real] for b, real in batches(x, batch_size)]
    return np.concatenate(parts)


def top_classes(logits: np.ndarray) -> np.ndarray:
    """The top-5 class indices of each row, best first (fewer when there are fewer classes)."""
    k = min(5, logits.shape[1]) if logits.ndim == 2 else 1
    return np.argsort(-logits.reshape(len(logits), -1), axis=1, kind="stable")[:, :k]


def scoring_order(first: tuple[int, ...], n: int) -> np.ndarray:
    """Every row of an ``n``-row split once: ``first`` (those in range, repeats dropped), then the rest in order."""
    head = list(dict.fromkeys(i for i in first if 0 <= i < n))
    rest = np.setdiff1d(np.arange(n), np.asarray(head, dtype=np.int64), assume_unique=True)
    return np.concatenate([np.asarray(head, dtype=np.int64), rest]).astype(np.int64)


def looks(n: int, batch_size: int) -> list[int]:
    """After how many scored rows the judge looks: :data:`FIRST_ROWS`, then at every doubling, on
    whole batches; the last entry is ``n`` (every row scored: the judge looks as usual then)."""
    def whole(k: int) -> int:
        return min(n, -(-k // batch_size) * batch_size)

    out, k = [], whole(FIRST_ROWS)
    while k < n:
        out.append(k)
        k = whole(2 * k)
    return [*out, n]


def score_judged(loaded: Any, request: SessionRequest, samples_ns: np.ndarray,
                 probes_ns: np.ndarray | None = None) -> str | None:
    """Score ``loaded``'s held-out split, first the rows the request's judge orders first, asking
    it after each chunk; with ``samples_ns`` the timed runs so far. Why the judge ended it (the
    rows scored are then in ``loaded.scored``, ``loaded.top5`` theirs), or None (``loaded.top5``
    holds every row, in the split's order)."""
    judge, x, batch = request.judge, loaded.x_eval, request.batch_size
    first = tuple(judge.order) if judge is not None else ()
    order = scoring_order(first, len(x))
    parts: list[np.ndarray] = []
    done = 0
    stops = looks(len(x), batch) if judge is not None else [len(x)]
    for upto in stops:
        parts.append(top_classes(infer(loaded.session, x[order[done:upto]], batch)))
        done = upto
        if judge is not None and done < len(x):
            reason = judge(samples_ns, np.concatenate(parts), order[:done], probes_ns=probes_ns)
            if reason is not None:
                loaded.top5, loaded.scored, loaded.pending = np.concatenate(parts), order[:done], False
                return reason
    top5 = np.concatenate(parts) if parts else np.empty((0, 1), np.int64)
    loaded.top5 = np.empty_like(top5)
    loaded.top5[order] = top5
    loaded.pending = False
    return None
