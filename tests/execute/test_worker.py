"""How a worker's exception becomes its error text: the cause on the first line, then where."""

from __future__ import annotations

from request_dse.execute import summarize_exception


def _raised(exc: BaseException) -> BaseException:
    try:
        raise exc
    except BaseException as caught:  # noqa: BLE001
        return caught


def test_the_first_line_is_class_message_and_location() -> None:
    text = summarize_exception(_raised(ValueError("unsupported flag 'fusion' for int8")))
    assert "\n" not in text
    assert text.startswith("ValueError: unsupported flag 'fusion' for int8 (at test_worker.py:")


def test_a_native_traceback_in_the_message_does_not_hide_the_cause() -> None:
    message = ("Traceback (most recent call last):\n  2: tvm::relax::Foo\n  1: tvm::Bar\n"
               "  File \"/src/x.cc\", line 3\nInternalError: Check failed: op Scaler is not registered")
    text = summarize_exception(_raised(RuntimeError(message)))
    first = text.splitlines()[0]
    assert first.startswith("RuntimeError: InternalError: Check failed: op Scaler is not registered (at "), first
    assert "Traceback (most recent call last):" in text and "tvm::Bar" in text  # the rest follows


def test_an_empty_message_still_names_the_class() -> None:
    assert summarize_exception(_raised(KeyError())).startswith("KeyError (at test_worker.py:")
