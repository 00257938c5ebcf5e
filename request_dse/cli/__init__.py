"""The ``request-dse`` command line.

Commands live in their own modules and import heavy libraries only when they run, so
``request-dse --help`` stays fast. Bad input ends with a one-line message and exit code 2;
a study that measured nothing ends with exit code 3; Ctrl-C with 130, SIGTERM (during
``tune``) with 143.
"""

from __future__ import annotations

import errno
import sys

import click

from request_dse import __version__
from request_dse.errors import NothingMeasured, UserError
from request_dse.text import escape


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="request-dse")
def cli() -> None:
    """Design-space exploration of model x framework x compiler flags x hardware.

    Searches for the candidates that are Pareto-optimal in quality and efficiency, measures
    each on the real target, tracks every trial, and emits reproducible submissions.
    """


# One module per command, each exposing ``command``; listed in the order of ``--help``.
COMMANDS = (
    "tune",
    "report",
    "export",
    "baseline",
    "validate",
    "space",
    "doctor",
    "rpc",
    "export_table",
    "scoreboard",
    "ui",
    "sync",
    "compare",
    "cache",
    "env",
    "serve",
    "admin",
    "submit",
)


def _register() -> None:
    import importlib

    for name in COMMANDS:
        cli.add_command(importlib.import_module(f"request_dse.cli.{name}").command)


_register()


#: A full, read-only or forbidden disk: the user's environment, not a bug of request-dse.
_ENVIRONMENT_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EFBIG}


_SQLITE_ERRORS = ("database or disk is full", "readonly database", "unable to open database file", "disk I/O error")


def _environment_error(exc: BaseException) -> str | None:
    """The one-line reason when ``exc`` (or what caused it) is a full or unwritable disk."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno in _ENVIRONMENT_ERRORS:
            return (f"{cause.filename}: " if cause.filename else "") + str(cause.strerror)
        if type(cause).__name__ == "OperationalError":  # sqlite3's, often wrapped by SQLAlchemy and Optuna
            text = str(cause).splitlines()[0] if str(cause) else ""
            for known in _SQLITE_ERRORS:
                if known in text:
                    return f"the study's SQLite storage: {known}" + (" (No space left on device)" if "full" in known else "")
        cause = cause.__cause__ or cause.__context__
    return None


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``request-dse`` console script."""
    try:
        code = cli.main(args=argv, prog_name="request-dse", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("request-dse: interrupted", err=True)
        code = 130
    except KeyboardInterrupt as stop:
        from request_dse.execute.signals import exit_code

        click.echo("\nrequest-dse: interrupted", err=True)
        code = exit_code(stop)
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except UserError as exc:
        click.echo(f"request-dse: error: {escape(str(exc))}", err=True)  # one line, whatever a name holds
        code = exc.exit_code
    except NothingMeasured as exc:
        click.echo(f"request-dse: {escape(str(exc))}", err=True)
        code = exc.exit_code
    except Exception as exc:  # noqa: BLE001 - only a full or read-only disk is handled here
        reason = _environment_error(exc)
        if reason is None:
            raise
        click.echo(f"request-dse: error: {escape(reason)}; what was recorded before is kept: "
                   "fix it and run the same command to continue", err=True)
        code = 2
    finally:
        _stop_environment_servers()
    sys.exit(code if isinstance(code, int) else 0)


def _stop_environment_servers() -> None:
    """The command is over: the worker servers of software environments it started go with it
    (at once, not at interpreter exit, so a caller running commands in-process keeps none)."""
    envs = sys.modules.get("request_dse.envs")
    if envs is not None:
        envs.close_all()
