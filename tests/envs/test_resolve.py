"""What goes into an environment, and the lock uv resolves it to (the real registry)."""

from __future__ import annotations

from importlib import metadata

import pytest

from request_dse.envs import EnvError, current_lock, python_tag, requirement, resolve, spec_for, unmet
from request_dse.envs.resolve import ENGINE_REQUIRES, at_least, check_version


def test_an_environment_holds_the_library_the_engines_worker_side_and_the_pins() -> None:
    spec = spec_for("onnxruntime 1.20.1", "onnxruntime", "1.20.1", ("onnx",), {"NumPy": "<2", "protobuf": "5.29.3"})
    assert spec.requirements == ("filelock", "mlcommons-loadgen", "numpy<2", "onnx", "onnxruntime==1.20.1",
                                 "protobuf==5.29.3", "pyyaml")
    assert spec.python == python_tag()
    assert spec.key != spec_for("x", "onnxruntime", "1.24.4", ("onnx",), {"NumPy": "<2", "protobuf": "5.29.3"}).key
    assert set(ENGINE_REQUIRES) <= set(spec.requirements) | {"numpy"}


@pytest.mark.parametrize("pin, expected", [("1.26.4", "numpy==1.26.4"), ("<2", "numpy<2"),
                                           (">=1.26, <2", "numpy<2,>=1.26"), ("~=1.26.0", "numpy~=1.26.0")])
def test_a_pin_is_a_version_or_a_specifier(pin: str, expected: str) -> None:
    assert requirement("numpy", pin) == expected


@pytest.mark.parametrize("pin", [">>2", "1.0; os_name == 'nt'", "@ https://evil.example/x.whl", "[extra]==1"])
def test_anything_else_is_refused(pin: str) -> None:
    with pytest.raises(EnvError):
        requirement("numpy", pin)


def test_versions_are_release_strings_in_pep440_order() -> None:
    assert check_version("1.20.1") is None and check_version("2.0rc1") is None
    assert "quote it" in (check_version(1.21) or "")
    assert "release version" in (check_version("latest") or "")
    assert at_least("1.23.0", "1.23") and at_least("1.100", "1.23") and not at_least("1.9", "1.23")


def test_a_version_resolves_to_exact_pins_with_hashes_and_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = spec_for("onnxruntime 1.20.1", "onnxruntime", "1.20.1")
    lock = resolve(spec)
    assert lock.pins()["onnxruntime"] == "1.20.1" and lock.hashed and lock.label == "onnxruntime 1.20.1"
    assert {"numpy", "pyyaml", "filelock"} <= set(lock.pins())
    monkeypatch.setenv("REQUEST_DSE_UV", "/nonexistent/uv")  # the cached resolution needs no installer
    assert resolve(spec) == lock


def test_a_lock_keeps_the_versions_this_installation_has_where_the_pins_allow() -> None:
    # the registry publishes newer filelock, PyYAML, ... releases over time; an environment that
    # pins only onnxruntime differs from this installation in onnxruntime (and what it needs) only
    pins = resolve(spec_for("onnxruntime 1.20.1", "onnxruntime", "1.20.1")).pins()
    for name in ("filelock", "pyyaml", "mlcommons-loadgen"):
        assert pins[name] == metadata.version(name), name
    assert pins["onnxruntime"] == "1.20.1"
    below = resolve(spec_for("numpy below", None, None, extra={"numpy": f"<{metadata.version('numpy')}"})).pins()
    assert at_least(metadata.version("numpy"), below["numpy"]) and below["numpy"] != metadata.version("numpy")


def test_a_version_the_registry_lacks_is_refused_with_uvs_reason() -> None:
    with pytest.raises(EnvError, match=r"there is no version of onnxruntime==9\.9\.9"):
        resolve(spec_for("onnxruntime 9.9.9", "onnxruntime", "9.9.9"))


def test_a_version_without_a_wheel_for_this_python_is_refused_with_uvs_reason() -> None:
    with pytest.raises(EnvError, match=r"onnxruntime==1\.14\.1 has no wheels with a matching Python ABI tag"):
        resolve(spec_for("onnxruntime 1.14.1", "onnxruntime", "1.14.1"))


def test_the_current_environments_lock_pins_what_is_installed() -> None:
    lock = current_lock("onnxruntime")
    pins = lock.pins()
    assert pins["onnxruntime"] == metadata.version("onnxruntime") and pins["numpy"] == metadata.version("numpy")
    assert "optuna" not in pins and not lock.hashed  # only what the worker side needs
    assert unmet(lock) == []
    other = type(lock)(lock.text.replace(f"onnxruntime=={pins['onnxruntime']}", "onnxruntime==1.20.1"), lock.python)
    assert unmet(other) == [f"onnxruntime==1.20.1 (installed: {pins['onnxruntime']})"]
