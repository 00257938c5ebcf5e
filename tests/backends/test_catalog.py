"""``since:`` in a catalog: the first release of a backend's library that knows a flag or a value."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from request_dse.backends import load_catalog
from request_dse.errors import ConfigError

KINDS = frozenset({"noop"})


def catalog(tmp_path: Path, **flag: object) -> Path:
    path = tmp_path / "x.yaml"
    spec = {"choices": ["a", "b", "c"], "default": "a", "apply": {"noop": "f"}, **flag}
    path.write_text(yaml.safe_dump({"backend": "x", "flags": {"f": spec}}))
    return path


def test_a_flag_or_some_values_may_be_known_since_a_release(tmp_path: Path) -> None:
    flag = load_catalog(catalog(tmp_path, since="1.22"), KINDS).flags["f"]
    assert flag.known_in("1.22.0") and flag.known_in("1.100") and not flag.known_in("1.9")
    assert flag.known_in(None)  # an unknown version: the flag is offered
    values = load_catalog(catalog(tmp_path, since={"b": "2.0", "c": "2.1"}), KINDS).flags["f"]
    assert values.known_in("1.0") and values.unknown_values("2.0") == ("c",) and values.unknown_values("3") == ()


@pytest.mark.parametrize("since, where, rule", [
    (1.22, "flags.f.since", "quote it: YAML reads 1.22 as a float"),
    ("soon", "flags.f.since", "must be a release version such as '1.20.1'; got 'soon'"),
    ({"a": "2.0"}, "flags.f.since.a", "is the default, which every version that knows the flag must know"),
    ({"z": "2.0"}, "flags.f.since.z", "is not a value of {'a', 'b', 'c'}"),
    ({"b": 2}, "flags.f.since.b", "quote it"),
])
def test_a_bad_since_names_its_field(tmp_path: Path, since: object, where: str, rule: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_catalog(catalog(tmp_path, since=since), KINDS)
    assert error.value.field == where and rule in error.value.rule


def test_version_is_not_a_catalog_flag(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump({"backend": "x", "flags": {"version": {"choices": ["1"], "apply": {"noop": "v"}}}}))
    with pytest.raises(ConfigError, match="flags.version: is the library's version, which every backend has"):
        load_catalog(path, KINDS)
