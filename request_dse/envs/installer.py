"""The installer: uv, run as a command. It resolves requirements into a lock and builds a virtual
environment from a lock; its own message explains every failure.

uv reads its usual configuration (``uv.toml``, ``UV_INDEX_URL``, ``UV_EXTRA_INDEX_URL``,
``UV_CACHE_DIR``, ...), so a mirror or a private index is configured the way uv users already
do. ``$REQUEST_DSE_UV`` names another uv binary. Only wheels are installed (``--no-build``): a
source distribution would run its build code at install time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from request_dse.envs.records import EnvError

ENV = "REQUEST_DSE_UV"
RESOLVE_TIMEOUT_S = 300.0
INSTALL_TIMEOUT_S = 1800.0
MAX_MESSAGE = 600
#: The package a registry check resolves (small, pure Python, on every index).
PROBE = "packaging"


def binary() -> str | None:
    """The uv executable: ``$REQUEST_DSE_UV``, the ``uv`` package's own, or ``uv`` on PATH."""
    named = os.environ.get(ENV)
    if named:
        return named
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def message(stderr: str) -> str:
    """uv's explanation in a line or two: the cause of an ``error:``, its hints."""
    lines = [re.sub(r"\s+", " ", line).strip() for line in stderr.splitlines()]
    lines = [line for line in lines if line and not line.startswith(("warning:", "Resolved ", "Prepared ",
                                                                     "Installed ", "Using ", "Creating "))]
    picked = [line for line in lines if line.startswith(("error:", "cause:", "hint:", "Caused by:"))] or lines[-2:]
    text = ": ".join(re.sub(r"^(error|cause|Caused by):\s*", "", line).rstrip(".:") for line in picked) or "no message"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."


def run(args: Sequence[str], *, timeout: float, stdin: str | None = None) -> str:
    """``uv ARGS``; its stdout, or EnvError with its message."""
    uv = binary()
    if uv is None:
        raise EnvError("the installer uv is not installed (pip install uv, or name it in $REQUEST_DSE_UV)")
    env = {**os.environ, "UV_NO_PROGRESS": "1", "NO_COLOR": "1"}
    env.pop("VIRTUAL_ENV", None)  # every command names its interpreter
    try:
        done = subprocess.run([uv, *args], input=stdin, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise EnvError(f"uv {args[0]} {args[1] if len(args) > 1 else ''} did not finish in {timeout:g} s") from None
    except OSError as exc:
        raise EnvError(f"the installer {uv} could not run: {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise EnvError(message(done.stderr))
    return done.stdout


def settings() -> dict[str, str]:
    """The installer's configuration in this process's environment variables (``UV_*``,
    ``$REQUEST_DSE_UV``): what a worker that creates an environment must see as well."""
    return {k: v for k, v in os.environ.items() if k.startswith("UV_") or k == ENV}


def configure(wanted: dict[str, str]) -> None:
    """Make this process's installer configuration ``wanted`` (a worker forked from a server
    started earlier may hold another)."""
    for key in [k for k in os.environ if k.startswith("UV_") or k == ENV]:
        del os.environ[key]
    os.environ.update(wanted)


def version() -> str | None:
    """``uv --version`` (None when it cannot run)."""
    try:
        return run(["--version"], timeout=30).strip().removeprefix("uv ").split(" ")[0]
    except EnvError:
        return None


def registry() -> tuple[bool, str]:
    """Whether the installer reaches its registry now (a fresh resolution of one small package,
    bypassing uv's cache), and what it said."""
    import time

    started = time.perf_counter()
    try:
        out = run(["pip", "compile", "-", "--python", sys.executable, "--no-header", "--no-annotate", "--quiet",
                   "--refresh-package", PROBE], stdin=f"{PROBE}\n", timeout=60)
    except EnvError as exc:
        return False, str(exc)
    pin = next((line for line in out.splitlines() if line.startswith(f"{PROBE}==")), out.strip())
    return True, f"resolved {pin} in {time.perf_counter() - started:.1f} s"


def resolve(requirements: Sequence[str], python: str = sys.executable,
            preferences: Mapping[str, str] | None = None) -> str:
    """The lock text (pins with hashes) of ``requirements`` for the interpreter ``python``.

    ``preferences`` (name -> version) are the versions to keep where the requirements allow
    them, as uv keeps those of an existing output file; the others get the newest that fits."""
    import tempfile

    args = ["pip", "compile", "-", "--python", python, "--generate-hashes", "--no-header", "--no-annotate",
            "--no-build", "--quiet"]
    with tempfile.TemporaryDirectory(prefix="request-dse-resolve-") as tmp:
        previous = Path(tmp) / "preferred.txt"
        if preferences:
            previous.write_text("".join(f"{name}=={version}\n" for name, version in sorted(preferences.items())))
            args += ["--output-file", str(previous)]
        out = run(args, stdin="\n".join(requirements) + "\n", timeout=RESOLVE_TIMEOUT_S)
        return previous.read_text() if preferences else out  # uv wrote its resolution over the preferred one


def create(lock_text: str, dest: Path, python: str = sys.executable) -> None:
    """A virtual environment at ``dest`` holding exactly the packages of ``lock_text``."""
    run(["venv", "--quiet", "--relocatable", "--python", python, str(dest)], timeout=120)
    lock_file = dest / "request-dse.lock"
    lock_file.write_text(lock_text)
    args = ["pip", "sync", "--quiet", "--python", str(dest / "bin" / "python"), "--no-build", str(lock_file)]
    if "--hash=" in lock_text:
        args.insert(2, "--require-hashes")
    run(args, timeout=INSTALL_TIMEOUT_S)
