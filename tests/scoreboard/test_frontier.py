"""Frontier on chosen axes with missing values, and hypervolume per participant on a shared reference."""

from __future__ import annotations

from pathlib import Path

import moocore
import numpy as np
import pytest

from request_dse import results as pareto
from request_dse.errors import UserError
from request_dse.scoreboard import Entry, axes_for, compute, known_axes
from request_dse.scoreboard.historical import read_track


def entry(id: str, participant: str = "p", **metrics: float | None) -> Entry:
    return Entry(id=id, participant=participant, study="s", track="live", workload="w", model="m", target="t",
                 framework="f", precision="fp32", baseline=False, badge="", metrics=metrics, source=id)


AXES = known_axes()
ACC_LAT = [AXES["latency_p90_ms"], AXES["accuracy_top1"]]


def test_a_missing_axis_excludes_an_entry_from_that_frontier_only() -> None:
    entries = [
        entry("a", latency_p90_ms=1.0, accuracy_top1=0.80, throughput_ips=900.0),
        entry("b", latency_p90_ms=2.0, accuracy_top1=0.90, throughput_ips=400.0),
        entry("c", latency_p90_ms=3.0, accuracy_top1=0.85, throughput_ips=300.0),  # dominated by b
        entry("fast", latency_p90_ms=0.5, throughput_ips=2000.0),                  # no accuracy
        entry("nan", latency_p90_ms=float("nan"), accuracy_top1=0.99),              # not a value
    ]
    f = compute(entries, ACC_LAT)
    assert f.considered == ("a", "b", "c") and set(f.front) == {"a", "b"}
    assert f.excluded == {"fast": ("accuracy_top1",), "nan": ("latency_p90_ms",)}
    # on the axes it has, the entry without accuracy competes (and wins)
    g = compute(entries, [AXES["latency_p90_ms"], AXES["throughput_ips"]])
    assert g.front == ("fast",) and g.excluded == {"nan": ("latency_p90_ms", "throughput_ips")}


def test_nothing_comparable_on_the_axes() -> None:
    f = compute([entry("x", throughput_ips=1.0)], ACC_LAT)
    assert f.front == () and f.hypervolume == {"p": 0.0} and f.total_hypervolume == 0.0
    assert f.excluded == {"x": ("latency_p90_ms", "accuracy_top1")}


@pytest.mark.parametrize("seed", range(3))
def test_participants_share_one_reference_point(seed: int) -> None:
    rng = np.random.default_rng(seed)
    entries = [entry(f"e{i}", f"team{i % 3}", latency_p90_ms=float(rng.uniform(1, 50)),
                     accuracy_top1=float(rng.uniform(0.3, 0.99))) for i in range(30)]
    f = compute(entries, ACC_LAT)
    points = np.array([[e.value("latency_p90_ms"), e.value("accuracy_top1")] for e in entries])
    reference = pareto.reference_point(points, ["minimize", "maximize"])
    assert f.reference == pytest.approx(reference)
    for team in ("team0", "team1", "team2"):
        own = np.array([[e.value("latency_p90_ms"), -e.value("accuracy_top1")]  # type: ignore[operator]
                        for e in entries if e.participant == team])
        expected = moocore.hypervolume(own, ref=[reference[0], -reference[1]])
        assert f.hypervolume[team] == pytest.approx(expected)
    assert f.total_hypervolume >= max(f.hypervolume.values())


def test_historical_rows_without_accuracy_stay_out_of_accuracy_frontiers(asplos18_csv: Path) -> None:
    entries = read_track(asplos18_csv).entries
    iot = {e.id for e in entries if e.participant == "iot-farm"}
    f = compute(entries, [AXES["latency_mean_ms"], AXES["accuracy_top1"]])
    assert len(f.considered) + len(f.excluded) == 69
    assert not iot & set(f.considered) and all(f.excluded[i] == ("accuracy_top1",) for i in iot)
    g = compute(entries, [AXES["latency_mean_ms"], AXES["platform_peak_power_w"]])
    assert iot <= set(g.considered)  # they have latency and power


def test_a_metric_of_unknown_direction() -> None:
    assert axes_for(["novel"], {"novel": "maximize"})["novel"].direction == "maximize"
    with pytest.raises(UserError, match="metric 'novel': no direction is known"):
        axes_for(["novel"])
