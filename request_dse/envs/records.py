"""Software environments as records: what a candidate asks for, the lock it resolves to, and
the environment built from that lock.

    EnvSpec (requirements) --resolve--> Lock (exact versions and hashes) --create--> Environment

A :class:`Lock` is content-addressed: its :attr:`~Lock.id` is the digest of its text and the
Python it is for, so one environment serves every candidate, study and process that resolves
to the same set.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def python_tag() -> str:
    """The interpreter a lock is for: implementation, major.minor, machine and OS."""
    impl = sys.implementation.name
    return f"{impl}-{sys.version_info.major}.{sys.version_info.minor}-{platform.machine()}-{sys.platform}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


class EnvError(Exception):
    """An environment could not be resolved, created or started; the text says why (the
    installer's own message where it has one)."""


@dataclass(frozen=True)
class EnvSpec:
    """What a candidate's software is made of, before resolution: PEP 508 requirement lines."""

    label: str                        # "onnxruntime 1.20.1": how messages name it
    requirements: tuple[str, ...]     # sorted, e.g. ("filelock", "numpy", "onnxruntime==1.20.1", "pyyaml")
    python: str
    checks: tuple[str, ...] = ()      # modules that must import in the environment once created

    @property
    def key(self) -> str:
        """Identity of the request (what the resolution cache is keyed by)."""
        return _digest(self.python, *self.requirements)


@dataclass(frozen=True)
class Lock:
    """A resolved set: one ``name==version`` line per package, with its sha256 hashes when the
    installer resolved it (the current environment's own lock has versions only)."""

    text: str
    python: str
    label: str = field(default="", compare=False)
    checks: tuple[str, ...] = field(default=(), compare=False)

    @property
    def id(self) -> str:
        return _digest(self.python, self.text)

    def pins(self) -> dict[str, str]:
        """Package name -> exact version."""
        out = {}
        for line in self.text.splitlines():
            name, _, rest = line.partition("==")
            out[name] = rest.split(" ", 1)[0]
        return out

    @property
    def hashed(self) -> bool:
        return "--hash=" in self.text

    def summary(self) -> dict[str, Any]:
        """What a trial's record keeps of it (the hashes stay in the lock file)."""
        return {"id": self.id, "python": self.python, "label": self.label, "hashed": self.hashed,
                "packages": [f"{n}=={v}" for n, v in self.pins().items()]}


@dataclass(frozen=True)
class Environment:
    """An environment built from a lock: a virtual environment folder and its interpreter."""

    lock: Lock
    root: Path

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"


@dataclass(frozen=True)
class EnvInfo:
    """One environment of the cache, as ``request-dse env list`` shows it."""

    id: str
    root: Path
    label: str
    python: str
    packages: int
    size: int
    created: float
    used: float
    create_s: float
    failure: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)
