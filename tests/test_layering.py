"""The package's import graph, read with ``ast``: no cycle among top-level imports, and no import
of a package module inside a function (a lower layer that must call up reads a hook the upper
layer sets when it loads, documented where the hook is defined)."""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "rewritediff"


def _modules(package: Path = PACKAGE) -> dict[str, Path]:
    out = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _targets(node: ast.Import | ast.ImportFrom, module: str, path: Path, known: dict[str, Path]) -> list[str]:
    """The package modules an import statement loads (``from a import b`` is ``a.b`` when that is a module)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module if path.name == "__init__.py" else module.rpartition(".")[0]
            parts = package.split(".")[: len(package.split(".")) - node.level + 1]
            base = ".".join([*parts, base] if base else parts)
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
    out = []
    for name in names:
        while name and name not in known:
            name = name.rpartition(".")[0]
        if name and name not in out:
            out.append(name)
    return out


def _imports(package: Path = PACKAGE) -> tuple[dict[str, set[str]], Counter]:
    """Top-level import edges per module, and (module, target) counts of imports inside functions."""
    known = _modules(package)
    top: dict[str, set[str]] = {m: set() for m in known}
    inner: Counter = Counter()
    for module, path in known.items():
        stack: list[tuple[ast.AST, bool]] = [(n, False) for n in ast.parse(path.read_text(), str(path)).body]
        while stack:
            node, in_function = stack.pop()
            if isinstance(node, ast.Import | ast.ImportFrom) and not (isinstance(node, ast.ImportFrom) and node.module == "__future__"):
                for target in _targets(node, module, path, known):
                    if target == module:
                        continue
                    if in_function:
                        inner[(module, target)] += 1
                    else:
                        top[module].add(target)
            if isinstance(node, ast.If) and ast.unparse(node.test).endswith("TYPE_CHECKING"):
                continue  # not run: no edge
            inside = in_function or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            stack.extend((child, inside) for child in ast.iter_child_nodes(node))
    return top, inner


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph as a path of modules, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        state[start] = 1
        stack = [iter(sorted(graph[start]))]
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                stack.pop()
                state[path.pop()] = 2
                continue
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph[nxt])))
    return None


def test_no_import_cycle() -> None:
    top, _ = _imports()
    cycle = _cycle(top)
    assert cycle is None, "import cycle among top-level imports: " + " -> ".join(cycle or [])


def test_no_import_inside_a_function() -> None:
    _, inner = _imports()
    assert not inner, (
        "imports inside functions ((module, target): statements); import at the top of the file, move the code to its layer, "
        "or give the lower layer a hook the upper one sets: " + repr(dict(sorted(inner.items())))
    )


def test_the_reader_finds_cycles_and_in_function_imports(tmp_path: Path) -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None
    top, _ = _imports()
    assert "rewritediff.terms" in top["rewritediff.tensor"]
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("import numpy\n\n\ndef f():\n    from pkg import high\n    import numpy as np\n    return high, np\n")
    (pkg / "high.py").write_text("from typing import TYPE_CHECKING\n\nfrom pkg import low\n\nif TYPE_CHECKING:\n    from pkg.low import f\n")
    top, inner = _imports(pkg)
    assert top["pkg.high"] == {"pkg.low"} and top["pkg.low"] == set()
    assert inner == {("pkg.low", "pkg.high"): 1}


MAX_LINES = 530  # "about 500": one concept per file


def test_every_module_is_short_and_on_the_map() -> None:
    doc = (PACKAGE.parent / "docs" / "architecture.md").read_text()
    long, unmapped = [], []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if len(path.read_text().splitlines()) > MAX_LINES:
            long.append(rel)
        if path.name != "__init__.py" and rel not in doc and path.name not in doc:
            unmapped.append(rel)
    assert not long, f"modules over {MAX_LINES} lines (split them by concept): {long}"
    assert not unmapped, f"modules docs/architecture.md does not name (add them to the map): {unmapped}"
