"""The layering: gan under train and bot, and inside each package imports that run one way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("gan", "train", "bot")


def imports(package: str) -> dict[str, set[str]]:
    """Module -> the modules of the project it imports (at any depth of its body, even under
    TYPE_CHECKING: a circle there still ties the modules together)."""
    graph = {}
    for path in sorted((ROOT / package).glob("*.py")):
        module = package if path.stem == "__init__" else f"{package}.{path.stem}"
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .x import y / from . import x
                names = [node.module] if node.module else [a.name for a in node.names]
                found.update(f"{package}.{n.split('.')[0]}" for n in names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(".".join(node.module.split(".")[:2]))
            elif isinstance(node, ast.Import):
                found.update(".".join(a.name.split(".")[:2]) for a in node.names)
        graph[module] = {m for m in found if m.split(".")[0] in PACKAGES and m != module}
    return graph


def circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle inside the graph, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(module: str, path: list[str]) -> list[str] | None:
        state[module] = 1
        for other in sorted(graph.get(module, ())):
            if state.get(other) == 1:
                return [*path[path.index(other) :], other]
            if other in graph and other not in state and (found := visit(other, [*path, other])):
                return found
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module, [module])):
            return found
    return None


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circles_inside_a_package(package):
    graph = {m: {d for d in deps if d.startswith(f"{package}.")} for m, deps in imports(package).items()}
    assert circle(graph) is None, " -> ".join(circle(graph) or [])


def test_gan_imports_neither_train_nor_bot_and_bot_never_imports_train():
    for package, banned in (("gan", ("train", "bot")), ("bot", ("train",)), ("train", ("bot",))):
        for module, deps in imports(package).items():
            assert not [d for d in deps if d.split(".")[0] in banned], f"{module} imports {deps}"


def test_the_circle_finder_finds_a_circle():
    assert circle({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}}) == ["a.x", "a.y", "a.z", "a.x"]
    assert circle({"a.x": {"a.y"}, "a.y": set()}) is None


def test_every_package_imports_on_its_own():
    for package in PACKAGES:
        done = subprocess.run([sys.executable, "-c", f"import {package}"], cwd=ROOT, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
