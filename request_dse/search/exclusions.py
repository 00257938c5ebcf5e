"""Exclusions a study learns from its failures: combinations that cannot build, never tried again.

When a candidate fails in a way its backend reads as a property of more than the candidate
(:meth:`request_dse.backends.Backend.known_failure`) -- the framework cannot import the model,
the library rejects a flag's value, the code uses an instruction the CPU lacks -- the study
learns an exclusion: the knob values every candidate sharing the failure has (the framework and
the model's dimensions, or the framework and the flag's value), the reason, and the trial that
showed it. It is stored once in the study's storage (a study user attribute per exclusion, so
processes sharing the study and later runs keep it), and from then on proposals that match are
skipped without taking budget; the default sampler and the pool never propose them.
Timeouts, crashes under load and wrong answers are never learned.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from request_dse.backends import get_backend
from request_dse.results import TrialRecord
from request_dse.study import Plan

#: Prefix of the study user attributes that hold learned exclusions.
ATTR = "exclusion:"


@dataclass(frozen=True)
class Exclusion:
    match: Mapping[str, Any]    # the knob values a candidate must all have to be excluded
    reason: str
    trial: int                  # the trial whose failure showed it

    def matches(self, params: Mapping[str, Any]) -> bool:
        return all(k in params and params[k] == v for k, v in self.match.items())

    @property
    def key(self) -> str:
        text = json.dumps(sorted(self.match.items()), default=str)
        return ATTR + hashlib.sha256(text.encode()).hexdigest()[:16]

    def describe(self) -> str:
        """``framework=tvm, model.precision=fp32: excluded after trial 3: <reason>``"""
        what = ", ".join(f"{k}={v}" for k, v in self.match.items())
        return f"{what}: excluded after trial {self.trial}: {self.reason}"

    def to_json(self) -> dict[str, Any]:
        return {"match": dict(self.match), "reason": self.reason, "trial": self.trial}


def stored(study: Any) -> list[Exclusion]:
    """The exclusions a study has learned, in the order of the trials that showed them."""
    out = []
    for key, value in study.user_attrs.items():
        if key.startswith(ATTR) and isinstance(value, dict):
            try:
                out.append(Exclusion(dict(value["match"]), str(value["reason"]), int(value["trial"])))
            except (KeyError, TypeError, ValueError):
                continue
    return sorted(out, key=lambda e: e.trial)


def lesson(plan: Plan, rec: TrialRecord) -> Exclusion | None:
    """The exclusion a failed trial teaches, or None."""
    framework = rec.params.get("framework")
    if rec.skip is not None or not rec.measured or not isinstance(framework, str):
        return None
    try:
        backend = get_backend(framework)
    except (KeyError, ValueError):
        return None
    prefix = f"{framework}."
    flags = {k[len(prefix):]: v for k, v in rec.params.items() if k.startswith(prefix)}
    known = backend.known_failure(rec.status, rec.error or "", flags)
    if known is None:
        return None
    if known.scope == "flag" and known.flag in flags:
        match = {"framework": framework, f"{prefix}{known.flag}": flags[known.flag]}
    elif known.scope == "model":
        model = [d.name for d, _ in plan.workload.dimensions()]
        match = {"framework": framework, **{k: rec.params[k] for k in model if k in rec.params}}
    else:
        return None
    return Exclusion(match, f"{framework}: {known.reason}"[:500], rec.number)


class Exclusions:
    """The study's learned exclusions, as the search applies them."""

    def __init__(self, plan: Plan, study: Any, on_new: Callable[[Exclusion], None] = lambda e: None) -> None:
        self.plan = plan
        self.study = study
        self.on_new = on_new
        self.known: dict[str, Exclusion] = {}
        for exclusion in stored(study):
            self._add(exclusion)

    def _add(self, exclusion: Exclusion) -> bool:
        if exclusion.key in self.known:
            return False
        self.known[exclusion.key] = exclusion
        self.on_new(exclusion)
        return True

    def learn(self, rec: TrialRecord) -> Exclusion | None:
        """Learn from a finished trial (of any process); returns a new exclusion, stored once."""
        exclusion = lesson(self.plan, rec)
        if exclusion is None or not self._add(exclusion):
            return None
        if exclusion.key not in self.study.user_attrs:
            self.study.set_user_attr(exclusion.key, exclusion.to_json())
        return exclusion

    def match(self, params: Mapping[str, Any]) -> Exclusion | None:
        return next((e for e in self.known.values() if e.matches(params)), None)

    def __len__(self) -> int:
        return len(self.known)
