"""No zombie, no orphan worker and no temporary file outlives a study, a crash or a hang."""

from __future__ import annotations

from pathlib import Path

import psutil
import pytest

from tests.reliability._procs import Tree, wait_gone

LIBRARY_FILES = {".ses"}
SERVICES = ("multiprocessing.forkserver", "multiprocessing.resource_tracker")  # ONNX Runtime's session id, written once per temp dir
CRASHES = {"faults": {"fault": ["segfault", "hang", "none"], "stage": ["build", "measure"]}}
QUICK = {"warmup_runs": 1, "min_runs": 5, "min_time_s": 0, "max_time_s": 1, "repeats": 1, "timeout_s": 15,
         "memory_limit_mb": 1500}


def _study(write_study):  # type: ignore[no-untyped-def]
    # a hang at build would cost the (generous) build timeout: hangs are measured here
    return write_study("hygiene", frameworks=CRASHES, sampler={"name": "grid"}, budget={"trials": 5},
                       space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                             "model.resolution": [4], "model.precision": ["fp32"]},
                              "constraints": ["not (faults.fault == 'hang' and faults.stage == 'build')"]},
                       measure=QUICK, build={"timeout_s": 120, "memory_limit_mb": 1500})


@pytest.mark.slow
def test_no_zombie_after_crashes_and_hangs(cli, write_study) -> None:  # type: ignore[no-untyped-def]
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    result = cli("tune", _study(write_study), "-q", "--no-export")
    assert result.code == 0, result
    children = [p for p in psutil.Process().children(recursive=True) if p.pid not in before]
    zombies = [p for p in children if p.status() == psutil.STATUS_ZOMBIE]
    assert not zombies
    # what may stay is the forkserver and multiprocessing's resource tracker (one each per driver,
    # reused by the next study): never a build or measurement worker
    workers = [p for p in children if not any(k in " ".join(p.cmdline()) for k in SERVICES)]
    assert not workers, [" ".join(p.cmdline())[:300] for p in workers]


@pytest.mark.slow
def test_nothing_left_after_a_study_as_a_process(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tmp = tmp_path / "tmpdir"
    tree = Tree(["tune", str(_study(write_study)), "-q", "--no-export"], tmp)
    code, _, err = tree.wait(600)
    assert code == 0, err
    assert not wait_gone(tree.mark)
    left = sorted(p.name for p in tmp.iterdir() if p.name not in LIBRARY_FILES)
    assert not left, f"temporary files left behind: {left}"


@pytest.mark.slow
def test_a_killed_atomic_write_is_swept_by_the_next_run(write_study, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A writer killed halfway leaves its temporary file beside the target; the next study removes it."""
    import os
    import subprocess
    import sys
    import time

    cache = Path(os.environ["REQUEST_DSE_CACHE"])
    target = cache / "models" / f"killed-{tmp_path.name}.onnx"
    code = ("import sys, time; from pathlib import Path; from request_dse.files import write_atomic; "
            "write_atomic(Path(sys.argv[1]), lambda tmp: (tmp.write_bytes(b''), time.sleep(600)))")
    writer = subprocess.Popen([sys.executable, "-c", code, str(target)])
    deadline = time.monotonic() + 60
    while not list(target.parent.glob(f".{target.name}.*")):
        assert writer.poll() is None and time.monotonic() < deadline, "the writer never started its file"
        time.sleep(0.05)
    writer.kill()
    writer.wait()
    [leftover] = list(target.parent.glob(f".{target.name}.*"))
    code_, _, err = Tree(["tune", str(write_study("sweep", budget={"trials": 1})), "-q", "--no-export"],
                         tmp_path / "tmpdir").wait(600)
    assert code_ == 0, err
    assert not leftover.exists(), f"{leftover.name} outlived the run after its writer's"
    assert not target.exists()
