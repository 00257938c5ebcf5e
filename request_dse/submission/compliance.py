"""What validation adds for MLPerf LoadGen: the bundle's LoadGen settings read (and bounded) from
its untrusted ``measurement.protocol``, and the compliance tests' part of the ``functional`` badge.

Every validation runs MLPerf's TEST01 (accuracy in performance mode) and TEST04 (a repeated
sample no more than 10% faster: no caching of results) through LoadGen in its scored session,
whatever protocol the bundle was measured with; an artifact that fails either, or that they could
not check, is not functional.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, MutableMapping
from typing import Any

from request_dse.protocol import PROTOCOLS, SCENARIOS, LoadGenConfig, MeasureConfig

#: Keys of ``measurement.protocol`` read here rather than as plain numbers.
LOADGEN_KEYS = ("protocol", "scenario", "loadgen")
#: Limits on what an untrusted bundle's LoadGen settings may ask of the validating machine.
LOADGEN_CAPS = {"min_duration_ms": 60_000, "min_query_count": 1_000_000, "samples_per_query": 4096,
                "performance_sample_count": 1_000_000, "server_search_s": 120.0, "target_qps": 1e7,
                "target_latency_ms": 60_000.0}
SESSION_CAPS = {"session_tolerance": 1.0, "max_extra_sessions": 20, "settle_span_s": 30.0}
TESTS = ("TEST01", "TEST04")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0


def bundle_protocol(raw: Mapping[str, Any], protocol: MeasureConfig) -> tuple[MeasureConfig, list[str]]:
    """``protocol`` with the bundle's protocol name, scenario and LoadGen settings where they are
    valid (capped), and a note for everything ignored or capped."""
    notes: list[str] = []
    name = raw.get("protocol", "request-dse")
    if name not in PROTOCOLS:
        notes.append(f"protocol protocol={name!r} ignored (not one of {', '.join(PROTOCOLS)})")
        return protocol, notes
    if name != "loadgen":
        return protocol, notes
    scenario = raw.get("scenario", "single_stream")
    if scenario not in SCENARIOS:
        notes.append(f"protocol scenario={scenario!r} ignored (not one of {', '.join(SCENARIOS)})")
        scenario = "single_stream"
    settings = raw.get("loadgen") if isinstance(raw.get("loadgen"), Mapping) else {}
    values: dict[str, Any] = {}
    for f in dataclasses.fields(LoadGenConfig):
        value = settings.get(f.name)
        if value is None or f.name == "confirm_min_duration_ms":
            continue
        if not _number(value):
            notes.append(f"protocol loadgen.{f.name}={value!r} ignored (not a positive number)")
            continue
        cap = LOADGEN_CAPS.get(f.name)
        if cap is not None and value > cap:
            notes.append(f"protocol loadgen.{f.name}={value} capped at {cap}")
            value = cap
        values[f.name] = type(cap)(value) if cap is not None else value
    config = LoadGenConfig(**values)
    if scenario == "server" and config.target_latency_ms is None:
        notes.append("server scenario without loadgen.target_latency_ms: measured as single_stream")
        scenario = "single_stream"
    return dataclasses.replace(protocol, protocol="loadgen", scenario=scenario, loadgen=config), notes


def compliance_problem(info: Mapping[str, Any]) -> str | None:
    """Why the compliance tests of a validation run do not pass (a failed or missing test), or None."""
    outcome = (info.get("loadgen") or {}).get("compliance") or {}
    missing = [t for t in TESTS if t not in outcome]
    if missing:
        return f"{' and '.join(missing)} did not run"
    failed = [str(outcome[t].get("detail") or f"{t} failed") for t in TESTS if not outcome[t].get("passed")]
    return "; ".join(failed) or None


def sessions_note(info: Mapping[str, Any]) -> str | None:
    """One line on the sessions measured beyond the protocol's and the runs set aside as slow, or None."""
    report = info.get("sessions")
    if not report:
        return None
    if not report.get("settled"):
        return f"no {report.get('kept')} sessions agreed; every session kept"
    wins, discarded = report.get("windows") or {}, report.get("discarded", [])
    parts = [f"{report.get('measured')} sessions over {report.get('span_s', 0):.1f} s"]
    if wins.get("measured", 0) > wins.get("kept", 0):
        parts.append(f"{wins['measured'] - wins['kept']} of {wins['measured']} windows ({wins['runs_set_aside']} runs) "
                     "set aside as a slow spell")
    if discarded:
        parts.append(f"{len(discarded)} sessions set aside: " + "; ".join(d["why"] for d in discarded))
    return "; ".join(parts) if len(parts) > 1 else parts[0] + ", every run kept"


def not_applicable(target: Any) -> str | None:
    """Why LoadGen's compliance tests cannot run on ``target`` (a TVM RPC device, a replay), or None."""
    if target.replays:
        return "a replay target runs nothing"
    return target.protocol_unavailable("loadgen")


def record_compliance(info: Mapping[str, Any], verdict_info: MutableMapping[str, Any],
                      echo: Callable[[str], None], target: Any) -> str | None:
    """Put a validation run's compliance outcome (and any sessions set aside) into the verdict's
    info; returns why the compliance tests do not pass, or None (also where they cannot run)."""
    note = sessions_note(info)
    if note:
        verdict_info["sessions"] = info["sessions"]
        echo(note)
    why_not = not_applicable(target)
    if why_not:
        verdict_info["compliance"] = f"not run on target {target.name!r}: {why_not.split(':')[0]}"
        echo(f"MLPerf compliance tests {verdict_info['compliance']}")
        return None
    verdict_info["compliance"] = (info.get("loadgen") or {}).get("compliance")
    return compliance_problem(info)
