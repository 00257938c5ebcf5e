"""YAML files are read within limits: size, nesting depth, and aliases counted as what they repeat."""

from __future__ import annotations

from pathlib import Path

import pytest

from request_dse.errors import ConfigError
from request_dse.yamlfile import MAX_NODES, load_yaml, parse_yaml


def _bomb(levels: int, width: int = 9) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def test_aliases_within_the_limit_are_read_and_shared() -> None:
    doc = parse_yaml(_bomb(4), "x.yaml")  # 9**4 values once expanded
    assert doc["a3"][0] is doc["a2"] and len(doc["a3"]) == 9


def test_an_alias_bomb_is_refused_while_composing() -> None:
    with pytest.raises(ConfigError, match=f"line 6, column 5: invalid YAML: expands to more than {MAX_NODES:,} values"):
        parse_yaml(_bomb(9), "bomb.yaml")


def test_merge_keys_count_what_they_merge() -> None:
    text = _bomb(5) + "m: &m {k: *a4}\n" + "".join(f"m{i}: {{<<: *m, j: 1}}\n" for i in range(20))
    with pytest.raises(ConfigError, match="expands to more than"):
        parse_yaml(text, "merge.yaml")


def test_nesting_is_bounded_without_a_recursion_error() -> None:
    assert parse_yaml("[" * 64 + "]" * 64, "ok.yaml") is not None
    for text in ("[" * 65 + "]" * 65, "[" * 20_000 + "]" * 20_000, "a:\n" + "".join(" " * i + "- \n" for i in range(1, 80))):
        with pytest.raises(ConfigError, match="invalid YAML: nests deeper than 64 levels"):
            parse_yaml(text, "deep.yaml")


def test_only_regular_files_within_the_size_limit(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="^/dev/zero: is a device, not a regular file$"):
        load_yaml("/dev/zero")
    big = tmp_path / "big.yaml"
    big.write_text("# " + "x" * (4 << 20) + "\n")
    with pytest.raises(ConfigError, match="big.yaml: is 4 MiB, over the limit of 4 MiB"):
        load_yaml(big)
