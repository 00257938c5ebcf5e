"""The ray executor's options are checked before anything starts: one line naming file and field."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.mark.parametrize(("options", "message"), [
    ({"adress": "auto"}, "executor.options.adress: unknown option of the ray executor (known: address, host"),
    ({"build_cpus": 0}, "executor.options.build_cpus: must be > 0; got 0"),
    ({"isolate": "yes"}, "executor.options.isolate: must be bool; got 'yes'"),
    ({"num_cpus": True}, "executor.options.num_cpus: must be int; got True"),
])
def test_bad_options_are_one_line_errors(write_study: Any, cli: Any, options: dict[str, Any], message: str) -> None:
    path = write_study("opts", executor={"name": "ray", "options": options})
    result = cli("tune", path)
    assert result.code == 2, result
    assert f"{path}: {message}" in result.err
    assert "Traceback" not in result.err


def test_valid_options_pass_through() -> None:
    from request_dse.execute.ray import ray_options

    assert ray_options("s.yaml", {"address": "auto", "isolate": False}) == {"address": "auto", "isolate": False}
