"""``request-dse compare``: only studies of one workload, on confirmed figures where they exist."""

from __future__ import annotations

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"


def test_studies_of_other_workloads_are_refused_in_one_line(write_study, cli) -> None:  # type: ignore[no-untyped-def]
    digits = write_study("on-digits")
    mine = write_study("on-mine", workload={"name": "lin", "onnx": str(DATA / "linear.onnx"),
                                             "data": str(DATA / "linear.npz")},
                       objectives=[{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
                       space={"dimensions": {}})
    result = cli("compare", digits, mine)
    assert result.code == 2 and result.out == ""
    assert result.err.strip().splitlines() == ["request-dse: error: studies 'on-digits' and 'on-mine' measure different "
                                               "workloads (digits vs lin); their fronts cannot be compared"]


def test_confirmed_figures_decide_where_they_exist(write_study, cli) -> None:  # type: ignore[no-untyped-def]
    confirmed = write_study("confirmed", confirm={"enabled": True, "repeats": 2}, budget={"trials": 3})
    searched = write_study("searched", budget={"trials": 3}, sampler={"name": "random", "seed": 1})
    for path in (confirmed, searched):
        assert cli("tune", path, "-q").code == 0
    result = cli("compare", confirmed, searched)
    assert result.code == 0, result
    lines = result.out.splitlines()
    assert lines[0].startswith("confirmed: confirmed figures from fresh sessions (") and "points confirmed)" in lines[0]
    assert lines[1] == "searched: search figures (no confirmed figures stored: `request-dse export` confirms the front)"
