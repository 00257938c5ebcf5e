"""Security of a real server: tokens (missing, forged, revoked), roles checked server-side, another
participant's entries, rate limits, hostile uploads refused with their reason and nothing
stored, and text from bundles escaped on the pages. Validation is off here (``workers: 0``):
badges stay ``pending``."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import tarfile
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from request_dse.submission.checksums import write_checksums
from request_dse.testing.service import ServerProcess, http
from tests.service.conftest import EXAMPLE, add_token, archive, run_cli, store_files, variant, write_tournament

CLOSED_TRACK = {"name": "replay-closed", "workload": "digits", "target": "replay", "closes": "2020-01-01T00:00:00Z",
                "metrics": [{"maximize": "accuracy_top1"}, {"minimize": "latency_p90_ms"}]}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, tiny_bundles: list[Path]) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("security")
    example_tracks = yaml.safe_load(EXAMPLE.read_text())["tracks"]
    tournament = write_tournament(root, validation={"workers": 0}, tracks=[*example_tracks, CLOSED_TRACK],
                                  limits={"upload_mb": 1, "expanded_mb": 2, "members": 200, "requests_per_minute": 40})
    tokens = {name: add_token(tournament, name, role) for name, role in
              (("alice", "participant"), ("bob", "participant"), ("org", "organizer"))}
    server = ServerProcess(tournament).start()
    first = archive(tiny_bundles[0], root)
    reply = upload(server, tokens["alice"], first.read_bytes())
    assert reply.status == 201, (reply.status, reply.body)
    try:
        yield {"root": root, "tournament": tournament, "server": server, "tokens": tokens,
               "entry": reply.json()["entry"],
               "archive": first}
    finally:
        server.stop()


def upload(server: ServerProcess, token: str | None, body: bytes, **query: str) -> Any:
    suffix = ("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""
    return http("POST", f"{server.url}/api/v1/submissions{suffix}", token=token, body=body,
                headers={"Content-Type": "application/gzip"})


def entry_ids(server: ServerProcess) -> list[str]:
    return [e["id"] for e in server.get("/api/v1/entries")]


def test_reads_are_public_and_items_carry_the_documented_fields(world: dict[str, Any]) -> None:
    items = world["server"].get("/api/v1/entries")
    assert [e["id"] for e in items] == [world["entry"]]
    assert {"id", "participant", "track", "badge"} <= set(items[0])
    assert items[0]["participant"] == "alice" and items[0]["track"] == "digits-cpu" and items[0]["badge"] == "pending"
    spec = world["server"].get("/api/v1/openapi.json")
    assert {"/api/v1/entries", "/api/v1/tracks", "/api/v1/submissions", "/api/v1/jobs"} <= set(spec["paths"])
    assert "post" in spec["paths"]["/api/v1/submissions"]


@pytest.mark.parametrize("header", [None, "Bearer rdse_" + "A" * 43, "Bearer ", "Basic YWxpY2U6eA==", "Bearer x" * 200])
def test_writes_need_a_valid_token(world: dict[str, Any], header: str | None) -> None:
    server = world["server"]
    before = store_files(world["tournament"])
    reply = http("POST", f"{server.url}/api/v1/submissions", body=world["archive"].read_bytes(),
                 headers={"Authorization": header} if header else {})
    assert reply.status == 401 and reply.headers.get("www-authenticate") == "Bearer", reply
    assert ("needs a token" if header is None else "unknown or revoked token") in reply.detail
    for path in ("/api/v1/submissions", "/api/v1/jobs", "/api/v1/whoami"):
        assert http("GET", server.url + path, headers={"Authorization": header} if header else {}).status == 401
    assert http("DELETE", f"{server.url}/api/v1/entries/{world['entry']}").status == 401
    assert store_files(world["tournament"]) == before and entry_ids(server) == [world["entry"]]


def test_a_revoked_token_stops_working_at_once(world: dict[str, Any]) -> None:
    carol = add_token(world["tournament"], "carol")
    assert world["server"].get("/api/v1/whoami", carol) == {"name": "carol", "role": "participant"}
    assert run_cli("admin", world["tournament"], "token", "revoke", "carol").code == 0
    reply = http("GET", world["server"].url + "/api/v1/whoami", token=carol)
    assert reply.status == 401 and reply.detail == "unknown or revoked token"


def test_participants_see_and_change_only_their_own(world: dict[str, Any], tiny_bundles: list[Path]) -> None:
    server, tokens, entry = world["server"], world["tokens"], world["entry"]
    assert [s["entry"] for s in server.get("/api/v1/submissions", tokens["alice"])] == [entry]
    assert server.get("/api/v1/submissions", tokens["bob"]) == []
    assert server.get("/api/v1/jobs", tokens["bob"]) == []
    assert [j["entry"] for j in server.get("/api/v1/jobs", tokens["alice"])] == [entry]
    assert entry in {s["entry"] for s in server.get("/api/v1/submissions", tokens["org"])}
    # another participant's entry: not bob's to withdraw; revalidation is for organizers (checked on the server)
    reply = http("DELETE", f"{server.url}/api/v1/entries/{entry}", token=tokens["bob"])
    assert reply.status == 403 and "another participant" in reply.detail
    reply = http("POST", f"{server.url}/api/v1/entries/{entry}/revalidate", token=tokens["bob"])
    assert reply.status == 403 and "organizers only" in reply.detail
    assert http("POST", f"{server.url}/api/v1/entries/{entry}/revalidate", token=tokens["org"]).status == 200
    # the same bundle sent by bob is alice's entry: refused, nothing new
    reply = upload(server, tokens["bob"], world["archive"].read_bytes())
    assert reply.status == 409 and entry in reply.detail
    assert entry_ids(server) == [entry]
    # alice withdraws her entry and sends it again: one entry, back on the board
    assert http("DELETE", f"{server.url}/api/v1/entries/{entry}", token=tokens["alice"]).status == 200
    assert entry_ids(server) == []
    again = upload(server, tokens["alice"], world["archive"].read_bytes())
    assert again.status == 200 and again.json()["duplicate"] and again.json()["entry"] == entry
    assert entry_ids(server) == [entry]


def test_requests_per_token_are_rate_limited(world: dict[str, Any]) -> None:
    flood = add_token(world["tournament"], "flood")
    codes = [http("GET", world["server"].url + "/api/v1/whoami", token=flood).status for _ in range(45)]
    assert codes[:40] == [200] * 40 or codes.count(200) >= 38, codes
    limited = http("GET", world["server"].url + "/api/v1/whoami", token=flood)
    assert limited.status == 429 and int(limited.headers["retry-after"]) >= 1 and "too many" in limited.detail
    assert world["server"].get("/api/v1/whoami", world["tokens"]["bob"])["name"] == "bob"  # others are not slowed


def _tar(members: list[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def _bomb() -> bytes:
    """A gzip'd tar whose one member is 64 MiB of zeros (about 64 KiB on the wire)."""
    buf = io.BytesIO()
    info = tarfile.TarInfo("bundle/artifact/model.onnx")
    info.size = 64 << 20
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9) as gz:
        gz.write(info.tobuf())
        zeros = bytes(1 << 20)
        for _ in range(64):
            gz.write(zeros)
        gz.write(bytes(1024))
    return buf.getvalue()


def _bundle_edit(tiny: Path, root: Path, tag: str, edit: Callable[[dict[str, Any], dict[str, Any]], None]) -> bytes:
    return archive(variant(tiny, root, tag, edit), root).read_bytes()


def _tampered(tiny: Path, root: Path) -> bytes:
    out = root / "tampered"
    shutil.copytree(tiny, out)
    (out / "README.md").write_text("changed after the bundle was made\n")
    return archive(out, root).read_bytes()


def _link_out(tiny: Path, root: Path) -> bytes:
    out = root / "linked"
    shutil.copytree(tiny, out)
    os.symlink("/etc/passwd", out / "data" / "passwd")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(out, arcname="linked")
    return buf.getvalue()


def _zip(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(name, data)
    return buf.getvalue()


def _device() -> bytes:
    info = tarfile.TarInfo("bundle/dev")
    info.type = tarfile.CHRTYPE
    info.devmajor, info.devminor = 1, 3
    return _tar([(info, None)])


def _deep_json() -> bytes:
    return _tar([_file("bundle/submission.json", b"[" * 100_000 + b"]" * 100_000), _file("bundle/system.json", b"{}")])


HOSTILE: dict[str, tuple[Callable[[Path, Path], bytes], dict[str, str], int, str]] = {
    "empty": (lambda t, r: b"", {}, 400, "empty upload"),
    "not an archive": (lambda t, r: b"<html>hello</html>" * 50, {}, 415, "not a bundle archive"),
    "over the upload limit": (lambda t, r: gzip.compress(os.urandom(1_300_000), 0), {}, 413, "larger than the limit"),
    "decompression bomb": (lambda t, r: _bomb(), {}, 413, "expands beyond 2 MiB"),
    "too many members": (lambda t, r: _tar([_file(f"b/{i}.txt", b"x") for i in range(250)]), {}, 413,
                         "more than 200 members"),
    "path climbing out": (lambda t, r: _tar([_file("../\x1b[32mreproduced\nx", b"x")]), {}, 422, "traversal"),
    "absolute path": (lambda t, r: _tar([_file("/etc/cron.d/x", b"x")]), {}, 422, "absolute path"),
    "link out of the bundle": (_link_out, {}, 422, "link_escape"),
    "device file": (lambda t, r: _device(), {}, 422, "device or fifo"),
    "zip climbing out": (lambda t, r: _zip("../../evil.py", b"print(1)"), {}, 422, "traversal"),
    "JSON nested 100000 deep": (lambda t, r: _deep_json(), {}, 422, "nested 100000 deep"),
    "tampered file": (_tampered, {}, 422, "tampered"),
    "schema violation": (lambda t, r: _bundle_edit(t, r, "schema", lambda d, s: d.pop("metrics")), {}, 422, "schema"),
    "no such track": (lambda t, r: archive(t, r).read_bytes(), {"track": "nope"}, 404, "no track named 'nope'"),
    "no track for its workload": (lambda t, r: _bundle_edit(t, r, "wl",
                                                            lambda d, s: d["workload"].update(name="cifar")),
                                  {}, 422, "no track of tournament example takes workload 'cifar'"),
    "breaks the track's rules": (lambda t, r: _bundle_edit(t, r, "acc", lambda d, s: d["metrics"]["accuracy_top1"]
                                                           .update(value=0.25, low=0.25, high=0.25)),
                                 {}, 422, "requires accuracy_top1 >= 0.5; the bundle claims accuracy_top1 = 0.25"),
    "a metric that is not a number": (lambda t, r: _bundle_edit(t, r, "nan", lambda d, s: d["metrics"]["latency_p90_ms"]
                                                                .update(value=float("nan"))),
                                      {}, 422, "metrics/latency_p90_ms: nan is not a finite number"),
    "closed track": (lambda t, r: _bundle_edit(t, r, "replay", lambda d, s: d["target"].update(name="replay")),
                     {}, 403, "track 'replay-closed' closed at 2020-01-01T00:00:00Z"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_uploads_are_refused_with_their_reason_and_nothing_is_stored(
        world: dict[str, Any], tiny_bundles: list[Path], tmp_path: Path, case: str) -> None:
    make, query, status, reason = HOSTILE[case]
    body = make(tiny_bundles[-1], tmp_path)
    server, tournament = world["server"], world["tournament"]
    before, entries_before = store_files(tournament), entry_ids(server)
    started = time.monotonic()
    reply = upload(server, world["tokens"]["org"], body, **query)
    assert reply.status == status and reason in reply.detail, (reply.status, reply.detail)
    assert not re.search(r"[\x00-\x1f\x7f]", reply.detail), "control characters reach the client"
    assert time.monotonic() - started < 30
    assert store_files(tournament) == before and entry_ids(server) == entries_before


def test_submit_refuses_a_bundle_over_the_servers_limit_before_sending_it(world: dict[str, Any],
                                                                           tiny_bundles: list[Path],
                                                                           tmp_path: Path) -> None:
    big = variant(tiny_bundles[-1], tmp_path, "big")
    (big / "measurements" / "extra.bin").write_bytes(os.urandom(1_500_000))
    write_checksums(big)
    before = store_files(world["tournament"])
    sent = run_cli("submit", big, "--server", world["server"].url, "--token", world["tokens"]["bob"])
    assert sent.code == 2, sent
    assert re.match(rf"{re.escape(str(big))}: refused before sending: 1\.\d MiB, more than the server's upload limit "
                    r"of 1 MiB\n", sent.out), sent.out
    assert store_files(world["tournament"]) == before


def test_text_from_bundles_is_escaped_on_every_page(world: dict[str, Any], tiny_bundles: list[Path],
                                                    tmp_path: Path) -> None:
    def hostile(doc: dict[str, Any], system: dict[str, Any]) -> None:
        doc["label"] = "<script>alert(1)</script>"
        system["system_name"] = '<img src=x onerror="alert(2)">'

    server = world["server"]
    reply = upload(server, world["tokens"]["bob"], _bundle_edit(tiny_bundles[-1], tmp_path, "xss", hostile))
    assert reply.status == 201, reply.body
    entry = reply.json()["entry"]
    board = http("GET", server.url + "/")
    page = http("GET", f"{server.url}/entries/{entry}")
    for reply in (board, page):
        text = reply.body.decode()
        assert reply.status == 200 and "<script>alert" not in text and "<img src=x" not in text
        policy = reply.headers["content-security-policy"]
        assert "script-src 'sha256-" in policy and "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert "\\u003cscript\\u003ealert(1)" in board.body.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.body.decode()
    assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in page.body.decode()
    assert json.loads(http("GET", f"{server.url}/api/v1/entries/{entry}").body)["label"].endswith(
        "<script>alert(1)</script>")
