"""The project's modules import each other without a cycle, counting every import statement: module-level ones
and the ones inside functions (a function-level import hides a cycle from Python, not from a reader)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("curation", "training", "jobs", "schemas", "bench", "eval")


def project_modules() -> dict[str, Path]:
    """Dotted module name → file, for every module of the project's packages: folders that are not packages (no
    ``__init__.py``: ``bench/out`` with its unpacked executor environments, caches) are not walked."""
    out = {}
    for pkg in PACKAGES:
        for folder, dirs, files in os.walk(ROOT / pkg):
            dirs[:] = sorted(d for d in dirs if (Path(folder) / d / "__init__.py").is_file())
            for f in sorted(files):
                if f.endswith(".py"):
                    parts = list((Path(folder) / f).relative_to(ROOT).with_suffix("").parts)
                    if parts[-1] == "__init__":
                        parts = parts[:-1]
                    out[".".join(parts)] = Path(folder) / f
    return out


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``name`` imports anywhere in its file (``from a import b`` → ``a.b`` when that is a
    module, else ``a``); relative imports resolved against the module's package."""
    is_pkg = path.name == "__init__.py"
    package = name if is_pkg else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import a.b.c` of a module → that module; of an attribute → its module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_cycle_finder_finds_a_function_level_cycle(tmp_path):
    """The walker sees imports inside functions, and the finder reports the cycle they make."""
    a = tmp_path / "a.py"
    a.write_text("import b\n")
    b = tmp_path / "b.py"
    b.write_text("def f():\n    from a import x\n    return x\n")
    modules = {"a": a, "b": b}
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    assert graph == {"a": {"b"}, "b": {"a"}}
    assert cycles(graph) == [["a", "b"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_project():
    modules = project_modules()
    assert len(modules) > 100, "the walker found too few modules"
    graph = {m: imports_of(m, p, modules) for m, p in modules.items()}
    assert sum(len(v) for v in graph.values()) > 200, "the walker found too few imports"
    found = cycles(graph)
    if found:
        detail = "; ".join(" ↔ ".join(c) for c in found)
        pytest.fail(f"import cycles: {detail}")
