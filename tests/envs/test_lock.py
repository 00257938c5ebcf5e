"""Locks: the installer's output in one canonical form, and a strict reader for someone else's."""

from __future__ import annotations

import pytest

from request_dse.envs import EnvError, Lock, read_lock
from request_dse.envs.lock import MAX_PACKAGES, canonical

H1, H2 = "a" * 64, "b" * 64

UV_OUTPUT = f"""\
Numpy==2.4.6 \\
    --hash=sha256:{H2} \\
    --hash=sha256:{H1}
    # via onnxruntime
coloredlogs==15.0.1 \\
    --hash=sha256:{H1}
"""


def test_uv_output_becomes_one_sorted_line_per_package() -> None:
    assert canonical(UV_OUTPUT) == (f"coloredlogs==15.0.1 --hash=sha256:{H1}\n"
                                    f"numpy==2.4.6 --hash=sha256:{H1} --hash=sha256:{H2}\n")


def test_a_lock_is_named_by_its_text_and_its_python() -> None:
    a = read_lock(UV_OUTPUT, "cpython-3.11-x86_64-linux")
    assert a.id == read_lock(canonical(UV_OUTPUT), "cpython-3.11-x86_64-linux").id
    assert a.id != read_lock(UV_OUTPUT, "cpython-3.12-x86_64-linux").id
    assert a.id != read_lock(UV_OUTPUT.replace("15.0.1", "15.0.0"), "cpython-3.11-x86_64-linux").id
    assert a.pins() == {"coloredlogs": "15.0.1", "numpy": "2.4.6"} and a.hashed
    assert a.summary()["packages"] == ["coloredlogs==15.0.1", "numpy==2.4.6"]
    assert not Lock("numpy==2.4.6\n", "p").hashed


@pytest.mark.parametrize("text, rule", [
    ("numpy>=2\n", "is not an exact pin"),
    ("-e ./evil\n", "is not an exact pin"),
    ("--index-url http://evil.example/simple\nnumpy==2.0\n", "is not an exact pin"),
    ("evil @ https://evil.example/evil.whl\n", "is not an exact pin"),
    ("numpy==2.0 --extra-index-url=http://evil.example\n", "only --hash=sha256"),
    ("numpy==2.0 --hash=md5:abc\n", "only --hash=sha256"),
    ("numpy==2.0 ; python_version < '3'\n", "only --hash=sha256"),
    (f"numpy==2.0 --hash=sha256:{H1}\nNumPy==2.1 --hash=sha256:{H2}\n", "numpy is pinned twice"),
    (f"numpy==2.0 --hash=sha256:{H1}\nsix==1.0\n", "either every pin has hashes or none has; six has none"),
    ("# nothing\n", "pins no package"),
    ("".join(f"p{i}==1.0\n" for i in range(MAX_PACKAGES + 1)), f"more than {MAX_PACKAGES} packages"),
    ("x" * (600 * 1024), "larger than 512 KiB"),
])
def test_anything_but_exact_pins_and_sha256_hashes_is_refused(text: str, rule: str) -> None:
    with pytest.raises(EnvError, match="environment.lock: .*" + rule.replace("(", r"\(").replace(")", r"\)")):
        read_lock(text, "p", source="environment.lock")
