"""A remote device reached over TVM RPC (through a tracker, or one server directly).

Builds cross-compile on this host for the device's TVM target and export the library with
the device's compiler; each measurement session then runs in a worker on this host that
connects to the device, uploads the library, times it on the device with TVM's
``time_evaluator`` and reads outputs back for the accuracy check
(:mod:`request_dse.targets._rpc_session`). Only TVM can run here: ONNX Runtime and PyTorch
have no way to upload a model to an RPC server, and say so.

Options (``options:`` in ``targets/<name>.yaml``):

* ``tracker: host:port`` and ``key`` -- ask a tracker for a free server registered under
  ``key``; or ``server: host:port`` (and the server's ``key``, if it was started with one).
  With neither, ``TVM_TRACKER_HOST`` / ``TVM_TRACKER_PORT`` name the tracker.
* ``device`` -- the remote device: ``cpu`` (default) or ``cuda``.
* ``tvm_target`` -- the device's TVM target in dict form (default: this host's LLVM target,
  right for loopback); e.g. ``{kind: llvm, mtriple: aarch64-linux-gnu, mcpu: cortex-a72}``.
* ``cross_compiler`` -- the compiler that links the library for the device (default: this
  host's ``g++``); e.g. ``aarch64-linux-gnu-g++``.
* ``cpu_features`` -- the device CPU's features (flag values that need others are left out
  of the space); default: none assumed.
* ``session_timeout_s`` -- how long the server keeps one session before killing it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from typing import Any

from request_dse.fields import Choice, Ctx, Custom, Field, Float, ListOf, MapOf, Record, Str
from request_dse.targets._base import SessionCall, SessionRequest, Target
from request_dse.targets._rpc_session import Connection, RemoteSessionRequest, remote_session
from request_dse.targets.tracker import Endpoint, parse_endpoint, probe, tracker_problem


def _endpoint(value: Any, ctx: Ctx) -> str:
    Str().check(value, ctx)
    try:
        parse_endpoint(value)
    except ValueError as exc:
        raise ctx.error(str(exc)) from None
    return value


_FIELDS = Record({
    "tracker": Field(Custom(_endpoint, "host:port of a TVM RPC tracker"), None),
    "server": Field(Custom(_endpoint, "host:port of a TVM RPC server"), None),
    "key": Field(Str(), None),
    "device": Field(Choice(("cpu", "cuda")), "cpu"),
    "tvm_target": Field(MapOf(Custom(lambda v, c: v, "a TVM target attribute")), None),
    "cross_compiler": Field(Str(), None),
    "cpu_features": Field(ListOf(Str(), unique=True), list),
    "session_timeout_s": Field(Float(low=0, low_exclusive=True), 600.0),
})


def _check_options(value: Any, ctx: Ctx) -> dict[str, Any]:
    options = _FIELDS.check(value, ctx)
    if options["tracker"] and options["server"]:
        raise ctx.at("server").error("give either a tracker or a server, not both")
    if options["tracker"] and not options["key"]:
        raise ctx.at("key").error("is required with a tracker (the key its servers registered under)")
    target = options["tvm_target"]
    if target is not None and not isinstance(target.get("kind"), str):
        raise ctx.at("tvm_target").at("kind").error("is required (a TVM target kind such as 'llvm' or 'cuda')")
    return options


class RpcTarget(Target):
    """A remote device behind a TVM RPC tracker or server; TVM artifacts only."""

    kind = "rpc"
    options = Custom(_check_options, "the RPC target's options (tracker/server, key, device, ...)")

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"remote", "gpu" if self.spec.options.get("device") == "cuda" else "cpu"})

    @property
    def connection(self) -> Connection:
        o = self.spec.options
        tracker = parse_endpoint(o["tracker"]) if o.get("tracker") else None
        server = parse_endpoint(o["server"]) if o.get("server") else None
        if tracker is None and server is None and os.environ.get("TVM_TRACKER_HOST"):
            tracker = Endpoint(os.environ["TVM_TRACKER_HOST"], int(os.environ.get("TVM_TRACKER_PORT", "9190")))
        return Connection(tracker, server, o.get("key") or "", o.get("device", "cpu"),
                          float(o.get("session_timeout_s", 600.0)))

    def unavailable(self) -> str | None:
        conn = self.connection
        if conn.tracker is not None:
            if not conn.key:
                return "the tracker needs a key (options.key)"
            return tracker_problem(conn.tracker, conn.key)
        if conn.server is not None:
            why = probe(conn.server)
            return f"the RPC server {why}" if why else None
        return "no tracker or server given (options.tracker / options.server, or TVM_TRACKER_HOST)"

    def protocol_unavailable(self, protocol: str) -> str | None:
        if protocol == "loadgen":
            return ("LoadGen drives the backend's session in the process that measures, and over TVM RPC every "
                    "call is a round trip from this host timed by the device's time_evaluator: LoadGen's "
                    "latencies would be the network's; use the request-dse protocol, or run LoadGen on the device")
        return None

    def cpu_features(self) -> frozenset[str]:
        return frozenset(self.spec.options.get("cpu_features") or ())

    def build_info(self) -> Mapping[str, Any]:
        o = self.spec.options
        default = {"kind": "cuda" if o.get("device") == "cuda" else "llvm"}
        tvm_target = dict(o["tvm_target"]) if o.get("tvm_target") else default
        return {**super().build_info(), "tvm_target": tvm_target,
                "cross_compiler": o.get("cross_compiler"), "device": o.get("device", "cpu"),
                "features": sorted(self.cpu_features())}

    def system(self) -> Mapping[str, Any]:
        conn = self.connection
        detected = {"system_name": f"{self.name} (TVM RPC, {conn.describe()})", "system_type": "edge",
                    "number_of_nodes": 1, "accelerators_per_node": 1 if conn.device != "cpu" else 0}
        return {**detected, **self.spec.system}

    def sessions(self, request: SessionRequest) -> list[SessionCall]:
        connection = self.connection
        return [SessionCall(remote_session, RemoteSessionRequest(
                    dataclasses.replace(request, score=request.score and i == 0, device=connection.device),
                    connection, i))
                for i in range(request.protocol.repeats)]
