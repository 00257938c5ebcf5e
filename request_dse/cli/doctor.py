"""``request-dse doctor``: what can run here, and why not."""

from __future__ import annotations

from typing import Any

import click


def _targets() -> tuple[list[tuple[Any, str | None]], list[str]]:
    """Every target file of the repository with why it is unavailable (None: available)."""
    from request_dse.errors import UserError
    from request_dse.study import REPO_ROOT
    from request_dse.targets import load_target, make_target, option_specs

    targets, problems = [], []
    for path in sorted((REPO_ROOT / "targets").glob("*.yaml")):
        try:
            spec = load_target(path, option_specs(), expected_name=path.stem)
            targets.append((spec, make_target(spec).unavailable()))
        except UserError as exc:
            problems.append(f"target file {path.name}: {exc}")
    return targets, problems


def _backend_rows(targets: list[tuple[Any, str | None]]) -> tuple[list[list[str]], list[str]]:
    """Every registered backend, where it runs here, and why not elsewhere."""
    from request_dse.backends import get_backend, names
    from request_dse.study import compatible
    from request_dse.targets import make_target

    rows, notes = [], []
    for name in names():
        backend = get_backend(name)
        where = []
        for spec, target_reason in targets:
            if spec.frameworks is not None and name not in spec.frameworks:
                continue
            target = make_target(spec)
            try:
                reason = compatible(backend, target) or backend.unavailable(target.capabilities)
            except Exception as exc:  # noqa: BLE001 - doctor reports, never fails
                reason = f"checking failed: {exc.__class__.__name__}: {exc}"
            if reason is None and target_reason is None:
                where.append(spec.name)
            elif reason is not None and backend.runs_on & target.capabilities:
                notes.append(f"{name} on {spec.name}: {reason}")
        rows.append([name, backend.version() or "-", ", ".join(where) or "nowhere here"])
    return rows, notes


def _cuda_lines() -> list[str]:
    from request_dse.backends import package_version
    from request_dse.sysinfo import gpu

    found, reason = gpu.probe()
    lines = [f"GPU {g.index}: {g.name} ({g.arch}, {g.memory_mib / 1024:.0f} GiB, driver {g.driver})" for g in found]
    if not found:
        lines.append(f"GPU: none: {reason}")
    try:
        import tvm

        lines.append(f"tvm CUDA support: USE_CUDA={tvm.support.libinfo().get('USE_CUDA', '?')}"
                     f"{'' if not found else ', device visible: ' + str(bool(tvm.cuda(0).exist))}")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"tvm CUDA support: unknown ({exc.__class__.__name__}: {exc})")
    try:
        import onnxruntime as ort

        lines.append(f"onnxruntime execution providers: {', '.join(ort.get_available_providers())}")
    except Exception as exc:  # noqa: BLE001
        lines.append(f"onnxruntime execution providers: unknown ({exc.__class__.__name__})")
    torch_version = package_version("torch")
    if torch_version is None:
        lines.append("torch: not installed")
    elif "+cpu" in torch_version:
        lines.append(f"torch CUDA: none (torch {torch_version} is a CPU-only build)")
    else:
        try:
            import torch

            cuda = torch.version.cuda
            lines.append(f"torch CUDA: {cuda or 'none (CPU-only build)'}"
                         + (f", available: {torch.cuda.is_available()}" if cuda else ""))
        except Exception as exc:  # noqa: BLE001
            lines.append(f"torch CUDA: unknown ({exc.__class__.__name__})")
    return lines


@click.command("doctor")
def command() -> int:
    """List backends and targets with their availability and why not, the GPU and CUDA
    support of each library, CPU ISA features, energy counters and library versions."""
    from request_dse import sysinfo
    from request_dse.sysinfo import energy
    from request_dse.text import table

    targets, problems = _targets()
    rows = [[spec.name, spec.kind, "available" if reason is None else "unavailable", reason or spec.description]
            for spec, reason in targets]
    click.echo(table(["target", "kind", "status", "detail"], rows))
    for problem in problems:
        click.echo(problem)
    click.echo("")
    backend_rows, notes = _backend_rows(targets)
    click.echo(table(["backend", "version", "runs on"], backend_rows))
    if notes:
        click.echo("\nunavailable backend/target pairs:")
        for note in notes:
            click.echo(f"  {note}")
    if any(spec.kind == "rpc" for spec, _ in targets):
        click.echo("\nrpc targets: a TVM RPC server runs any library uploaded to it; bind it to 127.0.0.1 or "
                   "firewall it to the build host (docs/rpc.md)")
    click.echo("\naccelerators:")
    for line in _cuda_lines():
        click.echo(f"  {line}")
    features = sorted(f for f in sysinfo.cpu_features()
                      if f.startswith(("avx", "fma", "sse4", "amx", "neon", "sve", "asimd", "f16c", "bmi", "vnni")))
    click.echo(f"\ncpu: {sysinfo.cpu_model()}, {len(sysinfo.usable_cores())} usable cores")
    click.echo(f"ISA features: {' '.join(features) or 'none detected'}")
    click.echo("energy counters:")
    for name, ok, how in energy.readable():
        click.echo(f"  {name}: {'readable (' + how + ')' if ok else 'not readable: ' + how}")
    if not any(ok for _, ok, _ in energy.readable()):
        click.echo("  energy is estimated from each target's power model and labelled as an estimate")
    versions = sysinfo.versions()
    click.echo("libraries: " + ", ".join(f"{k} {v or 'missing'}" for k, v in versions.items()))
    for line in _environment_lines():
        click.echo(line)
    return 0


def _environment_lines() -> list[str]:
    """Whether library versions can be explored here: the installer, and its registry."""
    from request_dse.envs import installer

    uv = installer.binary()
    version = installer.version() if uv else None
    if version is None:
        return [f"installer: uv {'does not run (' + uv + ')' if uv else 'not installed'}: library versions "
                "cannot be explored (pip install uv)"]
    reachable, detail = installer.registry()
    return [f"installer: uv {version} ({uv})",
            f"registry: {'reachable' if reachable else 'not reachable'}: {detail}"
            + ("" if reachable else " (versions already resolved and environments already built still work)")]
