"""A candidate: the values of the active dimensions of one configuration, with a stable hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from request_dse.space.dimension import fmt_value


def canonical_json(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(sorted(params.items())), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Candidate:
    """The values of the active dimensions of one configuration, in canonical order."""

    items: tuple[tuple[str, Any], ...]
    hash: str = field(compare=False)

    @classmethod
    def of(cls, params: Mapping[str, Any]) -> Candidate:
        items = tuple(sorted(params.items()))
        digest = hashlib.sha256(canonical_json(params).encode()).hexdigest()[:12]
        return cls(items, digest)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.items)

    def get(self, name: str, default: Any = None) -> Any:
        return self.params.get(name, default)

    def __getitem__(self, name: str) -> Any:
        return self.params[name]

    def __contains__(self, name: str) -> bool:
        return name in self.params

    def prefixed(self, prefix: str) -> dict[str, Any]:
        """The values under ``prefix.`` with the prefix removed (``tvm.`` -> the TVM flags)."""
        n = len(prefix) + 1
        return {k[n:]: v for k, v in self.items if k.startswith(prefix + ".")}

    def label(self) -> str:
        return ", ".join(f"{k}={fmt_value(v)}" for k, v in self.items)
