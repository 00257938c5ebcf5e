"""Declarative validation of YAML documents.

Each file kind declares its fields once, as a table of specs; :func:`validate` walks a parsed
document against it and raises :class:`~request_dse.errors.ConfigError` naming the file, the
field path and the rule, for the first value that breaks one. Unknown keys are rejected (with a
suggestion when one is close), never dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from request_dse.errors import ConfigError
from request_dse.text import did_you_mean, short_repr

REQUIRED: Any = object()


@dataclass(frozen=True)
class Ctx:
    """Where a value sits: the file and the field path inside it."""

    source: str
    path: tuple[str | int, ...] = ()

    def at(self, key: str | int) -> Ctx:
        return Ctx(self.source, (*self.path, key))

    @property
    def field_path(self) -> str:
        out = ""
        for key in self.path:
            if isinstance(key, int):
                out += f"[{key}]"
            elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
                out += f".{key}" if out else key
            else:
                out += f"[{key!r}]"
        return out

    def error(self, rule: str) -> ConfigError:
        return ConfigError(self.source, self.field_path or "(top level)", rule)


def describe(value: Any) -> str:
    """A short rendering of a received value for error messages."""
    text = short_repr(value)
    return f"{text} ({type(value).__name__})" if not isinstance(value, str) else text


class Spec:
    """One rule for one value; ``check`` returns the normalized value or raises."""

    expected = "a value"

    def check(self, value: Any, ctx: Ctx) -> Any:
        raise NotImplementedError

    def fail(self, value: Any, ctx: Ctx, rule: str | None = None) -> ConfigError:
        return ctx.error(f"{rule or 'must be ' + self.expected}; got {describe(value)}")


@dataclass(frozen=True)
class Str(Spec):
    pattern: str | None = None
    hint: str = ""

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.hint or "a string"

    def check(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(value, ctx, "must be a non-empty string")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise self.fail(value, ctx)
        return value


@dataclass(frozen=True)
class Bool(Spec):
    expected = "true or false"

    def check(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, bool):
            raise self.fail(value, ctx)
        return value


def _interval(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


@dataclass(frozen=True)
class Int(Spec):
    low: int | None = None
    high: int | None = None

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "an integer" + _interval(self.low, self.high)

    def check(self, value: Any, ctx: Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(value, ctx)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise self.fail(value, ctx)
        return value


@dataclass(frozen=True)
class Float(Spec):
    low: float | None = None
    high: float | None = None
    low_exclusive: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        if self.low_exclusive and self.low is not None:
            return f"a number > {self.low}" + (f" and <= {self.high}" if self.high is not None else "")
        return "a number" + _interval(self.low, self.high)

    def check(self, value: Any, ctx: Ctx) -> Any:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(value, ctx)
        if self.low is not None and (value <= self.low if self.low_exclusive else value < self.low):
            raise self.fail(value, ctx)
        if self.high is not None and value > self.high:
            raise self.fail(value, ctx)
        return float(value)


@dataclass(frozen=True)
class Choice(Spec):
    values: tuple[Any, ...]

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "one of " + ", ".join(repr(v) for v in self.values)

    def check(self, value: Any, ctx: Ctx) -> Any:
        if isinstance(value, (list, dict)) or value not in self.values:
            names = [v for v in self.values if isinstance(v, str)]
            raise ctx.error(f"must be {self.expected}; got {describe(value)}{did_you_mean(value, names)}")
        return value


@dataclass(frozen=True)
class Scalar(Spec):
    """A string, number or boolean: the values a search dimension can take."""

    expected = "a string, number or boolean"

    def check(self, value: Any, ctx: Ctx) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(value, ctx)
        if not isinstance(value, (str, int, float, bool)):
            raise self.fail(value, ctx)
        return value


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    min_len: int = 0
    unique: bool = False

    @property
    def expected(self) -> str:  # type: ignore[override]
        return f"a list (each item {self.item.expected})"

    def check(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, list):
            raise self.fail(value, ctx)
        if len(value) < self.min_len:
            raise ctx.error(f"must have at least {self.min_len} item{'s' * (self.min_len > 1)}; got {len(value)}")
        out = [self.item.check(v, ctx.at(i)) for i, v in enumerate(value)]
        if self.unique:
            seen: list[Any] = []
            for i, v in enumerate(out):
                if any(v == s and type(v) is type(s) for s in seen):
                    raise ctx.at(i).error(f"duplicates an earlier item; got {describe(v)}")
                seen.append(v)
        return out


@dataclass(frozen=True)
class MapOf(Spec):
    value: Spec
    key: Spec = Str()
    min_len: int = 0

    @property
    def expected(self) -> str:  # type: ignore[override]
        return "a mapping"

    def check(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail(value, ctx)
        if len(value) < self.min_len:
            raise ctx.error(f"must have at least {self.min_len} entr{'ies' if self.min_len > 1 else 'y'}; got none")
        out = {}
        for k, v in value.items():
            self.key.check(k, ctx.at(str(k)))
            out[k] = self.value.check(v, ctx.at(k))
        return out


@dataclass(frozen=True)
class Field:
    spec: Spec
    default: Any = REQUIRED


@dataclass(frozen=True)
class Record(Spec):
    """A mapping with a fixed set of keys; unknown keys are an error."""

    fields: Mapping[str, Field]
    expected = "a mapping"

    def check(self, value: Any, ctx: Ctx) -> Any:
        if not isinstance(value, Mapping):
            raise self.fail(value, ctx)
        for key in value:
            if key not in self.fields:
                raise ctx.at(str(key)).error(unknown_key_rule(str(key), self.fields))
        out: dict[str, Any] = {}
        for name, fld in self.fields.items():
            if name in value and value[name] is not None:
                out[name] = fld.spec.check(value[name], ctx.at(name))
            elif fld.default is REQUIRED:
                raise ctx.at(name).error("is required")
            else:
                out[name] = fld.default() if callable(fld.default) else fld.default
        return out


def unknown_key_rule(key: str, allowed: Sequence[str] | Mapping[str, Any]) -> str:
    names = sorted(allowed)
    return f"unknown key (allowed: {', '.join(names)}){did_you_mean(key, names)}"


@dataclass(frozen=True)
class AnyOf(Spec):
    """The first alternative whose shape matches; its error is reported if the value fails it."""

    alternatives: tuple[tuple[Callable[[Any], bool], Spec], ...]
    hint: str = "a value"

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.hint

    def check(self, value: Any, ctx: Ctx) -> Any:
        for matches, spec in self.alternatives:
            if matches(value):
                return spec.check(value, ctx)
        raise self.fail(value, ctx)


@dataclass(frozen=True)
class Custom(Spec):
    """A rule written as a function ``(value, ctx) -> normalized``."""

    fn: Callable[[Any, Ctx], Any]
    hint: str = "a value"
    extra: tuple[Any, ...] = field(default=())

    @property
    def expected(self) -> str:  # type: ignore[override]
        return self.hint

    def check(self, value: Any, ctx: Ctx) -> Any:
        return self.fn(value, ctx)


def validate(document: Any, spec: Spec, source: str) -> Any:
    """Check a parsed document against ``spec``; the normalized value or a ConfigError."""
    return spec.check(document, Ctx(str(source)))
