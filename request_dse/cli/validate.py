"""``request-dse validate BUNDLE``: verify, re-run and compare a submission bundle."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("validate")
@click.argument("bundle", type=click.Path(path_type=Path))
@click.option("--target", help="Target to run on (default: the one the bundle names, from targets/).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="Relative slack on latency-derived metrics when it exceeds the recorded 95% interval.")
@click.option("--two-sided", is_flag=True, help="Also fail latency figures better than recorded beyond the slack.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the verdict.")
def command(bundle: Path, target: str | None, tolerance: float, two_sided: bool, quiet: bool) -> int:
    """Check BUNDLE (a folder, .tar.gz or .zip) and award artifact-evaluation badges.

    available: complete, every checksum matches, schema valid. functional: the artifact runs on
    the target (in a child process), produces the declared outputs and passes MLPerf's
    compliance tests TEST01 and TEST04 (run through LoadGen). reproduced: accuracy
    equals the recorded figure exactly and latency-derived metrics hold within the larger of
    their recorded 95% interval and --tolerance. Writes validation.json in the bundle folder
    (beside an archive: <name>.validation.json).

    Exit code 0 only for reproduced; 1 for available or functional; 2 for a rejected bundle
    (tampered, truncated, unsafe paths, schema violation).
    """
    from request_dse.submission.validate import validate

    echo = (lambda _: None) if quiet else click.echo
    verdict = validate(bundle, target=target, tolerance=tolerance, two_sided=two_sided, echo=echo)
    badges = ", ".join(verdict.badges) or "none"
    click.echo(f"{bundle}: {verdict.status} (badges: {badges})" + (f"; {verdict.reason}" if verdict.reason and
                                                                    verdict.status != "reproduced" else ""))
    return verdict.exit_code
