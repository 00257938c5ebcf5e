"""The zero-cost ``noop`` backend runs studies end to end, answering right as often as it is told."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.conftest import REPO


def test_noop_study_is_ok_and_accuracy_follows_quality(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from request_dse.search import records
    from request_dse.testing.studies import run_study

    target = yaml.safe_load((REPO / "targets" / "local-cpu.yaml").read_text())
    target.update({"target": "noop-cpu", "frameworks": ["noop"]})
    (tmp_path / "targets").mkdir()
    (tmp_path / "targets" / "noop-cpu.yaml").write_text(yaml.safe_dump(target))
    path = write_study("noop", target="noop-cpu", executor="inline", budget={"trials": 4},
                       frameworks={"noop": {"quality": [0, 9], "a": [0, 1]}},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                             "model.resolution": [4], "model.precision": ["fp32"]}},
                       sampler={"name": "grid", "seed": 0})
    search = run_study(path)
    done = [r for r in records(search.study) if r.measured]
    assert len(done) == 4 and {r.status for r in done} == {"ok"}
    for r in done:
        assert abs(r.metrics["accuracy_top1"] - (0.5 + 0.05 * r.params["noop.quality"])) < 0.01
        assert r.metrics["latency_p90_ms"] < 0.1
