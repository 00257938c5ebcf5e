"""Bundles from anyone: tampered, truncated, traversal-carrying and malformed ones are each
rejected with their own message (exit code 2) before any artifact is loaded; artifacts run only
in a child process."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest

from request_dse.submission import BundleError, read_bundle
from request_dse.submission.archive import make_archive
from request_dse.submission.checksums import write_checksums
from tests.submission.conftest import run_cli, write


def rejected(path: Path, reason: str, *needles: str) -> str:
    result = run_cli("validate", path)
    assert result.code == 2, result
    assert f"rejected ({reason})" in result.err, result
    for needle in needles:
        assert needle in result.err, result
    assert "running" not in result.out  # nothing was loaded or run
    with pytest.raises(BundleError) as info:
        read_bundle(path)
    assert info.value.reason == reason
    return result.err


def test_tampered_file(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    model = root / "artifact" / "model.onnx"
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    rejected(root, "tampered", "artifact/model.onnx", "changed after the bundle was made")
    verdict = json.loads((root / "validation.json").read_text())
    assert verdict["status"] == "rejected" and verdict["badges"] == []


def test_missing_file(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    (root / "measurements" / "samples.npz").unlink()
    rejected(root, "missing_file", "measurements/samples.npz: listed in checksums.sha256 but missing")


def test_file_not_covered_by_the_checksums(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    (root / "artifact" / "payload.so").write_bytes(b"\x7fELF")
    rejected(root, "uncovered_file", "artifact/payload.so: not covered")


def test_missing_checksums_file(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    (root / "checksums.sha256").unlink()
    rejected(root, "no_checksums", "checksums.sha256 is missing")


def test_schema_violation(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    doc = json.loads((root / "submission.json").read_text())
    doc["kind"] = "winner"
    doc["metrics"]["latency_p90_ms"]["value"] = "fast"
    (root / "submission.json").write_text(json.dumps(doc))
    write_checksums(root)  # a well-formed bundle whose document breaks the schema
    rejected(root, "schema", "submission.json: kind: 'winner' is not one of", "(schema submission-1.json)",
             "(and 1 more)")


def test_system_description_violation(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    system = json.loads((root / "system.json").read_text())
    del system["host_processor_model_name"]
    (root / "system.json").write_text(json.dumps(system))
    write_checksums(root)
    rejected(root, "schema", "system.json: (top level): 'host_processor_model_name' is a required property")


def test_invalid_json(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    (root / "submission.json").write_text("{not json")
    write_checksums(root)
    rejected(root, "bad_json", "submission.json: not valid JSON")


def test_link_out_of_a_bundle_folder(bundle_copy) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    (root / "artifact" / "model.onnx").unlink()
    os.symlink("/etc/passwd", root / "artifact" / "model.onnx")
    rejected(root, "link_escape", "artifact/model.onnx is a link to /etc/passwd outside the bundle")


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_good_archives_are_read(bundle_copy, tmp_path: Path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    root = bundle_copy()
    archive = make_archive(root, tmp_path / f"entry{suffix}")
    assert read_bundle(archive).digest == read_bundle(root).digest


@pytest.mark.parametrize("suffix", [".tar.gz", ".zip"])
def test_truncated_archive(bundle_copy, tmp_path: Path, suffix: str) -> None:  # type: ignore[no-untyped-def]
    archive = make_archive(bundle_copy(), tmp_path / f"entry{suffix}")
    data = archive.read_bytes()
    archive.write_bytes(data[: len(data) * 2 // 3])
    rejected(archive, "truncated", "truncated or corrupt archive")
    assert json.loads((tmp_path / "entry.validation.json").read_text())["status"] == "rejected"


def _tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes = b"x") -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


def _link(name: str, target: str) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info, None


@pytest.mark.parametrize("member, reason, needle", [
    ("entry/../../evil.txt", "traversal", "climbs out of the bundle folder with '..'"),
    ("../evil.txt", "traversal", "climbs out of the bundle folder with '..'"),
    ("/tmp/request-dse-evil.txt", "absolute_path", "has an absolute path"),
])
def test_tar_paths_out_of_the_folder(tmp_path: Path, member: str, reason: str, needle: str) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", [_file("entry/submission.json", b"{}"), _file(member)])
    rejected(archive, reason, needle, repr(member))
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/request-dse-evil.txt").exists()


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../etc/passwd", "../.."])
def test_tar_links_out_of_the_folder(tmp_path: Path, target: str) -> None:
    archive = _tar(tmp_path / "evil.tar.gz", [_file("entry/submission.json", b"{}"),
                                              _link("entry/artifact/model.onnx", target)])
    rejected(archive, "link_escape", "link 'entry/artifact/model.onnx' points outside the bundle")


def test_tar_hard_link_out_of_the_folder(tmp_path: Path) -> None:
    info = tarfile.TarInfo("entry/artifact/model.onnx")
    info.type, info.linkname = tarfile.LNKTYPE, "../outside"
    archive = _tar(tmp_path / "evil.tar.gz", [_file("entry/submission.json", b"{}"), (info, None)])
    rejected(archive, "traversal", "'../outside'")


def test_tar_special_files(tmp_path: Path) -> None:
    info = tarfile.TarInfo("entry/fifo")
    info.type = tarfile.FIFOTYPE
    archive = _tar(tmp_path / "evil.tar.gz", [_file("entry/submission.json", b"{}"), (info, None)])
    rejected(archive, "special_file", "'entry/fifo' is not a regular file or folder")


@pytest.mark.parametrize("member, reason", [("entry/../../evil.txt", "traversal"), ("/evil.txt", "absolute_path")])
def test_zip_paths_out_of_the_folder(tmp_path: Path, member: str, reason: str) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("entry/submission.json", "{}")
        z.writestr(zipfile.ZipInfo(member), "x")
    rejected(archive, reason, repr(member))


def test_zip_link_out_of_the_folder(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("entry/submission.json", "{}")
        link = zipfile.ZipInfo("entry/artifact/model.onnx")
        link.external_attr = (0o120777 << 16)
        z.writestr(link, "../../../etc/passwd")
    rejected(archive, "link_escape", "points outside the bundle")


def test_not_a_bundle(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("hello")
    rejected(tmp_path / "x.txt", "not_a_bundle", "expected a bundle folder")
    rejected(tmp_path, "not_a_bundle", "no submission.json")


def test_artifacts_run_only_in_a_child_process(tmp_path: Path) -> None:
    """A well-formed bundle whose artifact segfaults when loaded: the validator survives, says why
    (available, not functional, exit code 1)."""
    study = write(tmp_path, "crashy", frameworks={"faults": {"fault": ["none"]}}, budget={"trials": 1},
                  space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                        "model.resolution": [4], "model.precision": ["fp32"]}})
    assert run_cli("tune", study, "-q").code == 0
    root = next(p for p in (tmp_path / "submissions" / "crashy").iterdir() if p.is_dir())
    (root / "artifact" / "fault.json").write_text(json.dumps({"fault": "segfault", "stage": "measure"}))
    write_checksums(root)
    result = run_cli("validate", root)
    assert result.code == 1, result
    assert "available (badges: available); the artifact did not run: crashed" in result.out
    assert "SIGSEGV" in result.out
    verdict = json.loads((root / "validation.json").read_text())
    assert verdict["status"] == "available" and verdict["badges"] == ["available"]


def test_archive_extraction_never_writes_outside(tmp_path: Path) -> None:
    """Even a member that slips through name checks cannot reach outside through a folder link."""
    archive = _tar(tmp_path / "evil.tar.gz", [_link("entry/dir", "."), _file("entry/dir/submission.json", b"{}")])
    with pytest.raises(BundleError):
        read_bundle(archive)
    assert not any(p.name == "submission.json" for p in tmp_path.iterdir())
    shutil.rmtree(tmp_path / "nothing", ignore_errors=True)


@pytest.mark.slow
@pytest.mark.parametrize("frameworks", [{"tvm": {}}, {"torch": {"compile": ["default"]}}], ids=["tvm", "torch-compile"])
def test_native_artifacts_run_sandboxed_and_leave_the_bundle_as_it_was(tmp_path: Path, frameworks: dict) -> None:  # type: ignore[type-arg]
    """A TVM library and a torch Inductor cache run in bubblewrap with a read-only view of the bundle
    (the Inductor cache it writes to is a private copy): functional, and the bundle unchanged."""
    name = next(iter(frameworks))
    study = write(tmp_path, f"native-{name}", frameworks=frameworks, budget={"trials": 1},
                  space={"dimensions": {"model.family": ["mobilenet"], "model.width": [0.25],
                                        "model.resolution": [4], "model.precision": ["fp32"]}})
    assert run_cli("tune", study, "-q").code == 0
    root = next(p for p in (tmp_path / "submissions" / f"native-{name}").iterdir() if p.is_dir())
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    result = run_cli("validate", root, "--tolerance", "20")
    assert result.code in (0, 1) and "functional" in result.out, result
    verdict = json.loads((root / "validation.json").read_text())
    assert verdict["isolation"]["kind"] == "bubblewrap" and "functional" in verdict["badges"]
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.name != "validation.json"} == before
