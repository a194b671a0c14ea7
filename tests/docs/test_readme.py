"""The README a newcomer reads: its tour can be followed as written, its links lead somewhere,
it stays short and speaks to users. No cluster needed: the tour itself is run against real
pods by tests/kind/test_tour.py; what can be judged from the text alone is judged here, in
every `make test`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.docs.tour import README, ROOT, Step, readme_steps, steps, unmatched

# The user docs written for users (not the design notes or the test docs).
USER_DOCS = ("README.md", "docs/guarantees.md", "docs/reference.md", "docs/troubleshooting.md",
             "docs/faq.md", "docs/benchmarks.md")
DEMO_APP = ROOT / "examples" / "apps" / "flask.yaml"
GREETING = "Hello from PyLounge and Docker!"
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def node_ports(document: dict[str, Any]) -> set[int]:
    spec = document.get("spec") or {}
    return {p["nodePort"] for p in spec.get("ports") or [] if "nodePort" in p}


def named_files(step: Step) -> list[str]:
    """Files a command reads: kubectl's -f/--filename, and any word that is a path of the
    checkout (has a slash and a file suffix)."""
    argv = step.argv()
    files = [argv[i + 1] for i, word in enumerate(argv[:-1]) if word in ("-f", "--filename")]
    files += [w.split("=", 1)[-1] for w in argv if w.startswith("--filename=")]
    files += [w for w in argv if "/" in w and re.search(r"\.(ya?ml|json|txt|py|sh)$", w)]
    return [f for f in dict.fromkeys(files) if f != "-" and "://" not in f]


def test_the_tour_starts_with_the_demo_and_shows_its_greeting() -> None:
    tour = readme_steps()
    assert len(tour) >= 6, [s.command for s in tour]
    assert tour[0].argv() == ["make", "demo"]
    assert GREETING in tour[0].shown
    assert sum(1 for s in tour if s.shown) >= 5, "most commands show what they print"


def test_every_file_the_tour_names_exists() -> None:
    named = [f for step in readme_steps() for f in named_files(step)]
    assert [f for f in named if not (ROOT / f).is_file()] == []


def test_the_tour_works_on_any_cluster_the_kubeconfig_names() -> None:
    """No command names a context, a kubeconfig or the demo's cluster: the same text runs on the
    user's cluster and on the kind tier's, whichever kubeconfig and context are current."""
    for step in readme_steps():
        argv = step.argv()
        assert not any(w.startswith(("--context", "--kubeconfig", "--cluster"))
                       for w in argv), step.command
        assert not any("kind-app-operator" in w or "KUBECONFIG" in w for w in argv), step.command


def test_no_app_of_the_readme_takes_the_demos_node_port() -> None:
    """The demo's Flask App holds its nodePort while the tour runs: an App the README shows or
    applies must not ask for it (the old README's first App did, and failed)."""
    held = set().union(*(node_ports(d) for d in yaml.safe_load_all(DEMO_APP.read_text()) if d))
    assert held, "the demo's App has a nodePort (kind-config.yaml maps it to localhost)"
    text = README.read_text()
    documents = [d for block in re.findall(r"^```yaml\n(.*?)^```", text, re.M | re.S)
                 for d in yaml.safe_load_all(block) if d]
    for step in readme_steps():
        for name in named_files(step):
            if (ROOT / name).resolve() != DEMO_APP.resolve() and name.endswith((".yaml", ".yml")):
                documents += [d for d in yaml.safe_load_all((ROOT / name).read_text()) if d]
    assert documents
    for document in documents:
        assert not node_ports(document) & held, document["metadata"]["name"]


@pytest.mark.parametrize("document", USER_DOCS)
def test_links_lead_somewhere(document: str) -> None:
    path = ROOT / document
    targets = [t for t in LINK.findall(path.read_text()) if "://" not in t]
    assert [t for t in targets if not (path.parent / t).exists()] == []


@pytest.mark.parametrize("document", USER_DOCS)
def test_user_docs_tell_no_history_of_the_project_and_nothing_of_its_machines(
        document: str) -> None:
    text = (ROOT / document).read_text()
    assert re.findall(r"\bissues? \d+|\bthis machine\b|\bslow day\b", text, re.I) == []


def test_the_readme_stays_short() -> None:
    """What users compare it with keep theirs short; reference and details live in docs/."""
    assert len(README.read_text().splitlines()) <= 150


def test_the_tour_is_checked_loosely_only_where_output_varies() -> None:
    """The matching rule itself: ages are free, words are not; order counts; a shown line is
    the start of a printed one; `...` is only for the reader."""
    printed = ("NAME    IMAGE   READY   AGE\nother   x:1     1       5s\n"
               "flask   x:1     1       2m30s\n")
    assert unmatched(["NAME IMAGE READY AGE", "flask x:1 1 1m"], printed) == []
    assert unmatched(["...", "flask x:1 1 1m"], printed) == []
    assert unmatched(["flask x:1 2 1m"], printed) == ["flask x:1 2 1m"]
    assert unmatched(["flask x:1 1 1m", "NAME IMAGE READY AGE"], printed) == [
        "NAME IMAGE READY AGE"]
    assert unmatched(['service "flask" deleted'],
                     'service "flask" deleted from default namespace\n') == []
    assert unmatched(['service "flask"'], 'service "flasks" deleted\n') == ['service "flask"']
    parsed = steps("```console\n$ a # note\none\n$ b\n```\n```sh\n$ c\n```\n")
    assert [(s.command, s.shown) for s in parsed] == [("a # note", ["one"]), ("b", [])]
    assert parsed[0].argv() == ["a"]


def test_the_contributing_guide_says_how_to_run_the_tour() -> None:
    assert "tests/kind/test_tour.py" in (ROOT / "CONTRIBUTING.md").read_text()
    assert Path(ROOT / "tests" / "kind" / "test_tour.py").is_file()


def test_no_command_of_the_readme_binds_the_demos_host_port() -> None:
    """kind-config.yaml maps the demo's nodePort to a host port; a `kubectl port-forward` the
    README suggests after the demo must listen on another one."""
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    held = {m["hostPort"] for node in config["nodes"] for m in node.get("extraPortMappings", [])}
    assert held
    forwarded = {int(p) for p in re.findall(r"port-forward\s+\S+\s+(\d+):", README.read_text())}
    assert forwarded, "the README shows how to reach an App without a nodePort"
    assert forwarded.isdisjoint(held)
