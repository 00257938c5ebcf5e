"""Dimension declarations (by workloads, catalogs, targets) and overrides (by studies)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from request_dse.expr import Expression, ExpressionError
from request_dse.fields import Ctx, describe, unknown_key_rule
from request_dse.space.dimension import Dimension

_DECLARATION_KEYS = {"choices", "type", "low", "high", "step", "log", "default", "when", "description"}


def parse_when(text: Any, ctx: Ctx) -> Expression:
    if not isinstance(text, str):
        raise ctx.error(f"must be a condition such as \"framework == 'tvm'\"; got {describe(text)}")
    try:
        return Expression.parse(text)
    except ExpressionError as exc:
        raise ctx.error(f"invalid condition {text!r}: {exc}") from None


def _is_scalar(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool))


def _check_choices(values: Any, ctx: Ctx) -> tuple[Any, ...]:
    if not isinstance(values, list) or not values:
        raise ctx.error(f"must be a non-empty list of values; got {describe(values)}")
    out: list[Any] = []
    for i, v in enumerate(values):
        if not _is_scalar(v):
            raise ctx.at(i).error(f"must be a string, number or boolean; got {describe(v)}")
        if any(v == o and type(v) is type(o) for o in out):
            raise ctx.at(i).error(f"duplicates an earlier value; got {describe(v)}")
        out.append(v)
    return tuple(out)


def _range(spec: Mapping[str, Any], ctx: Ctx, kind: str | None) -> Dimension:
    for key in ("low", "high"):
        if key not in spec:
            raise ctx.at(key).error("is required for a range")
        value = spec[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ctx.at(key).error(f"must be a number; got {describe(value)}")
    low, high = spec["low"], spec["high"]
    if kind is None:
        kind = "int" if isinstance(low, int) and isinstance(high, int) and not isinstance(spec.get("step"), float) else "float"
    if kind not in ("int", "float"):
        raise ctx.at("type").error(f"must be one of 'int', 'float'; got {describe(kind)}")
    if kind == "int" and not (isinstance(low, int) and isinstance(high, int)):
        raise ctx.error(f"an int range needs integer bounds; got low={low!r}, high={high!r}")
    if low > high:
        raise ctx.error(f"`low <= high` must hold; got low={low!r}, high={high!r}")
    log = spec.get("log", False)
    if not isinstance(log, bool):
        raise ctx.at("log").error(f"must be true or false; got {describe(log)}")
    if log and low <= 0:
        raise ctx.at("low").error(f"must be > 0 for a log range; got {low!r}")
    step = spec.get("step")
    if step is not None and (isinstance(step, bool) or not isinstance(step, (int, float)) or step <= 0):
        raise ctx.at("step").error(f"must be a number > 0; got {describe(step)}")
    if step is not None and log:
        raise ctx.at("step").error("cannot be combined with log: true")
    return Dimension("", kind, low=low, high=high, step=step, log=log)  # type: ignore[arg-type]


def parse_declaration(name: str, spec: Any, ctx: Ctx, origin: str, *,
                      extra_keys: frozenset[str] = frozenset()) -> tuple[Dimension, Any]:
    """A dimension as its owner declares it: ``[values]`` or a mapping. Returns (dim, default)."""
    if isinstance(spec, list):
        spec = {"choices": spec}
    if not isinstance(spec, Mapping):
        raise ctx.error(f"must be a list of values or a mapping with choices or low/high; got {describe(spec)}")
    allowed = _DECLARATION_KEYS | extra_keys
    for key in spec:
        if key not in allowed:
            raise ctx.at(str(key)).error(unknown_key_rule(str(key), sorted(allowed)))
    if "choices" in spec:
        if any(k in spec for k in ("low", "high", "step", "log")):
            raise ctx.error("give either choices or low/high, not both")
        if spec.get("type", "categorical") != "categorical":
            raise ctx.at("type").error("must be 'categorical' (or absent) with choices")
        dim = Dimension(name, "categorical", choices=_check_choices(spec["choices"], ctx.at("choices")))
    elif "low" in spec or "high" in spec:
        kind = spec.get("type")
        dim = _range(spec, ctx, kind)
        dim = Dimension(name, dim.kind, low=dim.low, high=dim.high, step=dim.step, log=dim.log)
    else:
        raise ctx.error("must give choices, or low and high")
    when = parse_when(spec["when"], ctx.at("when")) if "when" in spec else None
    default = spec.get("default")
    if default is None:
        default = dim.choices[0] if dim.kind == "categorical" else dim.low
    elif not dim.contains(default):
        raise ctx.at("default").error(f"must be a value of {dim.describe_domain()}; got {describe(default)}")
    return Dimension(dim.name, dim.kind, dim.choices, dim.low, dim.high, dim.step, dim.log, when, origin), default


def parse_override(value: Any, base: Dimension, ctx: Ctx) -> Dimension:
    """Narrow ``base`` as a study asks: a list of values, one value, ``"*"``, or a range."""
    if value == "*":
        return base
    if isinstance(value, Mapping) and set(value) == {"choices"}:
        value = value["choices"]
    if _is_scalar(value):
        value = [value]
    if isinstance(value, list):
        choices = _check_choices(value, ctx)
        for i, v in enumerate(choices):
            if not base.contains(v):
                raise (ctx.at(i) if len(value) > 1 else ctx).error(
                    f"{v!r} is not in the domain {base.describe_domain()} declared by {base.origin}")
        return Dimension(base.name, "categorical", choices=choices, when=base.when, origin=base.origin)
    if isinstance(value, Mapping):
        for key in value:
            if key not in ("low", "high", "step", "log", "type"):
                raise ctx.at(str(key)).error("unknown key (allowed: choices, high, log, low, step, type)")
        if base.kind == "categorical":
            raise ctx.error(f"a range cannot narrow the categorical domain {base.describe_domain()} of {base.origin}; list the values")
        rng = _range({"log": base.log, **value}, ctx, value.get("type", base.kind))
        if rng.low < base.low or rng.high > base.high:  # type: ignore[operator]
            raise ctx.error(f"range [{rng.low}, {rng.high}] is outside {base.describe_domain()} declared by {base.origin}")
        return Dimension(base.name, rng.kind, low=rng.low, high=rng.high, step=rng.step, log=rng.log,
                         when=base.when, origin=base.origin)
    raise ctx.error(f"must be a value, a list of values, '*' or a range; got {describe(value)}")
