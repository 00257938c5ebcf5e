"""``request-dse rpc tracker|server``: TVM's RPC tracker and server, bound to 127.0.0.1 by default.

They run ``python -m tvm.exec.rpc_tracker`` / ``rpc_server`` with safe defaults (TVM's own
default address is 0.0.0.0, every interface). A TVM RPC server runs whatever library a client
uploads to it: expose it only to the machine that builds (docs/rpc.md).
"""

from __future__ import annotations

import ipaddress
import os
import sys

import click

LOOPBACK = "127.0.0.1"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _warn_exposed(host: str, what: str) -> None:
    if not _is_loopback(host):
        click.echo(f"request-dse: warning: the {what} listens on {host}: anyone who can reach that port "
                   + ("can run code on this machine" if what == "server" else "can use or register devices")
                   + "; firewall it to the build host (docs/rpc.md)", err=True)


def _exec(module: str, args: list[str]) -> None:
    argv = [sys.executable, "-m", module, *args]
    click.echo("request-dse: " + " ".join(argv[1:]), err=True)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, argv)


@click.group("rpc")
def command() -> None:
    """Start a TVM RPC tracker or server for an `rpc` target (127.0.0.1 unless --host)."""


@command.command("tracker")
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=9190, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
def tracker(host: str, port: int) -> None:
    """The tracker: servers register with it under a key; request-dse asks it for a free one."""
    _warn_exposed(host, "tracker")
    _exec("tvm.exec.rpc_tracker", ["--host", host, "--port", str(port), "--port-end", str(port + 1)])


@command.command("server")
@click.option("--tracker", "tracker_addr", metavar="HOST:PORT", help="Register with this tracker.")
@click.option("--key", default="", help="The key to register under (a target's options.key).")
@click.option("--host", default=LOOPBACK, show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=9090, show_default=True, type=click.IntRange(1, 65535),
              help="First port to try; the next free one up to PORT+100 is used.")
def server(tracker_addr: str | None, key: str, host: str, port: int) -> None:
    """A server: runs the libraries uploaded to it on this machine's devices."""
    from request_dse.targets import parse_endpoint

    if tracker_addr:
        try:
            parse_endpoint(tracker_addr)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--tracker") from None
    _warn_exposed(host, "server")
    args = ["--host", host, "--port", str(port), "--port-end", str(min(port + 100, 65536)), "--key", key]
    if tracker_addr:
        args += ["--tracker", tracker_addr]
    _exec("tvm.exec.rpc_server", args)
