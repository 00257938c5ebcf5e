"""The package keeps the shape docs/architecture.md describes: layers, no cycles, small modules.

Every import statement counts (module level, inside functions, under TYPE_CHECKING), as the
project's own contract check (``../shared/checks/imports.py``) counts them.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "request_dse"
MAX_LINES = 300


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = modules()


def resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> set[str]:
    """Every request_dse module ``module`` imports, by any import statement."""
    path = MODULES[module]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        else:
            continue
        for target in targets:
            if target.startswith("request_dse"):
                found = resolve(target)
                if found and found != module:
                    out.add(found)
    return out


GRAPH = {m: imports(m) for m in MODULES}


def layers() -> dict[str, int]:
    """Top-level package or root module -> layer number, from docs/architecture.md."""
    table = (REPO / "docs" / "architecture.md").read_text().split("## Layers", 1)[1].split("\n## ", 1)[0]
    out = {}
    for line in table.splitlines():
        m = re.match(r"^\| (\d+) \| (.+?) \|", line)
        if m:
            for name in re.findall(r"`([a-z_]+)`", m.group(2)):
                out[name] = int(m.group(1))
    return out


LAYERS = layers()


def unit(module: str) -> str:
    """The layer unit of a module: its top-level package, or the root module itself
    (``""`` for ``request_dse`` itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_package_and_root_module_has_a_layer() -> None:
    units = {unit(m) for m in MODULES} - {"", "testing"}
    assert units - set(LAYERS) == set(), "add them to the layer table of docs/architecture.md"


def test_imports_point_down() -> None:
    wrong = []
    for src, targets in GRAPH.items():
        a = unit(src)
        for dst in targets:
            b = unit(dst)
            if a == b or a in ("", "testing") or b == "":
                continue
            if b == "testing":
                wrong.append(f"{src} -> {dst} (nothing in the package imports request_dse.testing)")
            elif LAYERS[b] > LAYERS[a]:  # one row of the table (the leaf utilities) may import itself
                wrong.append(f"{src} (layer {LAYERS[a]}) -> {dst} (layer {LAYERS[b]})")
    assert wrong == []


def test_one_row_of_the_table_is_one_unit_except_the_leaves() -> None:
    shared = [layer for layer in set(LAYERS.values()) if sum(v == layer for v in LAYERS.values()) > 1]
    assert sorted(shared) == [1, 15]  # the leaf utilities; cli and its __main__


def cycles() -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in GRAPH:
        if v not in index:
            strong(v)

    def real(comp: list[str]) -> list[str]:  # a package importing its own children is no cycle of design
        members = set(comp)
        return [c for c in comp if any(w in members and not (w.startswith(c + ".") or c.startswith(w + "."))
                                       for w in GRAPH[c])]

    return [c for c in found if len(real(c)) > 1]


def test_no_import_cycles() -> None:
    assert cycles() == []


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_is_small(module: str) -> None:
    lines = len(MODULES[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{module} has {lines} lines; split it by concept"


def test_no_import_of_another_packages_private_module() -> None:
    wrong = []
    for src, targets in GRAPH.items():
        for dst in targets:
            last, home = dst.split(".")[-1], dst.rpartition(".")[0]
            if last.startswith("_") and not last.startswith("__") and src != home and not src.startswith(home + "."):
                wrong.append(f"{src} -> {dst}")
    assert wrong == []
