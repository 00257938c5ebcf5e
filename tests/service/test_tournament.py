"""The tournament file: the shipped example loads; each bad value is one line naming the file, the
field and the rule (exit code 2), from ``serve`` and ``admin`` alike."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from request_dse.service import load_tournament
from tests.service.conftest import EXAMPLE, run_cli

TRACK = {"name": "t", "workload": "digits", "target": "local-cpu",
         "metrics": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}]}


def test_the_example_tournament_loads_with_embedded_defaults() -> None:
    t = load_tournament(EXAMPLE)
    assert t.name == "example" and [tr.name for tr in t.tracks] == ["digits-cpu"]
    assert t.database == f"sqlite:///{EXAMPLE.parent.resolve() / '.request-dse' / 'example' / 'tournament.db'}"
    assert t.store == EXAMPLE.parent.resolve() / ".request-dse" / "example" / "bundles"
    track = t.tracks[0]
    assert track.target_file.name == "local-cpu.yaml" and track.target_file.is_file()
    assert [str(r) for r in track.rules] == ["accuracy_top1 >= 0.5"]
    assert track.closed_reason(dt.datetime.now(dt.UTC)) is None
    assert t.validation.executor == "local" and t.validation.sandbox == "auto" and t.limits.upload_bytes == 64 << 20


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "no tracks": ({"tracks": []}, "tracks: must have at least 1 item"),
    "misspelled key": ({"trakcs": [TRACK]}, "trakcs: unknown key (allowed: "),
    "unknown metric": ({"tracks": [{**TRACK, "metrics": [{"maximize": "acc"}]}]},
                       "tracks[0].metrics[0].maximize: must be a known metric"),
    "no such target": ({"tracks": [{**TRACK, "target": "no-such"}]}, "tracks[0].target: no target named 'no-such'"),
    "closes before it opens": ({"opens": "2026-06-01T00:00:00Z", "closes": "2026-01-01T00:00:00Z", "tracks": [TRACK]},
                               "closes: must be after opens (2026-06-01T00:00:00Z)"),
    "a date that is not one": ({"opens": "next monday", "tracks": [TRACK]}, "opens: must be a date and time"),
    "two tracks of one name": ({"tracks": [TRACK, TRACK]}, "tracks[1].name: duplicates an earlier track: 't'"),
    "reference of another metric": ({"tracks": [{**TRACK, "reference": {"throughput_ips": 1.0}}]},
                                    "tracks[0].reference.throughput_ips: is not one of the track's metrics"),
    "bad rule": ({"tracks": [{**TRACK, "rules": ["accuracy_top1 >> 3"]}]}, "tracks[0].rules[0]: invalid rule"),
    "ray address without ray": ({"validation": {"ray_address": "auto"}, "tracks": [TRACK]},
                                "validation.ray_address: is used only with executor: ray"),
    "unknown sandbox": ({"validation": {"sandbox": "docker"}, "tracks": [TRACK]},
                        "validation.sandbox: must be one of 'auto', 'bubblewrap', 'process'"),
    "upload limit zero": ({"limits": {"upload_mb": 0}, "tracks": [TRACK]}, "limits.upload_mb: must be a number > 0"),
}


@pytest.mark.parametrize("case", sorted(BAD))
@pytest.mark.parametrize("command", [("serve",), ("admin", "list")])
def test_a_bad_tournament_file_is_one_line_and_exit_code_2(tmp_path: Path, case: str,
                                                           command: tuple[str, ...]) -> None:
    doc, rule = BAD[case]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"name": "bad", **doc}))
    first, *rest = command
    result = run_cli(first, path, *rest)
    assert result.code == 2 and result.out == "", result
    assert result.err == f"request-dse: error: {path}: {rule}" + result.err.split(rule, 1)[1], result
    assert result.err.count("\n") == 1 and "Traceback" not in result.err
    assert not (tmp_path / ".request-dse").exists(), "a bad file must not create the tournament's state"


def test_a_missing_tournament_file(tmp_path: Path) -> None:
    result = run_cli("serve", tmp_path / "none.yaml")
    expected = f"request-dse: error: {tmp_path / 'none.yaml'}: no such tournament file"
    assert result.code == 2 and result.err.strip() == expected


def test_a_track_window_refuses_before_and_after(tmp_path: Path) -> None:
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump({"name": "w", "opens": "2030-01-01T00:00:00Z",
                                    "tracks": [TRACK, {**TRACK, "name": "old", "opens": "2020-01-01",
                                                       "closes": "2021-01-01T12:00:00+02:00"}]}))
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    new, old = load_tournament(path).tracks
    assert new.closed_reason(now) == "track 't' opens at 2030-01-01T00:00:00Z"
    assert old.closed_reason(now) == "track 'old' closed at 2021-01-01T10:00:00Z"
    assert old.closed_reason(dt.datetime(2020, 6, 1, tzinfo=dt.UTC)) is None
