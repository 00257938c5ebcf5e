"""Names from someone else's files are printed escaped: one line, no terminal control."""

from __future__ import annotations

from request_dse.text import escape, short_repr


def test_control_and_invisible_characters_are_escaped() -> None:
    assert escape("plain name-1.yaml") == "plain name-1.yaml"
    assert escape("a\nb\rc\td") == "a\\nb\\rc\\td"
    assert escape("\x1b[32mreproduced\x1b[0m") == "\\x1b[32mreproduced\\x1b[0m"
    assert escape("evil\u202egnp.exe\u200b\x85") == "evil\\u202egnp.exe\\u200b\\x85"
    assert escape("café ✓") == "café ✓"


def test_short_repr_walks_no_further_than_it_prints() -> None:
    for value in ("abc", [1, 2, 3], {"a": [1, 2], "b": "c"}, (1,), ("a", "b"), [], {}, [[[]]], 1.5, None):
        assert short_repr(value) == repr(value)
    bomb: list = ["x"] * 9
    for _ in range(12):  # 9**13 values once expanded
        bomb = [bomb] * 9
    text = short_repr(bomb)
    assert len(text) == 60 and text.endswith("...") and text.startswith("[[[[")
    assert short_repr("y" * 1000) == repr("y" * 56)[:57] + "..."
