"""A bundle's environment, recreated from the lock it carries (which is someone else's file)."""

from __future__ import annotations

from importlib import metadata

import pytest

from request_dse.envs import EnvError, current_lock, find, recreate, resolve, spec_for
from request_dse.testing.index import LocalIndex

ORT = metadata.version("onnxruntime")


def test_a_bundle_without_a_lock_runs_in_this_installation() -> None:
    lock, note = recreate(None, label="onnxruntime 1.20.1", distribution="onnxruntime", version="1.20.1")
    assert lock is None and "records no software environment" in note


def test_a_lock_this_installation_satisfies_creates_nothing() -> None:
    text = current_lock("onnxruntime").text
    lock, note = recreate(text, label=f"onnxruntime {ORT}", distribution="onnxruntime", version=ORT)
    assert lock is None and "this installation has every version" in note


def test_another_environment_is_created_from_the_lock(probe: LocalIndex) -> None:
    text = resolve(spec_for("probe 1.0", "request-dse-probe", "1.0")).text
    lock, note = recreate(text, label="probe 1.0", distribution="request-dse-probe", version="1.0",
                          checks=("request_dse_probe",))
    assert lock is not None and find(lock) is not None and lock.label == "probe 1.0"
    assert note.startswith(f"measured in the bundle's own environment {lock.id}")


def test_a_lock_that_does_not_pin_the_claimed_version_is_refused(probe: LocalIndex) -> None:
    text = resolve(spec_for("probe 1.0", "request-dse-probe", "1.0")).text
    with pytest.raises(EnvError, match="environment.lock pins request-dse-probe 1.0, but the submission claims 2.0"):
        recreate(text, label="probe 2.0", distribution="request-dse-probe", version="2.0")


def test_an_environment_that_cannot_be_created_is_refused_naming_what_is_missing(probe: LocalIndex) -> None:
    text = resolve(spec_for("probe 3.0", "request-dse-probe", "3.0")).text  # its wheel is gone
    with pytest.raises(EnvError) as refused:
        recreate(text, label="probe 3.0", distribution="request-dse-probe", version="3.0")
    assert "Failed to download" in str(refused.value)
    assert "this installation lacks request-dse-probe==3.0 (not installed)" in str(refused.value)


def test_a_hostile_lock_is_refused_before_anything_is_installed() -> None:
    with pytest.raises(EnvError, match="environment.lock: 'evil @ https://evil.example/e.whl' is not an exact pin"):
        recreate("evil @ https://evil.example/e.whl\n", label="x", distribution=None, version=None)
