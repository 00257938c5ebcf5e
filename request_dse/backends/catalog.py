"""Backend flag catalogs: ``backends/<backend>.yaml``, the "compiler flags" dimension.

A catalog lists every flag a backend understands: its domain, its default, and how it is
applied (``apply: {<kind>: <key>}``). Kinds that map onto open-ended option maps (an ONNX
Runtime session config entry, a TVM PassContext entry) are applied generically by the backend,
so a new flag of such a kind is a YAML edit, not a code change. ``since:`` says which release of
the library first knows a flag (``since: "1.22"``) or some of its values
(``since: {layout: "1.23"}``): a study over several versions offers them only where they exist.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from request_dse.envs import at_least, check_version
from request_dse.fields import Ctx, Custom, Field, ListOf, MapOf, Record, Str, describe, validate
from request_dse.space import Constraint, Dimension, parse_declaration, parse_when
from request_dse.yamlfile import load_yaml

#: Keys of ``apply`` that modify how a flag is applied rather than naming where.
APPLY_MODIFIERS = ("values", "enum")


@dataclass(frozen=True)
class Flag:
    name: str
    dimension: Dimension
    default: Any
    apply: Mapping[str, Any]
    description: str = ""
    needs: Mapping[Any, tuple[str, ...]] = field(default_factory=dict)  # value -> CPU features it needs
    since: str | None = None          # the first version of the library that knows the flag
    value_since: Mapping[Any, str] = field(default_factory=dict)  # value -> the first version that knows it

    def known_in(self, version: str | None) -> bool:
        """Whether the library at ``version`` (None: unknown) knows this flag."""
        return self.since is None or version is None or at_least(version, self.since)

    def unknown_values(self, version: str | None) -> tuple[Any, ...]:
        """The values of this flag that the library at ``version`` does not know."""
        if version is None:
            return ()
        return tuple(v for v, since in self.value_since.items() if not at_least(version, since))

    @property
    def apply_kind(self) -> str:
        return next(k for k in self.apply if k not in APPLY_MODIFIERS)

    def applied_value(self, value: Any) -> Any:
        """The value handed to the backend (the catalog's ``values`` mapping; identity elsewhere)."""
        mapping = self.apply.get("values")
        return mapping.get(value, value) if isinstance(mapping, Mapping) else value


@dataclass(frozen=True)
class Catalog:
    backend: str
    description: str
    flags: Mapping[str, Flag]
    requires: tuple[Constraint, ...] = ()
    source: Path = field(default=Path("."), compare=False)

    def defaults(self) -> dict[str, Any]:
        return {name: flag.default for name, flag in self.flags.items()}

    def keys(self, kind: str) -> dict[str, Flag]:
        """The keys of one apply kind the catalog declares, with the flag that sets each."""
        return {flag.apply[kind]: flag for flag in self.flags.values() if flag.apply_kind == kind}

    def check_setting(self, kind: str, key: Any, value: Any) -> str | None:
        """Why an artifact may not apply ``key = value`` of ``kind``, or None: the key must be one
        this catalog declares for that kind, and the value one its flag can apply, of the same type."""
        declared = self.keys(kind)
        if not isinstance(key, str) or key not in declared:
            allowed = ", ".join(sorted(declared)) or "none"
            return f"is not among the {kind} keys of the {self.backend} catalog (allowed: {allowed})"
        flag = declared[key]
        dim = flag.dimension
        if dim.kind == "categorical":
            applied = [flag.applied_value(c) for c in dim.choices]
            if any(_same(value, a) for a in applied):
                return None
            return f"must be one of {', '.join(map(repr, applied))} (flag {flag.name}); got {describe(value)}"
        return None if dim.contains(value) else f"must be in {dim.describe_domain()} (flag {flag.name}); got {describe(value)}"

    def apply(self, flags: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
        """Resolved flag values grouped by apply kind: ``{kind: {key: applied value}}``."""
        groups: dict[str, dict[str, Any]] = {}
        for name, value in sorted(flags.items()):
            flag = self.flags[name]
            groups.setdefault(flag.apply_kind, {})[flag.apply[flag.apply_kind]] = flag.applied_value(value)
        return groups


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type (``True`` is not ``1``), containers compared item by item."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def _requirement(value: Any, ctx: Ctx) -> Any:
    return Record({"rule": Field(Str()), "reason": Field(Str())}).check(value, ctx)


_CATALOG = Record({
    "backend": Field(Str(pattern=r"[a-z][a-z0-9_]*", hint="a backend name (lowercase letters, digits, _)")),
    "description": Field(Str(), ""),
    "flags": Field(MapOf(Custom(lambda v, c: v, "a flag declaration"),
                         key=Str(pattern=r"[a-z][a-z0-9_]*", hint="a flag name (lowercase letters, digits, _)")), {}),
    "requires": Field(ListOf(Custom(_requirement, "a mapping with rule and reason")), []),
})


def load_catalog(path: str | Path, apply_kinds: Collection[str], *, expected_backend: str | None = None) -> Catalog:
    """Read and validate one catalog; ``apply_kinds`` are the kinds its backend implements."""
    source = str(path)
    doc = validate(load_yaml(path), _CATALOG, source)
    ctx = Ctx(source)
    backend = doc["backend"]
    if expected_backend is not None and backend != expected_backend:
        raise ctx.at("backend").error(f"must be {expected_backend!r} (the catalog's file name); got {backend!r}")
    flags: dict[str, Flag] = {}
    for name, spec in doc["flags"].items():
        fctx = ctx.at("flags").at(name)
        if name == "version":
            raise fctx.error("is the library's version, which every backend has: a study lists the versions "
                             "it explores; a catalog cannot declare it as a flag")
        dim, default = parse_declaration(f"{backend}.{name}", spec, fctx, f"backend {backend}",
                                         extra_keys=frozenset({"apply", "needs", "since"}))
        when = f"framework == {backend!r}" + (f" and ({dim.when.text})" if dim.when else "")
        dim = Dimension(dim.name, dim.kind, dim.choices, dim.low, dim.high, dim.step, dim.log,
                        parse_when(when, fctx.at("when")), dim.origin)
        apply = spec.get("apply") if isinstance(spec, Mapping) else None
        mapping = spec if isinstance(spec, Mapping) else {}
        since, value_since = _check_since(mapping.get("since"), dim, default, fctx.at("since"))
        flags[name] = Flag(name, dim, default, _check_apply(apply, dim, fctx.at("apply"), apply_kinds),
                           mapping.get("description", ""), _check_needs(mapping.get("needs", {}), dim, default,
                                                                        fctx.at("needs")), since, value_since)
    requires = []
    for i, req in enumerate(doc["requires"]):
        rule = parse_when(f"framework != {backend!r} or ({req['rule']})", ctx.at("requires").at(i).at("rule"))
        requires.append(Constraint(rule, f"backend {backend}", req["reason"]))
    return Catalog(backend, doc["description"], flags, tuple(requires), Path(path))


def _check_apply(apply: Any, dim: Dimension, ctx: Ctx, kinds: Collection[str]) -> Mapping[str, Any]:
    if not isinstance(apply, Mapping):
        raise ctx.error(f"is required: a mapping such as {{<kind>: <key>}} with kind one of {', '.join(sorted(kinds))}; "
                        f"got {describe(apply)}")
    named = [k for k in apply if k not in APPLY_MODIFIERS]
    if len(named) != 1:
        raise ctx.error(f"must name exactly one kind among {', '.join(sorted(kinds))}; got {', '.join(map(str, named)) or 'none'}")
    if named[0] not in kinds:
        raise ctx.at(str(named[0])).error(f"is not a kind this backend applies (kinds: {', '.join(sorted(kinds))})")
    values = apply.get("values")
    if values is not None:
        if not isinstance(values, Mapping):
            raise ctx.at("values").error(f"must be a mapping from flag value to applied value; got {describe(values)}")
        for key in values:
            if not dim.contains(key):
                raise ctx.at("values").at(str(key)).error(f"is not a value of {dim.describe_domain()}")
    return dict(apply)


def _check_needs(needs: Any, dim: Dimension, default: Any, ctx: Ctx) -> dict[Any, tuple[str, ...]]:
    if not isinstance(needs, Mapping):
        raise ctx.error(f"must map flag values to lists of CPU features; got {describe(needs)}")
    out = {}
    for value, features in needs.items():
        if not dim.contains(value):
            raise ctx.at(str(value)).error(f"is not a value of {dim.describe_domain()}")
        if value == default:
            raise ctx.at(str(value)).error("is the default, which must run on every CPU")
        if not isinstance(features, list) or not all(isinstance(f, str) for f in features):
            raise ctx.at(str(value)).error(f"must be a list of CPU feature names; got {describe(features)}")
        out[value] = tuple(features)
    return out


def _check_since(since: Any, dim: Dimension, default: Any, ctx: Ctx) -> tuple[str | None, dict[Any, str]]:
    """``since: "1.22"`` (the flag) or ``since: {value: "1.23"}`` (values): the first version of the
    library that knows it. A flag's default must be known wherever the flag is."""
    if since is None:
        return None, {}
    if not isinstance(since, Mapping):
        problem = check_version(since)
        if problem:
            raise ctx.error(f"{problem} (or a mapping from flag values to versions)")
        return since, {}
    out = {}
    for value, version in since.items():
        if not dim.contains(value):
            raise ctx.at(str(value)).error(f"is not a value of {dim.describe_domain()}")
        if value == default:
            raise ctx.at(str(value)).error("is the default, which every version that knows the flag must know")
        problem = check_version(version)
        if problem:
            raise ctx.at(str(value)).error(problem)
        out[value] = version
    return None, out
