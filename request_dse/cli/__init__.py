"""The ``request-dse`` command line.

Commands live in their own modules and import heavy libraries only when they run, so
``request-dse --help`` stays fast. Bad input ends with a one-line message and exit code 2;
a study that measured nothing ends with exit code 3; Ctrl-C with 130.
"""

from __future__ import annotations

import sys

import click

from request_dse import __version__
from request_dse.errors import NothingMeasured, UserError


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
)


def _register() -> None:
    import importlib

    for name in COMMANDS:
        cli.add_command(importlib.import_module(f"request_dse.cli.{name}").command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``request-dse`` console script."""
    try:
        code = cli.main(args=argv, prog_name="request-dse", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("request-dse: interrupted", err=True)
        code = 130
    except KeyboardInterrupt:
        click.echo("\nrequest-dse: interrupted", err=True)
        code = 130
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except UserError as exc:
        click.echo(f"request-dse: error: {exc}", err=True)
        code = exc.exit_code
    except NothingMeasured as exc:
        click.echo(f"request-dse: {exc}", err=True)
        code = exc.exit_code
    sys.exit(code if isinstance(code, int) else 0)
