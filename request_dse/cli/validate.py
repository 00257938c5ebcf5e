"""``request-dse validate BUNDLE...``: verify, re-run and compare submission bundles."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("validate")
@click.argument("bundles", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--target", help="Target to run on (default: the one each bundle names, from targets/).")
@click.option("--tolerance", type=click.FloatRange(min=0), default=0.25, show_default=True,
              help="Relative slack on latency-derived metrics when it exceeds the recorded 95% interval.")
@click.option("--span", "span_s", type=click.FloatRange(min=0, max=60), default=4.0, show_default=True,
              help="Seconds of wall time a bundle's sessions spread over at least (0: as the bundle says), so "
                   "that a slow spell of the host does not decide the figures.")
@click.option("--two-sided", is_flag=True, help="Also fail latency figures better than recorded beyond the slack.")
@click.option("--store", type=click.Path(dir_okay=False, path_type=Path),
              help="The validation store verdicts are appended to (default: $REQUEST_DSE_VALIDATIONS, else "
                   "~/.local/share/request-dse/validations.jsonl).")
@click.option("--quiet", "-q", is_flag=True, help="Print only one line per bundle and the summary.")
def command(bundles: tuple[Path, ...], target: str | None, tolerance: float, span_s: float, two_sided: bool,
            store: Path | None, quiet: bool) -> int:
    """Check each of BUNDLES and award artifact-evaluation badges.

    Each argument is a bundle (a folder, .tar.gz or .zip) or a folder searched for bundles.
    available: complete, every checksum matches, schema valid, the artifact's settings allowed
    by this installation's catalog of its backend. functional: the artifact runs on the target
    (in sandboxed child processes: bubblewrap where installed), produces the declared outputs
    and passes MLPerf's compliance tests TEST01 and TEST04 (run through LoadGen, where the
    target can run it). reproduced: accuracy equals the recorded figure exactly and
    latency-derived metrics hold within the larger of their recorded 95% interval and --tolerance.

    Each verdict is appended to the validation store (the only source of badges the scoreboard
    trusts) and copied to validation.json in the bundle folder (beside an archive:
    <name>.validation.json). Prints one line per bundle (a rejected one on stderr), then a
    summary.

    Exit code 0 only if every bundle is reproduced; 1 if some is only available or functional;
    2 if some is rejected (tampered, truncated, unsafe paths or settings, schema violation).
    """
    from request_dse.submission import find_bundles
    from request_dse.submission.store import ValidationStore
    from request_dse.submission.validate import Verdict, validate_all

    records = ValidationStore(store)
    echo = (lambda _: None) if quiet else click.echo
    def report(path: Path, verdict: Verdict) -> None:
        if verdict.exit_code == 2:
            click.echo(f"request-dse: error: {verdict.line(path)}", err=True)
        else:
            click.echo(verdict.line(path))

    verdicts = validate_all(find_bundles(bundles, keep_missing=True), target=target, tolerance=tolerance,
                            two_sided=two_sided, echo=echo, store=records, report=report, span_s=span_s)
    counts = {s: sum(v.status == s for v in verdicts) for s in ("reproduced", "functional", "available", "rejected")}
    click.echo(f"{len(verdicts)} bundle(s): " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
               + f"; verdicts recorded in {records.path}")
    return max((v.exit_code for v in verdicts), default=2)
