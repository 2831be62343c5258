"""Layering: the pure core imports without the UI libraries, and no two modules import each other.

The layout (README.md, "How the code is laid out"): store <- tracking <- models <- registry <- capture,
scoring, serving <- notebook, server, cli. Imports only point down; the graph is read from the source,
so an import inside a function counts (a lazy import hides a circle, it does not remove it).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORE = ["jupyter_lifecycle", "jupyter_lifecycle.store", "jupyter_lifecycle.tracking", "jupyter_lifecycle.models",
        "jupyter_lifecycle.tracing"]
OPTIONAL_CORE = ["jupyter_lifecycle.registry", "jupyter_lifecycle.pyfunc", "jupyter_lifecycle.sklearn", "jupyter_lifecycle.data",
                 "jupyter_lifecycle.xgboost", "jupyter_lifecycle.lightgbm", "jupyter_lifecycle.genai",
                 "jupyter_lifecycle.sync"]


def test_core_imports_with_jupyter_parts_unimportable() -> None:
    code = textwrap.dedent(
        f"""
        import importlib.util, sys

        class Block:
            blocked = ("IPython", "ipywidgets", "ipykernel", "altair", "tornado", "jupyter_server")
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in self.blocked:
                    raise ImportError(f"{{name}} is blocked: the core must not import it")
                return None

        sys.meta_path.insert(0, Block())
        import jupyter_lifecycle as lc
        for name in {CORE!r}:
            importlib.import_module(name)
        for name in {OPTIONAL_CORE!r}:
            if importlib.util.find_spec(name) is not None:
                importlib.import_module(name)
        lc.set_store(sys.argv[1])
        with lc.start_run():
            lc.log_metric("m", 1.0)
        assert len(lc.search_runs()) == 1
        print("core ok")
        """
    )
    import tempfile

    with tempfile.TemporaryDirectory() as home:
        out = subprocess.run([sys.executable, "-c", code, home], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "core ok"


# ---- the import graph, read from the source (imports inside functions count too) ----------

PACKAGE = ROOT / "jupyter_lifecycle"
PURE_CORE = ("store", "tracking", "models", "registry", "data", "tracing", "genai")
UI_LIBRARIES = ("IPython", "ipywidgets", "ipykernel", "altair", "tornado", "jupyter_server")
NOTEBOOK_LAYER_USERS = ("jupyter_lifecycle", "jupyter_lifecycle.notebook", "jupyter_lifecycle.server", "jupyter_lifecycle.cli")


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imports(name: str, path: Path, is_package: bool, modules: Iterable[str]) -> set[str]:
    """Every absolute name ``name`` imports: a module of the package when it is one, else the top name."""
    known = set(modules)
    base = name.split(".") if is_package else name.split(".")[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = ".".join(base[: len(base) - node.level + 1] + [node.module or ""]).strip(".") if node.level else node.module or ""
            for alias in node.names:  # `from pkg import sub` imports the module pkg.sub
                out.add(f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target)
    return out


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, is_package, modules) for name, (path, is_package) in modules.items()}


def test_graph_reader_sees_lazy_and_relative_imports() -> None:
    graph = _graph()
    # a lazy import inside a function, a relative submodule import, a module-level third-party import
    assert "jupyter_lifecycle.notebook.extension" in graph["jupyter_lifecycle"]
    assert "jupyter_lifecycle.tracking.artifacts" in graph["jupyter_lifecycle.tracking.client"]
    assert "altair" in graph["jupyter_lifecycle.notebook.charts"]


def test_pure_core_never_imports_ui_libraries() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, imports in _graph().items()
        if name.split(".")[1:2] and name.split(".")[1] in PURE_CORE
        for imported in imports
        if imported.split(".")[0] in UI_LIBRARIES
    ]
    assert not offenders, "store/, tracking/, models/, registry/ and data/ must not import UI libraries:\n" + "\n".join(offenders)


def test_only_the_top_imports_the_notebook_layer() -> None:
    offenders = [
        f"{name} imports {imported}"
        for name, imports in _graph().items()
        if not name.startswith(NOTEBOOK_LAYER_USERS[1:]) and name not in NOTEBOOK_LAYER_USERS
        for imported in imports
        if imported.startswith("jupyter_lifecycle.notebook")
    ]
    assert not offenders, "\n".join(offenders)


def test_no_import_circles() -> None:
    graph = {name: {i for i in imports if i.startswith("jupyter_lifecycle")} for name, imports in _graph().items()}
    cycles = [component for component in _strongly_connected(graph) if len(component) > 1]
    assert not cycles, "modules that import each other (directly or through others):\n" + "\n".join(
        " <-> ".join(sorted(c)) for c in cycles
    )


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, ()))))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(component)
    return components


def test_circle_finder_finds_a_circle() -> None:
    cycles = [c for c in _strongly_connected({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) if len(c) > 1]
    assert [sorted(c) for c in cycles] == [["a", "b", "c"]]
