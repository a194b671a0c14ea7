"""Every promise names its test, and every test named exists.

tests/README.md holds a table, promise → tests; docs/guarantees.md lists the guarantees, each of
which must have a row there, and the user docs name tests of their own (the tenants' table, the
RBAC paragraph). A renamed or deleted test would leave a promise shown by nothing: this finds
it. The tests are found by reading the files (ast), not by importing or collecting them, so
the tiers that need a cluster or Docker are checked too."""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TABLE_HEADING = "## Promises and their tests"
TABLE_HEADER = "promise (docs)"
# The guarantees moved out of the README into docs/guarantees.md; the check moved with them.
GUARANTEES = "docs/guarantees.md"
GUARANTEES_HEADING = "## What the operator guarantees"
# The documents that promise something to users and name the tests that show it.
PROMISING_DOCS = ("README.md", "docs/guarantees.md", "docs/reference.md", "CONTRIBUTING.md")
# `tests/x/test_y.py`, `tests/x/test_y.py::test_name`, `::test_name` (same file as before),
# a name may end in `*` (every test of that prefix).
REFERENCE = re.compile(r"`((?:tests/[\w/]+\.py)?(?:::[\w*]+)?)`")


@cache
def defined_tests(path: str) -> frozenset[str]:
    """The test functions of a file: module level, and Class::method."""
    tree = ast.parse((ROOT / path).read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.update(f"{node.name}::{item.name}" for item in node.body
                         if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef))
    return frozenset(n for n in names if n.split("::")[-1].startswith("test"))


def references(text: str) -> list[str]:
    """Node ids in backticks, `::name` completed with the file named before it."""
    found = []
    current = None
    for match in REFERENCE.finditer(text):
        reference = match.group(1)
        if not reference or reference == "::":
            continue
        if reference.startswith("tests/"):
            current = reference.split("::")[0]
            found.append(reference)
        elif current is not None:
            found.append(current + reference)
        else:
            raise AssertionError(f"{reference} follows no file")
    return found


def missing(reference: str) -> str | None:
    """Why the reference names nothing, or None."""
    path, _, name = reference.partition("::")
    if not (ROOT / path).is_file():
        return f"{path} does not exist"
    if not name:
        return None
    tests = defined_tests(path)
    if name.endswith("*"):
        if not any(t.startswith(name[:-1]) for t in tests):
            return f"no test in {path} starts with {name[:-1]}"
    elif name not in tests:
        return f"{path} has no test {name}"
    return None


def section(text: str, heading: str) -> str:
    start = text.index(heading)
    end = text.find("\n## ", start + len(heading))
    return text[start:end if end != -1 else len(text)]


def promise_rows() -> list[tuple[str, str]]:
    table = section((ROOT / "tests" / "README.md").read_text(), TABLE_HEADING)
    rows = []
    for line in table.splitlines():
        if not line.startswith("|"):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 2, f"a row of two cells, not: {line}"
        if cells[0] != TABLE_HEADER and not set(cells[1]) <= set("- "):
            rows.append((cells[0], cells[1]))
    return rows


def test_the_table_has_rows_and_each_names_a_test() -> None:
    rows = promise_rows()
    assert len(rows) > 30
    for promise, shown_by in rows:
        named = [r for r in references(shown_by) if "::" in r]
        assert named, f"{promise!r} names no test"


@pytest.mark.parametrize("reference", sorted({
    r for _, shown_by in promise_rows() for r in references(shown_by)}))
def test_each_test_named_in_the_table_exists(reference: str) -> None:
    assert missing(reference) is None, missing(reference)


def test_each_guarantee_has_a_row() -> None:
    guarantees = re.findall(r"^- \*\*(.+?)\*\*", section(
        (ROOT / GUARANTEES).read_text(), GUARANTEES_HEADING), re.MULTILINE)
    assert len(guarantees) >= 7, f"the bold guarantees under {GUARANTEES_HEADING}: {guarantees}"
    promises = " ".join(promise for promise, _ in promise_rows())
    for guarantee in guarantees:
        assert f"**{guarantee.rstrip(':.')}**" in promises, (
            f"the guarantee {guarantee!r} of {GUARANTEES} has no row in tests/README.md")


def test_the_readme_links_the_guarantees() -> None:
    assert f"]({GUARANTEES})" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("document", PROMISING_DOCS)
def test_each_test_a_document_names_exists(document: str) -> None:
    named = references((ROOT / document).read_text())
    problems = [m for r in named if (m := missing(r)) is not None]
    assert problems == []


def test_the_documents_name_tests() -> None:
    named = [r for d in PROMISING_DOCS for r in references((ROOT / d).read_text())]
    assert sum("::" in r for r in named) >= 5


def test_a_renamed_test_would_be_found() -> None:
    """The check itself: a name that does not exist, a prefix that matches nothing."""
    assert missing("tests/unit/test_promises.py::test_no_such_test") is not None
    assert missing("tests/unit/test_promises.py::test_no_such_*") is not None
    assert missing("tests/unit/test_nothing.py") is not None
    assert missing("tests/unit/test_promises.py::test_a_renamed_*") is None
    assert references("`tests/a.py::test_b`, `::test_c`") == [
        "tests/a.py::test_b", "tests/a.py::test_c"]
