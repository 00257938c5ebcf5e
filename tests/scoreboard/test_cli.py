"""``request-dse scoreboard``: output, opening axes and one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path


def embedded(html: str) -> dict:  # type: ignore[type-arg]
    match = re.search(r'<script type="application/json" id="scoreboard-data">(.*?)</script>', html, re.S)
    assert match, "no embedded data"
    return json.loads(match.group(1))


def test_help(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("scoreboard", "--help")
    assert result.code == 0 and "--import-csv" in result.out and "Usage:" in result.out


def test_historical_track_with_chosen_axes(cli, asplos18_csv: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "deep" / "board.html"
    result = cli("scoreboard", "--import-csv", asplos18_csv, "-o", out, "--x", "throughput_ips", "--y",
                 "platform_peak_power_w", "--title", "ReQuEST 2018 <replay>")
    assert result.code == 0, result
    assert "69 entries" in result.out and "opening axes throughput_ips x platform_peak_power_w" in result.out
    html = out.read_text()
    assert "<title>ReQuEST 2018 &lt;replay&gt;</title>" in html
    data = embedded(html)
    assert data["defaults"] == {"x": "throughput_ips", "y": "platform_peak_power_w", "workload": "ImageNet"}
    assert [(w["name"], w["entries"]) for w in data["workloads"]] == [("ImageNet", 62), ("(dataset not recorded)", 7)]
    assert len(data["entries"]) == 69 and data["tracks"][0]["rows"] == 69
    assert data["axes"]["platform_peak_power_w"]["direction"] == "minimize"
    iot = [e for e in data["entries"] if e["participant"] == "iot-farm"]
    assert all(e["metrics"]["accuracy_top1"] is None for e in iot)  # missing, not dropped


def test_nothing_to_rank(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("scoreboard", "-o", tmp_path / "x.html")
    assert result.code == 2
    assert result.err.strip() == "request-dse: error: scoreboard: give at least one bundle directory or --import-csv FILE"
    assert not (tmp_path / "x.html").exists()


def test_bad_inputs_are_one_line_errors(cli, asplos18_csv: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    missing = cli("scoreboard", "--import-csv", tmp_path / "nope.csv", "-o", tmp_path / "x.html")
    assert missing.code == 2 and missing.err.strip() == f"request-dse: error: {tmp_path / 'nope.csv'}: file not found"
    unknown = cli("scoreboard", "--import-csv", asplos18_csv, "-o", tmp_path / "x.html", "--x", "latency_p90_ms")
    assert unknown.code == 2 and "--x latency_p90_ms: no entry reports this metric" in unknown.err
    no_dir = cli("scoreboard", tmp_path / "nowhere", "-o", tmp_path / "x.html")
    assert no_dir.code == 2 and "nowhere" in no_dir.err and "Traceback" not in no_dir.err
    assert not (tmp_path / "x.html").exists()
