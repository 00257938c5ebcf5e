"""A small, safe expression language for conditions and constraints in study files.

Conditions (``when: "framework == 'tvm'"``) and space constraints
(``"not (framework == 'tvm' and model.precision == 'int8')"``) are Python-like boolean
expressions over dimension names, which may contain dots. Only comparisons, ``and``/``or``/
``not``, ``in``, constants and lists of constants are allowed; nothing is ever ``eval``-ed.
A dimension that is inactive in a candidate has the value ``None``.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_COMPARE = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}


class ExpressionError(ValueError):
    """The text is not an expression of the allowed form."""


def _syntax(exc: SyntaxError) -> str:
    hint = exc.msg if exc.msg and exc.msg != "invalid syntax" else ""
    text = exc.text or ""
    if not hint and "=" in text and "==" not in text:
        hint = "compare with ==, not ="
    return "invalid syntax" + (f": {hint}" if hint else "")


def _dotted_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted_name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _check(node: ast.AST, names: set[str]) -> None:
    if isinstance(node, ast.Expression):
        _check(node.body, names)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            _check(value, names)
    elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        _check(node.operand, names)
    elif isinstance(node, ast.Compare):
        if not all(type(op) in _COMPARE for op in node.ops):
            raise ExpressionError("only ==, !=, <, <=, >, >=, in and not in compare values")
        for operand in (node.left, *node.comparators):
            _check(operand, names)
    elif isinstance(node, (ast.Name, ast.Attribute)):
        name = _dotted_name(node)
        if name is None:
            raise ExpressionError("a name must be a dimension such as model.width")
        if name not in ("True", "False", "None"):
            names.add(name)
    elif isinstance(node, ast.Constant) and isinstance(node.value, (str, int, float, bool, type(None))):
        pass
    elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        for elt in node.elts:
            if not isinstance(elt, ast.Constant):
                raise ExpressionError("a list may hold constants only")
    else:
        raise ExpressionError(f"{type(node).__name__} is not allowed (comparisons, and/or/not, in, constants)")


@dataclass(frozen=True)
class Expression:
    """A parsed, validated expression; ``names`` are the dimensions it reads."""

    text: str
    names: frozenset[str] = field(compare=False)
    _tree: ast.Expression = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Expression:
        try:
            tree = ast.parse(text.strip(), mode="eval")
        except SyntaxError as exc:
            raise ExpressionError(_syntax(exc)) from None
        names: set[str] = set()
        _check(tree, names)
        return cls(text.strip(), frozenset(names), tree)

    def evaluate(self, values: Mapping[str, Any]) -> bool:
        return bool(_eval(self._tree.body, values))


def _eval(node: ast.AST, values: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        results = (_eval(v, values) for v in node.values)
        return all(results) if isinstance(node.op, ast.And) else any(results)
    if isinstance(node, ast.UnaryOp):
        return not _eval(node.operand, values)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, values)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, values)
            try:
                if not _COMPARE[type(op)](left, right):
                    return False
            except TypeError:  # an inactive (None) dimension compared with < or >
                return False
            left = right
        return True
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        return [elt.value for elt in node.elts]  # type: ignore[attr-defined]
    name = _dotted_name(node)
    if name in ("True", "False", "None"):
        return {"True": True, "False": False, "None": None}[name]
    return values.get(name)


_OPS = {ast.GtE: ">=", ast.Gt: ">", ast.LtE: "<=", ast.Lt: "<"}


@dataclass(frozen=True)
class MetricConstraint:
    """``metric >= bound`` (or <=, >, <): feasible when :meth:`violation` is <= 0."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: str) -> MetricConstraint:
        try:
            tree = ast.parse(text.strip(), mode="eval").body
        except SyntaxError:
            raise ExpressionError("must have the form 'metric >= number' (or <=, >, <)") from None
        if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1 and type(tree.ops[0]) in _OPS):
            raise ExpressionError("must have the form 'metric >= number' (or <=, >, <)")
        metric, bound = _dotted_name(tree.left), tree.comparators[0]
        if isinstance(bound, ast.UnaryOp) and isinstance(bound.op, ast.USub) and isinstance(bound.operand, ast.Constant):
            bound = ast.Constant(-bound.operand.value)
        if metric is None or not isinstance(bound, ast.Constant) or isinstance(bound.value, (bool, str)) \
                or not isinstance(bound.value, (int, float)):
            raise ExpressionError("must have the form 'metric >= number' (or <=, >, <)")
        return cls(metric, _OPS[type(tree.ops[0])], float(bound.value))

    def violation(self, value: float) -> float:
        """How far ``value`` is on the wrong side of the bound (<= 0: satisfied)."""
        return self.bound - value if self.op in (">=", ">") else value - self.bound

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"
