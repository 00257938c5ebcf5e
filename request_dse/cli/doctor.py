"""``request-dse doctor``: what can run here, and why not."""

from __future__ import annotations

import click


@click.command("doctor")
def command() -> int:
    """List backends and targets with their availability, library versions, CPU features."""
    from request_dse import sysinfo
    from request_dse.backends import BACKENDS, get_backend
    from request_dse.config import REPO_ROOT, load_target
    from request_dse.errors import UserError
    from request_dse.tables import table
    from request_dse.targets import make_target, option_specs

    targets = []
    for path in sorted((REPO_ROOT / "targets").glob("*.yaml")):
        try:
            spec = load_target(path, option_specs(), expected_name=path.stem)
            reason = make_target(spec).unavailable()
            targets.append((spec, reason))
        except UserError as exc:
            click.echo(f"target file {path.name}: {exc}")
    rows = [[spec.name, spec.kind, "available" if reason is None else "unavailable", reason or spec.description]
            for spec, reason in targets]
    click.echo(table(["target", "kind", "status", "detail"], rows))
    click.echo("")
    rows = []
    for name in BACKENDS:
        backend = get_backend(name)
        where = [spec.name for spec, reason in targets if reason is None and name in spec.frameworks
                 and backend.unavailable(spec) is None]
        why = {backend.unavailable(spec) for spec, reason in targets if reason is None} - {None}
        rows.append([name, backend.version() or "-", ", ".join(where) or "nowhere",
                     "" if where else "; ".join(sorted(why))])  # type: ignore[arg-type]
    click.echo(table(["backend", "version", "runs on", "why not"], rows))
    readable, how = sysinfo.energy_readable()
    features = sorted(f for f in sysinfo.cpu_features() if f.startswith(("avx", "fma", "sse4", "amx", "neon", "sve")))
    click.echo(f"\ncpu: {sysinfo.cpu_model()}, {len(sysinfo.usable_cores())} usable cores")
    click.echo(f"ISA features: {' '.join(features) or 'none detected'}")
    click.echo(f"energy counters: {'readable (' + how + ')' if readable else 'not readable: ' + how}; "
               "energy is estimated from each target's power model and labelled as an estimate")
    versions = sysinfo.versions()
    click.echo("libraries: " + ", ".join(f"{k} {v or 'missing'}" for k, v in versions.items()))
    return 0
