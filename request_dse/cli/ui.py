"""``request-dse ui``: the MLflow UI on the embedded tracking store."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

#: Seconds the MLflow UI may take to answer (about 5 s on an idle machine, more under load).
READY_TIMEOUT_S = 120.0


@click.command("ui")
@click.option("--study", "study", type=click.Path(dir_okay=False, path_type=Path),
              help="Show the store this study tracks to (default: the project's mlflow/ folder, or $MLFLOW_TRACKING_URI).")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True, help="Port to serve on.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; keep 127.0.0.1 unless the store may be shown to the network.")
def command(study: Path | None, port: int, host: str) -> int:
    """Serve the MLflow UI on the tracking store, print its URL once it answers, and stop it
    with Ctrl-C (or `kill`: the server stops with this command).

    \b
    Uses:   mlflow/mlflow.db with artifacts in mlflow/artifacts/, in the nearest folder upwards
            from here that has an mlflow/ folder or is a git checkout; --study uses the store
            that study tracks to; $MLFLOW_TRACKING_URI, when set, is used instead.
    Writes: nothing of its own (the UI reads the store; it creates no store where there is none).

    A study that tracks to a server prints that server's URL instead. A port in use, or no
    store where it looked, is a one-line error with exit code 2.
    """
    from request_dse.cli._serve import Served, check_port, stop_on_termination
    from request_dse.errors import UserError
    from request_dse.tracking import for_plan, resolve

    if study is not None:
        from request_dse.study import load_plan

        target = for_plan(load_plan(study))
        whose = f"study {study} tracks to"
    else:
        target = resolve(None, None, "")
        whose = "the tracking store is"
    if target.remote:
        click.echo(f"{whose} {target.uri}; its UI: {target.ui_url()}")
        return 0
    database = _sqlite_file(target.uri)
    if database is not None and not database.is_file():
        if target.embedded:
            start = Path.cwd() if study is None else study.resolve().parent
            raise UserError(f"no tracking store: looked for {database} (mlflow/ in the nearest folder upwards from "
                            f"{start} that has one or is a git checkout); `request-dse tune` creates it when a "
                            "study tracks its trials: run `ui` in that study's project, or pass --study STUDY.yaml, "
                            "or set MLFLOW_TRACKING_URI")
        raise UserError(f"no tracking store at {database} ({target.uri}); `request-dse tune` creates it when a "
                        "study tracks its trials")
    check_port(host, port, "another `request-dse ui` or MLflow server may be running: pass --port N")
    artifacts = target.artifact_root or Path("mlflow") / "artifacts"
    artifacts.mkdir(parents=True, exist_ok=True)
    exe = Path(sys.executable).with_name("mlflow")
    cmd = [str(exe) if exe.exists() else "mlflow", "ui", "--backend-store-uri", target.uri,
           "--default-artifact-root", artifacts.resolve().as_uri(), "--host", host, "--port", str(port),
           "--workers", "1"]
    env = dict(os.environ)
    env.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")  # the UI needs no job runner
    if not _is_loopback(host):
        click.echo(f"request-dse: warning: the MLflow UI listens on {host}:{port}: anyone who can reach that port "
                   "can read and change every experiment, run and artifact of this store; bind 127.0.0.1 and "
                   "use an SSH tunnel, or put it behind an authenticating proxy", err=True)
    click.echo(f"starting the MLflow UI for {target.uri} ...", err=True)
    stop_on_termination()
    server = Served(cmd, env)
    try:
        server.wait_ready(host, port, READY_TIMEOUT_S)
        click.echo(f"MLflow UI for {target.uri}: http://{host}:{port}  (Ctrl-C to stop)")
        sys.stdout.flush()
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        server.stop()


def _sqlite_file(uri: str) -> Path | None:
    return Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
