"""The pure modules import neither kopf nor the kubernetes client, directly or through
another module of the package (DESIGN: they are tested with plain dicts, no cluster)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "app_operator"
PURE = ["model", "render", "drift", "status", "crd", "workqueue", "convert", "yamlout",
        "cache"]
FORBIDDEN = {"kopf", "kubernetes"}


def imports_of(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module == "app_operator":
                names.update(f"app_operator.{alias.name}" for alias in node.names)
    return names


def closure(module: str) -> set[str]:
    seen: set[str] = set()
    todo = [module]
    while todo:
        current = todo.pop()
        for name in imports_of(current):
            if name in seen:
                continue
            seen.add(name)
            if name.startswith("app_operator."):
                todo.append(name.split(".", 1)[1])
    return seen


@pytest.mark.parametrize("module", PURE)
def test_pure_module_has_no_api_imports(module: str) -> None:
    roots = {name.split(".")[0] for name in closure(module)}
    assert not roots & FORBIDDEN, f"{module} imports {roots & FORBIDDEN}"
