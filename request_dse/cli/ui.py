"""``request-dse ui``: the MLflow UI on the embedded tracking store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click


@click.command("ui")
@click.option("--study", "study", type=click.Path(dir_okay=False, path_type=Path),
              help="Show the store this study tracks to (default: the mlflow/ folder of this project).")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; keep 127.0.0.1 unless the store may be shown to the network.")
def command(study: Path | None, port: int, host: str) -> int:
    """Start `mlflow ui` on the tracking store and print its URL (Ctrl-C stops it).

    The embedded store is mlflow/mlflow.db with artifacts in mlflow/artifacts/, in the
    nearest folder upwards that has an mlflow/ folder or is a git checkout. A study that
    tracks to a server prints that server's URL instead.
    """
    from request_dse.tracking import embedded_target, for_plan, project_root

    if study is not None:
        from request_dse.study import load_plan

        target = for_plan(load_plan(study))
        if not target.embedded:
            click.echo(f"study {study} tracks to {target.uri}; its UI: {target.ui_url()}")
            return 0
    else:
        target = embedded_target(project_root(), "")
    artifacts = target.artifact_root or Path("mlflow") / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("mlflow")
    cmd = [str(exe) if exe.exists() else "mlflow", "ui", "--backend-store-uri", target.uri,
           "--default-artifact-root", artifacts.resolve().as_uri(), "--host", host, "--port", str(port),
           "--workers", "1"]
    env = dict(os.environ)
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # the UI needs no job runner
    url = f"http://{host}:{port}"
    if not _is_loopback(host):
        click.echo(f"request-dse: warning: the MLflow UI listens on {host}:{port}: anyone who can reach that port "
                   "can read and change every experiment, run and artifact of this store; bind 127.0.0.1 and "
                   "use an SSH tunnel, or put it behind an authenticating proxy", err=True)
    click.echo(f"MLflow UI for {target.uri}: {url}  (Ctrl-C to stop)", err=False)
    sys.stdout.flush()
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
