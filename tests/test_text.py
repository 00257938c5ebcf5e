"""Terminal text: error headlines keep the cause, plurals agree, suggestions are close ones."""

from __future__ import annotations

from request_dse.text import did_you_mean, headline, plural

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
