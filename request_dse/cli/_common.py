"""Options and helpers shared by commands."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

study_argument = click.argument("study", type=click.Path(dir_okay=False, path_type=Path))


def ensure_work_dir(path: Path) -> None:
    """Create the study's work dir, or fail with one clear line."""
    from request_dse.errors import UserError

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path, prefix=".write-test-"):  # a name of its own: runs may share the dir
            pass
    except OSError as exc:
        raise UserError(f"{path}: the study's work dir is not writable ({exc.strerror or exc})") from None
