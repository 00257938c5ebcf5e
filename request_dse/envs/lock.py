"""The text of a lock: the installer's output brought to one canonical form, and a strict reader
for locks that come from someone else (a submission bundle).

Canonical form: one package per line, sorted by normalized name, ``name==version`` followed by
its ``--hash=sha256:...`` options, sorted. It is a valid requirements file, and nothing else is
accepted: no URLs, no index options, no editable or local paths, no environment markers.
"""

from __future__ import annotations

import re

from request_dse.envs.records import EnvError, Lock

#: Limits on a lock read from a bundle: it is hostile until proven otherwise.
MAX_BYTES = 512 * 1024
MAX_PACKAGES = 400
MAX_HASHES = 400

_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,98}[A-Za-z0-9])?"
_VERSION = r"[A-Za-z0-9][A-Za-z0-9.+!_-]{0,63}"
_PIN = re.compile(rf"^({_NAME})==({_VERSION})$")
_HASH = re.compile(r"^--hash=sha256:([0-9a-f]{64})$")


def normalize_name(name: str) -> str:
    """PEP 503: lower case, runs of ``-_.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _logical_lines(text: str) -> list[str]:
    """Lines with backslash continuations joined and comments removed."""
    out, current = [], ""
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            out.append(current.strip())
        current = ""
    if current.strip():
        out.append(current.strip())
    return out


def canonical(text: str, *, source: str = "lock") -> str:
    """The canonical text of a requirements file of pins (with or without hashes); EnvError
    naming the line for anything else."""
    if len(text.encode()) > MAX_BYTES:
        raise EnvError(f"{source}: larger than {MAX_BYTES // 1024} KiB")
    entries: dict[str, tuple[str, tuple[str, ...]]] = {}
    for line in _logical_lines(text):
        pin, *options = line.split()
        match = _PIN.match(pin)
        if match is None:
            raise EnvError(f"{source}: {line[:80]!r} is not an exact pin name==version")
        hashes = []
        for option in options:
            found = _HASH.match(option)
            if found is None:
                raise EnvError(f"{source}: {pin}: only --hash=sha256:<64 hex digits> may follow a pin; "
                               f"got {option[:80]!r}")
            hashes.append(found.group(1))
        if len(hashes) > MAX_HASHES:
            raise EnvError(f"{source}: {pin}: more than {MAX_HASHES} hashes")
        name = normalize_name(match.group(1))
        if name in entries:
            raise EnvError(f"{source}: {name} is pinned twice")
        entries[name] = (match.group(2), tuple(sorted(set(hashes))))
        if len(entries) > MAX_PACKAGES:
            raise EnvError(f"{source}: more than {MAX_PACKAGES} packages")
    if not entries:
        raise EnvError(f"{source}: pins no package")
    if len({bool(h) for _, h in entries.values()}) > 1:
        unhashed = sorted(n for n, (_, h) in entries.items() if not h)
        raise EnvError(f"{source}: either every pin has hashes or none has; {unhashed[0]} has none")
    return "\n".join(f"{name}=={version}" + "".join(f" --hash=sha256:{h}" for h in hashes)
                     for name, (version, hashes) in sorted(entries.items())) + "\n"


def read_lock(text: str, python: str, *, source: str = "lock", label: str = "",
              checks: tuple[str, ...] = ()) -> Lock:
    """A :class:`Lock` from requirements text, checked and brought to canonical form."""
    return Lock(canonical(text, source=source), python, label, checks)
