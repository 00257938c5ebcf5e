"""The Ray executor runs a candidate in its own environment too: the Ray task that builds or
measures it creates the environment from the lock on its node (in that node's cache) and runs
the step in that environment's interpreter."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from request_dse.search import load_existing, records
from request_dse.study import load_plan
from request_dse.testing.index import local_index
from request_dse.testing.probe import DISTRIBUTION, MODULE
from tests.conftest import study_doc

pytestmark = pytest.mark.slow

PLUGINS = "request_dse.testing.faults,request_dse.testing.noop,request_dse.testing.probe"
MODEL = {"model.family": ["mobilenet"], "model.width": [0.25], "model.resolution": [8], "model.precision": ["fp32"]}


def test_ray_tasks_build_and_measure_in_the_candidates_environment(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUEST_DSE_PLUGINS", PLUGINS)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with local_index(tmp_path / "index", DISTRIBUTION, MODULE, ["1.0", "2.0"]) as index:
        monkeypatch.setenv("UV_EXTRA_INDEX_URL", index.url)  # the Ray nodes this study starts inherit it
        doc = study_doc("ray-envs", executor="ray", sampler={"name": "grid", "seed": 0}, budget={"trials": 4},
                        frameworks={"probe": {"version": ["1.0", "2.0"], "quality": [8, 9]}},
                        space={"dimensions": MODEL})
        path = tmp_path / "ray-envs.yaml"
        path.write_text(yaml.safe_dump(doc))
        # a process of its own: Ray keeps the first cluster's authentication token for the life of a
        # process, and this one starts a cluster of its own
        done = subprocess.run([sys.executable, "-m", "request_dse", "tune", str(path), "-q"], env=dict(os.environ),
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    plan = load_plan(path)
    recs = [r for r in records(load_existing(plan.storage_url, plan.name)) if r.measured]
    assert len(recs) == 4 and {r.status for r in recs} == {"ok"}
    for rec in recs:
        assert rec.info["request-dse-probe"] == rec.params["probe.version"]  # the build saw its own release
        assert rec.info["ray_build_node"] and rec.info["ray_measure_node"]  # and ran as Ray tasks
        assert rec.info["environment"]["label"] == f"probe {rec.params['probe.version']}"
