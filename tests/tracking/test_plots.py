"""The study's Pareto plot is readable: a latency front from 0.03 to 22 ms on a log axis, the
front highlighted with its staircase, and axes that name their metric, unit and direction."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from request_dse.tracking.plots import axis_label, log_scale, pareto_figure, pareto_html, pareto_png, staircase

NAMES = ["accuracy_top1", "latency_p90_ms"]
#: (accuracy, p90 latency in ms): a front that spans almost three decades, and two dominated trials.
TRIALS = [(0.90, 0.03), (0.95, 0.4), (0.97, 2.5), (0.99, 22.0), (0.93, 5.0), (0.85, 0.9)]


def _records() -> tuple[list[SimpleNamespace], list[SimpleNamespace]]:
    records = [SimpleNamespace(number=i, status="ok", params={"framework": "onnxruntime"},
                               metrics={"accuracy_top1": a, "latency_p90_ms": ms}) for i, (a, ms) in enumerate(TRIALS)]
    return records, records[:4]


def test_an_axis_is_logarithmic_when_it_spans_more_than_a_decade() -> None:
    assert log_scale([0.03, 22.0]) and not log_scale([0.85, 0.99]) and not log_scale([1.0, 10.0])
    assert not log_scale([0.0, 5.0]) and not log_scale([])


def test_axis_labels_name_unit_and_direction() -> None:
    assert axis_label("latency_p90_ms") == "latency_p90_ms [ms], lower is better"
    assert axis_label("accuracy_top1") == "accuracy_top1 [fraction], higher is better"


def test_the_staircase_turns_at_the_corner_worse_on_both_axes() -> None:
    points = [{"x": a, "y": ms, "front": True} for a, ms in TRIALS[:3]]
    assert staircase(points, *NAMES) == [(0.90, 0.03), (0.90, 0.4), (0.95, 0.4), (0.95, 2.5), (0.97, 2.5)]


def test_png_uses_a_log_latency_axis_and_highlights_the_front(tmp_path: Path) -> None:
    import matplotlib  # installed with mlflow; pareto_png returns None where it is not

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    records, front = _records()
    fig = pareto_figure(plt, "t", records, front, NAMES)
    try:
        ax = fig.axes[0]
        assert ax.get_yscale() == "log" and ax.get_xscale() == "linear"
        assert ax.get_ylabel() == "latency_p90_ms [ms], lower is better (log scale)"
        assert ax.get_xlabel() == "accuracy_top1 [fraction], higher is better"
        assert sorted(t.get_text() for t in ax.texts) == ["0", "1", "2", "3"]  # the front's trial numbers
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["other trials (2)", "Pareto front (4)"]
    finally:
        plt.close(fig)
    assert pareto_png(tmp_path / "p.png", "t", records, front, NAMES) == tmp_path / "p.png"
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"


def test_html_carries_the_same_axes(tmp_path: Path) -> None:
    records, front = _records()
    page = pareto_html(tmp_path / "p.html", "t", "s", records, front, NAMES).read_text()
    data = json.loads(page.split("const data = ", 1)[1].split(";\n", 1)[0])
    assert data["ylog"] is True and data["xlog"] is False
    assert data["ylabel"].startswith("latency_p90_ms [ms]") and len(data["stair"]) == 7
