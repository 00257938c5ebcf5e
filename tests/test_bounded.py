"""Outside files are read within limits: regular files only, sizes checked first, JSON depth bounded."""

from __future__ import annotations

import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from request_dse.bounded import Refused, depth, npz_arrays, parse_json, read_bytes, read_json


def test_a_regular_file_within_the_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100)
    assert read_bytes(tmp_path / "a", 100) == b"x" * 100


@pytest.mark.parametrize("make, rule", [
    (lambda p: Path("/dev/zero"), "is a device, not a regular file"),
    (lambda p: (os.mkfifo(p / "f"), p / "f")[1], "is a FIFO (named pipe), not a regular file"),
    (lambda p: p, "is a folder, not a regular file"),
    (lambda p: (p / "big").write_bytes(b"x" * 101) and p / "big", "is 101 bytes, over the limit of 100 bytes"),
])
def test_anything_else_is_refused_before_it_is_read(tmp_path: Path, make, rule: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Refused, match=re.escape(rule)):
        read_bytes(make(tmp_path), 100)


def test_json_nesting_is_bounded() -> None:
    assert parse_json('{"a": [1, {"b": 2}]}') == {"a": [1, {"b": 2}]}
    assert depth({"a": [1, {"b": 2}]}) == 3
    for text in ("[" * 100_000 + "]" * 100_000, "[" * 65 + "]" * 65):
        with pytest.raises(Refused, match="nests deeper than 64 levels"):
            parse_json(text)
    assert parse_json("[" * 64 + "]" * 64) is not None


def test_read_json_checks_size_then_depth(tmp_path: Path) -> None:
    (tmp_path / "doc.json").write_text(json.dumps({"k": list(range(10))}))
    assert read_json(tmp_path / "doc.json", 1 << 20)["k"][9] == 9
    with pytest.raises(Refused, match="over the limit"):
        read_json(tmp_path / "doc.json", 10)


def _npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _header(shape: tuple[int, ...], descr: str = "<f4") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def test_npz_headers_are_read_without_loading_the_data(tmp_path: Path) -> None:
    np.savez(tmp_path / "ok.npz", x=np.zeros((3, 4), np.float32), y=np.arange(3))
    assert npz_arrays(tmp_path / "ok.npz", 1 << 20) == {"x": ((3, 4), "<f4"), "y": ((3,), "<i8")}


def test_npz_that_would_expand_past_the_limit(tmp_path: Path) -> None:
    np.savez_compressed(tmp_path / "bomb.npz", x=np.zeros(50_000_000, np.uint8))  # 48 KB on disk
    assert (tmp_path / "bomb.npz").stat().st_size < 100_000
    with pytest.raises(Refused, match="expands to more than 1 MiB"):
        npz_arrays(tmp_path / "bomb.npz", 1 << 20)


def test_npz_whose_header_lies_or_holds_objects(tmp_path: Path) -> None:
    liar = _npz(tmp_path / "liar.npz", {"x.npy": _header((10**9,)) + b"\0" * 16})
    with pytest.raises(Refused, match=r"array 'x' declares 3.73 GiB of data but its member holds 16 bytes"):
        npz_arrays(liar, 1 << 20)
    pickled = _npz(tmp_path / "obj.npz", {"x.npy": _header((1,), "|O") + b"\0" * 8})
    with pytest.raises(Refused, match="holds Python objects"):
        npz_arrays(pickled, 1 << 20)
    other = _npz(tmp_path / "other.npz", {"x.txt": b"hello"})
    with pytest.raises(Refused, match="is not a .npy array"):
        npz_arrays(other, 1 << 20)
