"""The ReQuEST@ASPLOS'18 table as a read-only track: every row kept, units converted, bad tables refused."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from request_dse.errors import ConfigError, UserError
from request_dse.scoreboard.historical import TRACK, provenance_summary, read_track


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_every_row_becomes_an_entry(asplos18_csv: Path) -> None:
    rows = _rows(asplos18_csv)
    track = read_track(asplos18_csv)
    assert track.rows == len(rows) == len(track.entries) == 69
    assert [e.id for e in track.entries] == [f"asplos18-{r['point']}" for r in rows]
    assert all(e.read_only and e.track == TRACK and not e.baseline for e in track.entries)
    assert {e.participant for e in track.entries} == {r["submission"] for r in rows}
    assert [e.source for e in track.entries] == [f"points.csv:{i}" for i in range(2, 71)]


def test_units_and_the_latency_rule(asplos18_csv: Path) -> None:
    rows = {f"asplos18-{r['point']}": r for r in _rows(asplos18_csv)}
    for e in read_track(asplos18_csv).entries:
        r = rows[e.id]
        assert e.value("throughput_ips") == pytest.approx(float(r["throughput_ips"]))  # every row has it
        if r["measuring_latency"] == "yes":
            assert e.value("latency_mean_ms") == pytest.approx(float(r["latency_s_mean"]) * 1e3)
            assert e.value("latency_min_ms") == pytest.approx(float(r["latency_s_min"]) * 1e3)
        else:  # batch > 1: amortised forward time, not a latency
            assert int(r["batch_size"]) > 1
            assert e.value("latency_mean_ms") is None and e.value("latency_min_ms") is None
        if r["cloud_usage_cost_usd_per_image"]:
            assert e.value("cost_usd_per_1m") == pytest.approx(float(r["cloud_usage_cost_usd_per_image"]) * 1e6)
        else:
            assert e.value("cost_usd_per_1m") is None
        assert e.value("platform_price_usd") == float(r["platform_price_usd"])
        assert e.value("platform_peak_power_w") == float(r["platform_peak_power_w"])


def test_missing_cells_are_missing_values_not_dropped_rows(asplos18_csv: Path) -> None:
    entries = read_track(asplos18_csv).entries
    iot = [e for e in entries if e.participant == "iot-farm"]
    assert len(iot) == 7  # no accuracy, no model size, no dataset: still there
    assert all(e.value("accuracy_top1") is None and e.value("model_size_bytes") is None for e in iot)
    assert all(e.value("latency_mean_ms") is not None for e in iot)
    assert {e.workload for e in iot} == {"(dataset not recorded)"}
    assert sum(e.value("latency_mean_ms") is None for e in entries) == 20


def test_provenance_comes_from_the_readme(asplos18_csv: Path) -> None:
    track = read_track(asplos18_csv)
    assert "## Caveats" in track.provenance and "CC BY 4.0" in track.provenance
    summary = provenance_summary(track.provenance)
    assert "ctuning/ck-request-asplos18-results" in summary and "eb7a0d22d6c5791eb37129245e2dd20135573afa" in summary


def _write(tmp_path: Path, source: Path, edit) -> Path:  # type: ignore[no-untyped-def]
    lines = source.read_text().splitlines(keepends=True)
    out = tmp_path / "points.csv"
    out.write_text("".join(edit(lines)))
    return out


def test_a_table_without_a_needed_column(asplos18_csv: Path, tmp_path: Path) -> None:
    bad = _write(tmp_path, asplos18_csv, lambda ls: [ls[0].replace("throughput_ips", "throughput")] + ls[1:])
    with pytest.raises(ConfigError) as err:
        read_track(bad)
    assert str(err.value).startswith(f"{bad}: header: lacks the column(s) throughput_ips")


def test_a_cell_that_is_not_a_number(asplos18_csv: Path, tmp_path: Path) -> None:
    lines = asplos18_csv.read_text().splitlines(keepends=True)
    k = next(i for i, line in enumerate(lines) if ",1166,20141212," in line)
    bad = _write(tmp_path, asplos18_csv, lambda ls: ls[:k] + [ls[k].replace(",1166,", ",about 1166,", 1)] + ls[k + 1:])
    with pytest.raises(ConfigError) as err:
        read_track(bad)
    assert str(err.value) == f"{bad}: row {k + 1}: platform_price_usd: must be a number or empty; got 'about 1166'"


def test_a_short_row_and_a_repeated_point(asplos18_csv: Path, tmp_path: Path) -> None:
    short = _write(tmp_path, asplos18_csv, lambda ls: ls[:5] + [ls[5].rsplit(",", 3)[0] + "\n"] + ls[6:])
    with pytest.raises(ConfigError, match=r"row 6: must have 39 cells like the header"):
        read_track(short)
    repeated = _write(tmp_path, asplos18_csv, lambda ls: ls + [ls[1]])
    with pytest.raises(ConfigError, match=r"row 71: point: must be unique"):
        read_track(repeated)


def test_missing_and_empty_tables(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="file not found"):
        read_track(tmp_path / "nope.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ConfigError, match="header: lacks the column"):
        read_track(empty)
