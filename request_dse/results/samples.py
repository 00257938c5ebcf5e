"""Raw latency samples of a trial, kept beside it: ``samples.npz``, one array (ns) per session."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def save_samples(path: Path, sessions: Sequence[Any]) -> Path:
    """Raw samples (ns), one array per session: ``session_0``, ``session_1``, ..."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, **{f"session_{i}": s.samples_ns for i, s in enumerate(sessions)})
    return path


def load_samples(path: Path) -> list[np.ndarray]:
    with np.load(path) as data:
        return [data[k] for k in sorted(data.files, key=lambda k: int(k.split("_")[1]))]
