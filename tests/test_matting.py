"""The layout of ``livebg.matting``: no import cycle between its modules, each imports on its own, and
the registry (read by the command line) imports no torch."""

from __future__ import annotations

import ast
import importlib.util
import subprocess
import sys
from pathlib import Path

import livebg

ROOT = Path(livebg.__file__).parent


def _modules(package: str = "livebg.matting") -> dict[str, Path]:
    """Every module of ``package`` by dotted name."""
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name == package or name.startswith(package + "."):
            out[name] = path
    return out


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules among ``modules`` that ``name`` imports, at the top or inside a function."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(
                    [*package.split(".")[: len(package.split(".")) - node.level + 1], base]
                ).strip(".")
            for alias in node.names:  # `from package import module` imports the module
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    # The top package is the public facade, which loads the rest lazily; `from livebg import
    # __version__` is no dependency on what it exports.
    return {m for m in found if m in modules and m not in (name, "livebg")}


def test_the_import_graph_of_livebg_matting_has_no_cycle() -> None:
    """No cycle among the modules of livebg.matting and whatever of livebg they import (the weights
    cache imports the registry, the export imports the weights cache)."""
    modules = _modules("livebg")
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert graph["livebg.matting.factory"] >= {"livebg.matting.backend", "livebg.matting.registry"}
    assert "livebg.matting.exported.graph" in graph["livebg.matting.exported.onnxruntime"]
    # The runtimes do not import the module that chooses among them.
    for runtime in ("graph", "onnxruntime", "openvino", "export", "upsampling"):
        assert "livebg.matting.backend" not in graph[f"livebg.matting.exported.{runtime}"]
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, "import cycle: " + " -> ".join([*path[path.index(name) :], name])
        if name in done:
            return
        for other in sorted(graph[name]):
            visit(other, (*path, name))
        done.add(name)

    for name in _modules():
        visit(name, ())


def test_each_module_imports_on_its_own() -> None:
    """Each module is imported first, with no other livebg module loaded before it (one interpreter,
    livebg's modules dropped before each import; third-party packages may stay loaded)."""
    names = [
        name
        for name in _modules()
        if not (name.endswith(".onnxruntime") or name.endswith(".openvino"))
        or importlib.util.find_spec(name.rpartition(".")[2]) is not None
    ]
    code = (
        "import importlib, sys\n"
        f"for name in {names!r}:\n"
        "    for loaded in [m for m in sys.modules if m == 'livebg' or m.startswith('livebg.')]:\n"
        "        del sys.modules[loaded]\n"
        "    importlib.import_module(name)\n"
        "    print('ok', name)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [word for name in names for word in ("ok", name)]
    assert len(names) >= 12


def test_the_registry_imports_no_torch() -> None:
    code = "import sys, livebg.matting.registry, livebg.config\nprint('torch' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
