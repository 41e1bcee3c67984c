"""The import structure of sbrlib: layers only import downwards, no import circles.

Layers, lowest first (docs/ARCHITECTURE.md draws the same picture). A module may import modules of
its own layer or of lower layers; imports inside functions count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [  # (layer name, module prefixes)
    ("foundation", ("sbrlib.core",)),
    ("data", ("sbrlib.data",)),
    ("models", ("sbrlib.models",)),
    ("evaluation", ("sbrlib.evaluation", "sbrlib.recommend")),
    ("training", ("sbrlib.training",)),
    ("tuning", ("sbrlib.tuning",)),
    ("notebook support", ("sbrlib.notebook",)),
    ("pipeline", ("sbrlib.pipeline", "sbrlib.__main__")),
]
# modules the models may not use even though they sit lower: files on disk and data acquisition
MODELS_MUST_NOT_IMPORT = ("sbrlib.data.store", "sbrlib.data.acquisition", "sbrlib.data.parsing",
                          "sbrlib.data.catalogue", "sbrlib.data.integrity", "sbrlib.data.synthetic")


def _modules() -> dict[str, Path]:
    mods = {}
    for p in (ROOT / "sbrlib").rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    return mods


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def import_graph() -> dict[str, set[str]]:
    """Module -> the sbrlib modules it imports (top-level and inside functions)."""
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = m.split(".") if path.name == "__init__.py" else m.split(".")[:-1]
                    pkg = pkg[: len(pkg) - node.level + 1]
                    base = ".".join([*pkg, base] if base else pkg)
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base for a in node.names]
            else:
                continue
            for t in targets:
                r = _resolve(t, mods) if t.startswith("sbrlib") else None
                if r and r != m and not m.startswith(r + "."):  # a package's own __init__ is not an edge back
                    graph[m].add(r)
    return graph


def layer_of(module: str) -> int | None:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    return None


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_every_module_has_a_layer():
    missing = [m for m in _modules() if m != "sbrlib" and layer_of(m) is None]
    assert not missing, f"modules outside the layers of docs/ARCHITECTURE.md: {missing}"


def test_imports_only_run_downwards():
    graph = import_graph()
    upward = [f"{a} -> {b}" for a, deps in graph.items() for b in deps
              if a != "sbrlib" and b != "sbrlib" and layer_of(b) > layer_of(a)]
    assert not upward, "imports from a lower layer to a higher one:\n" + "\n".join(sorted(upward))


def test_no_import_circles():
    assert cycles(import_graph()) == []


def test_models_do_not_touch_data_files():
    graph = import_graph()
    bad = [f"{a} -> {b}" for a, deps in graph.items() if a.startswith("sbrlib.models")
           for b in deps if b.startswith(MODELS_MUST_NOT_IMPORT)]
    assert not bad, bad


@pytest.mark.parametrize("module", ["sbrlib.models", "sbrlib.evaluation", "sbrlib.training"])
def test_layer_listing_is_not_empty(module):
    assert any(m == module or m.startswith(module + ".") for m in _modules())
