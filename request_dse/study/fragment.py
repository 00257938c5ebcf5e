"""Search-space fragments: ``search_spaces/<name>.yaml``, reusable parts of a study's space."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from request_dse.fields import Custom, Field, ListOf, MapOf, Record, Str, validate
from request_dse.yamlfile import load_yaml


@dataclass(frozen=True)
class Fragment:
    source: Path
    include: tuple[str, ...]
    dimensions: Mapping[str, Any]
    constraints: tuple[str, ...]
    description: str = ""


_FRAGMENT = Record({
    "description": Field(Str(), ""),
    "include": Field(ListOf(Str(), unique=True), []),
    "dimensions": Field(MapOf(Custom(lambda v, c: v, "a dimension override")), {}),
    "constraints": Field(ListOf(Str()), []),
})


def load_fragment(path: str | Path) -> Fragment:
    doc = validate(load_yaml(path), _FRAGMENT, str(path))
    return Fragment(Path(path), tuple(doc["include"]), doc["dimensions"], tuple(doc["constraints"]), doc["description"])
