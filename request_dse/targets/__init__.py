"""Targets: where candidates are measured, and what that hardware is.

The contract is :class:`Target` (``_base.py``); each kind is one module of this package (or a
plug-in, see :mod:`request_dse.plugins`); each target is a file ``targets/<name>.yaml``
(:func:`load_target`).
"""

from __future__ import annotations

from request_dse.targets._base import MeasureResult, SessionCall, SessionRequest, SessionResult, Target, judge_looks
from request_dse.targets.registry import kinds, make_target, option_specs
from request_dse.targets.spec import PowerModel, TargetSpec, load_target
from request_dse.targets.tracker import Endpoint, parse_endpoint, probe, servers_for, tracker_problem, tracker_summary

__all__ = ["Endpoint", "MeasureResult", "PowerModel", "SessionCall", "SessionRequest", "SessionResult", "Target",
           "TargetSpec", "judge_looks", "kinds", "load_target", "make_target", "option_specs", "parse_endpoint", "probe",
           "servers_for", "tracker_problem", "tracker_summary"]
