"""Terminal text: error headlines keep the cause, plurals agree, suggestions are close ones, and
names from someone else's files are printed escaped: one line, no terminal control."""

from __future__ import annotations

from request_dse.text import did_you_mean, escape, headline, plural, short_repr

TVM = ("OpNotImplemented: The following operators are not supported for frontend ONNX: Scaler "
       "(at onnx_frontend.py:6798 in from_onnx; onnx_frontend.py:6323 in from_onnx; "
       "onnx_frontend.py:6469 in _check_for_unsupported_ops)\n--- log tail ---\nTraceback (most recent call last):")


def test_headline_drops_the_location_before_the_cause() -> None:
    assert headline(TVM, 100) == "OpNotImplemented: The following operators are not supported for frontend ONNX: Scaler"
    wide = headline(TVM, 140)
    assert wide.startswith(headline(TVM, 100) + " (at onnx_frontend.py:6798") and wide.endswith("...)")
    assert len(wide) <= 140


def test_headline_keeps_both_ends_of_a_long_cause() -> None:
    for width in (70, 50, 40):
        shown = headline(TVM, width)
        assert len(shown) <= width and shown.startswith("OpNotImplemented") and shown.endswith("Scaler"), shown
        assert " ... " in shown


def test_headline_of_short_and_empty_errors() -> None:
    assert headline("run_timeout: killed after 60 s", 70) == "run_timeout: killed after 60 s"
    assert headline("", 70) == "" and headline("\n\n", 70) == ""


def test_plural() -> None:
    assert [plural(n, "trial") for n in (0, 1, 2)] == ["0 trials", "1 trial", "2 trials"]
    assert plural(1, "entry") == "1 entry" and plural(3, "entry") == "3 entries"
    assert plural(2, "model/precision pair") == "2 model/precision pairs"


def test_did_you_mean_prefers_the_first_of_equally_close_names() -> None:
    assert did_you_mean("acuracy", ["accuracy_top1", "accuracy_top5"]) == "; did you mean 'accuracy_top1'?"
    assert did_you_mean("onnxrt", ["onnxruntime", "tvm", "torch"]) == "; did you mean 'onnxruntime'?"
    assert did_you_mean("tensorrt", ["onnxruntime", "tvm", "torch"]) == ""
    assert did_you_mean(3, ["3"]) == ""


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
