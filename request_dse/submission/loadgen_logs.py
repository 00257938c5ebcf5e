"""LoadGen's logs in a bundle: ``measurements/loadgen/``, the reported session's folder as an MLPerf
result lays it out::

    measurements/loadgen/
      trial.json                  scenario, each session's figures, accuracy check, compliance outcome
      session.json                the reported session (the median one): settings, figures
      performance/run_1/          its mlperf_log_summary.txt, mlperf_log_detail.txt, mlperf_log_accuracy.json, user.conf
      search/qps_<QPS>/           its runs of the Server scenario's QPS search
      accuracy/                   the scored session's accuracy run: the same four, and accuracy.txt
      TEST01/, TEST04/            the scored session's compliance runs and their verify_*.txt (when they ran)

Nothing else of the trial's ``loadgen/`` folder (sessions set aside, other sessions) is copied.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

LOADGEN_DIR = "measurements/loadgen"
TRIAL_FILE = "trial.json"


#: What the scored session contributes (the reported one contributes the rest).
SCORED_PARTS = ("accuracy", "TEST01", "TEST04")


def _session(loadgen_dir: Path, name: Any) -> Path | None:
    folder = loadgen_dir / str(name)
    return folder if name and folder.parent == loadgen_dir and folder.is_dir() else None


def reported_session(loadgen_dir: Path) -> tuple[Path, Path | None] | None:
    """The reported session's folder of a trial's ``loadgen/`` folder, and the scored session's."""
    try:
        doc = json.loads((loadgen_dir / TRIAL_FILE).read_text())
    except (OSError, ValueError):
        return None
    reported = _session(loadgen_dir, doc.get("reported")) if isinstance(doc, dict) else None
    return (reported, _session(loadgen_dir, doc.get("scored"))) if reported else None


def copy_into_bundle(loadgen_dir: Path, bundle_dir: Path) -> bool:
    """Copy the reported session's logs into ``bundle_dir/measurements/loadgen``; False when the
    trial has none."""
    found = reported_session(loadgen_dir)
    if found is None:
        return False
    reported, scored = found
    dest = bundle_dir / LOADGEN_DIR
    shutil.copytree(reported, dest, symlinks=False,
                    ignore=shutil.ignore_patterns("mlperf_log_trace.json", *SCORED_PARTS))
    for part in SCORED_PARTS:
        if scored is not None and (scored / part).is_dir():
            shutil.copytree(scored / part, dest / part, symlinks=False)
    shutil.copyfile(loadgen_dir / TRIAL_FILE, dest / TRIAL_FILE)
    return True
