"""Hostile submission bundles for the reliability suite: a real bundle, then what a participant
could do to it before sending it -- each edit re-signed (``checksums.sha256`` rewritten), so
only the validator's own rules stand in the way.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from request_dse.submission.checksums import write_checksums


def small_study(name: str = "h") -> dict[str, object]:
    return {"name": name, "workload": "digits", "target": "local-cpu", "frameworks": ["onnxruntime"],
            "space": {"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                     "model.resolution": [4], "model.precision": ["fp32"]}},
            "objectives": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}],
            "budget": {"trials": 1}, "tracking": {"enabled": False}, "confirm": {"enabled": False},
            "measure": {"warmup_runs": 1, "min_runs": 10, "min_time_s": 0.0, "max_time_s": 1.0, "repeats": 1}}


class Kit:
    """A real ONNX Runtime bundle of a one-trial digits study, made once in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._bundle: Path | None = None

    def bundle(self) -> Path:
        if self._bundle is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            study = self.folder / "kit.yaml"
            study.write_text(yaml.safe_dump(small_study("kit")))
            env = {**os.environ, "REQUEST_DSE_CACHE": str(self.folder / "cache")}
            done = subprocess.run([sys.executable, "-m", "request_dse", "tune", str(study), "-q"], env=env,
                                  cwd=self.folder, capture_output=True, text=True, timeout=600)
            found = sorted(p for p in (self.folder / "submissions" / "kit").glob("*/") if p.is_dir())
            if done.returncode or not found:
                raise RuntimeError(f"the kit's study failed: {done.stderr[-2000:]}")
            self._bundle = found[0]
        return self._bundle

    def copy(self, dest: Path) -> Path:
        """A fresh copy of the bundle at ``dest`` (its folder name kept)."""
        out = dest / self.bundle().name
        shutil.copytree(self.bundle(), out)
        return out


def edit_json(path: Path, change: Callable[[Any], Any]) -> None:
    doc = json.loads(path.read_text())
    path.write_text(json.dumps(change(doc) or doc))


def resign(root: Path) -> Path:
    """Rewrite the checksums after an edit, as a participant can."""
    write_checksums(root)
    return root


def add_setting(root: Path, setting: dict[str, Any]) -> Path:
    """An ONNX Runtime setting added to ``artifact/session.json``."""
    edit_json(root / "artifact" / "session.json", lambda d: d["settings"].append(setting))
    return resign(root)


def as_backend(root: Path, name: str, artifact: dict[str, Any]) -> Path:
    """The bundle claiming another backend, with that backend's settings files in its artifact."""
    edit_json(root / "submission.json", lambda d: d["framework"].update(name=name))
    for file, doc in artifact.items():
        (root / "artifact" / file).write_text(json.dumps(doc))
    return resign(root)


def deep_json(levels: int = 100_000) -> str:
    return "[" * levels + "]" * levels


def tar_bomb(path: Path, gigabytes: float) -> Path:
    """A .tar.gz of a bundle folder holding one file of zeros (a few MB on disk per GB)."""
    size = int(gigabytes * (1 << 30))
    with tarfile.open(path, "w:gz", compresslevel=1) as tar:
        info = tarfile.TarInfo("entry/data/zeros.bin")
        info.size = size
        tar.addfile(info, _Zeros(size))
    return path


def tar_of_many(path: Path, members: int) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for i in range(members):
            tar.addfile(tarfile.TarInfo(f"entry/f{i}"), io.BytesIO(b""))
    return path


def zip_bomb(path: Path, gigabytes: float) -> Path:
    """A .zip whose members declare ``gigabytes`` in all (each the same compressed block of zeros)."""
    block = 64 << 20
    data = bytes(block)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(max(1, int(gigabytes * (1 << 30)) // block)):
            z.writestr(f"entry/data/z{i}.bin", data)
    return path


class _Zeros(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(len(buffer), self.left)
        buffer[:n] = bytes(n)
        self.left -= n
        return n
