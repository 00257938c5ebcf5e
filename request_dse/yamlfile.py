"""Reading YAML files: clear errors with line numbers, duplicate keys rejected, and limits.

A YAML file may come from someone else, so reading it is bounded before anything walks the
result: the file must be a regular file of at most :data:`MAX_BYTES`, nest at most
:data:`MAX_DEPTH` levels, and expand to at most :data:`MAX_NODES` nodes *counting every alias
as the whole node it repeats* -- a "billion laughs" file of a few hundred bytes whose aliases
would expand to millions of values is refused while it is being composed, in linear time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from request_dse.bounded import Refused, read_bytes, size_text
from request_dse.errors import ConfigError

MAX_BYTES = 4 << 20
MAX_DEPTH = 64
MAX_NODES = 100_000


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last), and
    bounds nesting depth and the expanded node count while composing."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0
        self._sizes: dict[int, int] = {}  # id(node) -> its size with aliases expanded

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)  # the anchored node itself, shared
            self._count(node, self._sizes.get(id(node), 1))
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            event = self.peek_event()
            raise yaml.composer.ComposerError(None, None, f"nests deeper than {MAX_DEPTH} levels",
                                              event.start_mark)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(node, yaml.SequenceNode):
            size = 1 + sum(self._sizes.get(id(c), 1) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            size = 1 + sum(self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value)
        else:
            size = 1
        self._count(node, size)
        return node

    def _count(self, node: Any, size: int) -> None:
        self._sizes[id(node)] = size
        if size > MAX_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"expands to more than {MAX_NODES:,} values (aliases counted as what they repeat)",
                node.start_mark)


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    loader.flatten_mapping(node)
    out: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if not isinstance(key, (str, int, float, bool)):
            raise yaml.constructor.ConstructorError(
                None, None, f"a mapping key must be a string or number; got {type(key).__name__}",
                key_node.start_mark)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark)
        out[key] = loader.construct_object(value_node, deep=deep)
    return out


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_yaml(path: str | Path) -> Any:
    """Parse one YAML file; a missing, unreadable, oversized or malformed file is a ConfigError."""
    path = Path(path)
    try:
        text = read_bytes(path, MAX_BYTES).decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except Refused as exc:
        raise ConfigError(path, "", str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot be read ({exc.__class__.__name__}: {exc})") from None
    return parse_yaml(text, path)


def parse_yaml(text: str, source: str | Path) -> Any:
    if len(text) > MAX_BYTES:
        raise ConfigError(source, "", f"is {size_text(len(text))}, over the limit of "
                                      f"{size_text(MAX_BYTES)}")
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(unknown position)"
        problem = (exc.problem or exc.context or "invalid YAML").strip()
        raise ConfigError(source, where, f"invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(source, "", f"invalid YAML: {exc}") from None
