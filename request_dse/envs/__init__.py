"""Software environments: library versions as part of a candidate.

A candidate whose backend asks for a version (``frameworks: {onnxruntime: {version: [...]}}``) or
whose study pins shared libraries (``environment: {extra: {...}}``) is built and measured in an
environment of its own:

    spec_for(...) -> EnvSpec --resolve--> Lock --ensure--> Environment --spawn--> worker

* :func:`resolve` asks the installer (uv) for the exact versions and hashes (cached);
* :func:`ensure` creates the environment of a lock once, under a lock, in the shared cache
  (``$REQUEST_DSE_CACHE/envs/<lock id>``), and remembers a failed creation;
* :func:`spawn` starts a worker in its interpreter (through that environment's worker server).

A candidate without either runs in request-dse's own environment, exactly as before; its lock
(:func:`current_lock`) is recorded all the same. Nothing here imports beyond the standard
library at import time: workers in an environment import this package too.
"""

from __future__ import annotations

from request_dse.envs import installer
from request_dse.envs.client import EnvProcess, boot_command, close_all, spawn
from request_dse.envs.current import current_lock, unmet
from request_dse.envs.lock import normalize_name, read_lock
from request_dse.envs.records import EnvError, EnvInfo, Environment, EnvSpec, Lock, python_tag
from request_dse.envs.recreate import read_bounded, recreate
from request_dse.envs.resolve import ENGINE_REQUIRES, at_least, check_version, requirement, resolve, spec_for
from request_dse.envs.store import create, ensure, environments, failure, find, prune, remove
from request_dse.envs.worker import child_main, die_with_parent, dumps, loads, summarize_exception

__all__ = ["ENGINE_REQUIRES", "EnvError", "EnvInfo", "EnvProcess", "EnvSpec", "Environment", "Lock", "at_least",
           "boot_command", "check_version", "child_main", "close_all", "die_with_parent", "create", "current_lock", "dumps", "ensure", "environments",
           "failure", "find", "installer", "loads", "normalize_name", "prune", "python_tag", "read_bounded",
           "read_lock", "recreate", "remove", "requirement", "resolve", "spawn", "spec_for", "summarize_exception",
           "unmet"]
