"""``request-dse baseline``: default-flags entries of every available backend on the zoo."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("baseline")
@click.option("--workload", required=True, help="Zoo workload (digits).")
@click.option("--target", default="local-cpu", show_default=True, help="Target to measure on (targets/<name>.yaml).")
@click.option("--backend", "backends", multiple=True, help="Only this backend (repeatable; default: every available one).")
@click.option("--model", "models", multiple=True, help="Only zoo models matching this pattern, e.g. 'mobilenet-*-r8' (repeatable).")
@click.option("--precision", "precisions", multiple=True, type=click.Choice(["fp32", "int8"]),
              help="Only this precision (repeatable; default: every one).")
@click.option("--repeats", type=click.IntRange(1, 100), help="Measurement sessions per candidate (default 3).")
@click.option("--min-runs", type=click.IntRange(min=1), help="Timed runs per session at least (default 64).")
@click.option("--min-time-s", type=click.FloatRange(min=0), help="Seconds of timed runs per session at least (default 0.2).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder of the bundles (default: submissions/baseline-<workload>-<target>/ here).")
@click.option("--executor", type=click.Choice(["inline", "local", "ray"]), help="Executor (default: local).")
@click.option("--fresh", is_flag=True, help="Forget what an earlier run of this command measured; measure everything again.")
def command(workload: str, target: str, backends: tuple[str, ...], models: tuple[str, ...],
            precisions: tuple[str, ...], repeats: int | None, min_runs: int | None, min_time_s: float | None,
            out: Path | None, executor: str | None, fresh: bool) -> int:
    """Measure each available backend with its default flags (ONNX Runtime defaults, TVM's
    default pipeline untuned, PyTorch eager) on each zoo model and precision, and write every
    success as a submission bundle marked `baseline`.

    \b
    Uses:   targets/<target>.yaml, backends/<name>.yaml (each backend's default flags),
            the zoo models, the shared cache ($REQUEST_DSE_CACHE).
    Writes: one bundle per success, <backend>-<model>-<precision>/, in --out, replacing a
            bundle of that name (other files in --out are left alone); its work files and what
            it measured so far in .request-dse/baseline-<workload>-<target>/ here.

    It prints how many candidates it will measure before it starts (every backend x model x
    precision: 175 on this project's defaults, 12-13 minutes on two idle cores; --backend,
    --model and --precision narrow it), then one line per candidate and a progress line with
    an ETA. What is measured is kept as it comes in: after Ctrl-C, the same command continues
    where it stopped (--fresh starts over). Exit code 3 when no baseline succeeded.
    """
    from request_dse.cli._progress import BatchProgress
    from request_dse.submission.baseline import run_baselines
    from request_dse.text import headline, plural

    measure = {k: v for k, v in (("repeats", repeats), ("min_runs", min_runs), ("min_time_s", min_time_s))
               if v is not None}
    try:
        run = run_baselines(workload, target, backends=backends, models=models, precisions=precisions,
                            measure=measure, out=out, executor=executor, echo=click.echo, progress=BatchProgress(),
                            fresh=fresh)
    except KeyboardInterrupt:
        click.echo("\nrequest-dse: interrupted; what was measured is kept: run the same command to continue",
                   err=True)
        return 130
    for label, status, error in run.failed:
        click.echo(f"failed: {label}: {status}: {headline(error, 160)}")
    if run.bundles:
        click.echo(f"{plural(len(run.bundles), 'baseline bundle')} in {run.bundles[0].parent}")
    return 0 if run.bundles else 3
