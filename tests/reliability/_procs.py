"""Run ``request-dse`` as a real process tree, and find what it leaves behind."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psutil

MARK = "REQUEST_DSE_TEST_MARK"


class Tree:
    """``request-dse`` started in its own session, with a mark in the environment of every descendant."""

    def __init__(self, args: list[str], tmpdir: Path, cwd: Path | None = None) -> None:
        self.mark = uuid.uuid4().hex
        self.started = time.time()  # wall clock, to compare with the times of files it writes
        tmpdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, MARK: self.mark, "TMPDIR": str(tmpdir)}
        self.proc = subprocess.Popen([sys.executable, "-m", "request_dse", *args], env=env, cwd=cwd,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL to the driver only: its workers must not outlive it
        self.proc.communicate()

    def wait(self, timeout: float) -> tuple[int, str, str]:
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, out, err


def marked(mark: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(MARK) == mark:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def wait_gone(mark: str, timeout: float = 10.0) -> list[psutil.Process]:
    """Processes (zombies included) of the tree still there after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = marked(mark)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)
