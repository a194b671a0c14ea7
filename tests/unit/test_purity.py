"""The pure modules import neither kopf nor the kubernetes client, directly or through
another module of the package (DESIGN: they are tested with plain dicts, no cluster)."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "operator" / "app_operator"
# Every module of the core and the converter, and the runtime's pure parts.
PURE = sorted([*(f"core.{p.stem}" for p in (PACKAGE / "core").glob("*.py")),
               *(f"convert.{p.stem}" for p in (PACKAGE / "convert").glob("*.py")),
               "runtime.workqueue", "runtime.cache"])
FORBIDDEN = {"kopf", "kubernetes"}


def imports_of(module: str) -> set[str]:
    path = PACKAGE / f"{module.replace('.', '/')}.py"
    if not path.exists():
        path = PACKAGE / module.replace(".", "/") / "__init__.py"
    tree = ast.parse(path.read_text())
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            if node.module.startswith("app_operator"):
                # `from app_operator.core import model` imports the module core.model.
                names.update(f"{node.module}.{alias.name}" for alias in node.names
                             if (PACKAGE / node.module.replace("app_operator", "", 1).strip(".")
                                 .replace(".", "/") / f"{alias.name}.py").exists())
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
            if name.startswith("app_operator.") and name.count(".") >= 2:
                todo.append(name.split(".", 1)[1])
    return seen


@pytest.mark.parametrize("module", PURE)
def test_pure_module_has_no_api_imports(module: str) -> None:
    roots = {name.split(".")[0] for name in closure(module)}
    assert not roots & FORBIDDEN, f"{module} imports {roots & FORBIDDEN}"


def test_the_core_is_in_the_list() -> None:
    """The check itself: the core's modules are found, and a runtime module would fail it."""
    assert {"core.model", "core.render", "core.status", "convert.converter"} <= set(PURE)
    assert "kubernetes" in {n.split(".")[0] for n in closure("runtime.kube")}
