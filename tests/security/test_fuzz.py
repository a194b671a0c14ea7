"""Random Apps from the CRD's own schema, against the real API server.

Each generated App is either refused by the API server with a message, or accepted, in
which case the model must accept it too (the model and the CRD agree), a reconcile must
converge, and a second reconcile of the App as the API server stores it must write nothing:
every value the operator sends comes back from the API server in a form it recognises as
unchanged (quantities, empty values, Unicode). The schema's patterns, lengths, bounds and
enums drive the generator, so a field added to the model is fuzzed without a change here.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from app_operator.core import render
from app_operator.core.model import AppSpec
from app_operator.runtime.cache import Children
from app_operator.runtime.kube import Kube, KubeError, load_client, path_for
from app_operator.runtime.reconcile import Reconciler
from tests.kube_helpers import ROOT, Kubectl

EXAMPLES = int(os.environ.get("APP_OPERATOR_FUZZ_EXAMPLES", "500"))
MAX_LIST = 3  # items per generated list: enough to meet the list rules, small to send
MAX_TEXT = 40


def crd_spec_schema() -> dict[str, Any]:
    crd = yaml.safe_load((ROOT / "crds" / "apps.appoperator.dev.yaml").read_text())
    schema: dict[str, Any] = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"][
        "properties"]["spec"]
    return schema


def _text(schema: dict[str, Any]) -> st.SearchStrategy[str]:
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    limit = schema.get("maxLength", MAX_TEXT)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda text: len(text) <= limit)
    return st.text(min_size=schema.get("minLength", 0), max_size=min(limit, MAX_TEXT))


def from_schema(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values of a structural schema node (CEL rules are left to the API server to judge)."""
    if schema.get("x-kubernetes-int-or-string"):
        return st.one_of(
            st.integers(schema.get("minimum", 0), min(schema.get("maximum", 10**6), 10**15)),
            _text(schema))
    kind = schema.get("type")
    if kind == "object" and "properties" in schema:
        required = set(schema.get("required", []))
        fields = {name: from_schema(sub) for name, sub in schema["properties"].items()}
        return st.fixed_dictionaries(
            {k: v for k, v in fields.items() if k in required},
            optional={k: v for k, v in fields.items() if k not in required})
    if kind == "object":
        keys = st.from_regex(r"^[a-z0-9]([-a-z0-9.]{0,20}[a-z0-9])?/[a-z]{1,20}$|^[a-z]{1,20}$",
                             fullmatch=True)
        return st.dictionaries(keys, from_schema(schema.get("additionalProperties", {})),
                               max_size=min(schema.get("maxProperties", MAX_LIST), MAX_LIST))
    if kind == "array":
        keys = schema.get("x-kubernetes-list-map-keys")
        unique = (lambda item: tuple(item.get(k) for k in keys)) if keys else None
        return st.lists(from_schema(schema["items"]), unique_by=unique,
                        min_size=schema.get("minItems", 0),
                        max_size=min(schema.get("maxItems", MAX_LIST), MAX_LIST))
    if kind == "integer":
        return st.integers(schema.get("minimum", -(2**31)), schema.get("maximum", 2**31 - 1))
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        return _text(schema)
    raise AssertionError(f"no generator for {schema}")


@pytest.fixture
def kube(cluster: Kubectl, monkeypatch: pytest.MonkeyPatch) -> Kube:
    monkeypatch.setenv("KUBECONFIG", cluster.kubeconfig)
    return Kube(load_client())


class Tally:
    def __init__(self) -> None:
        self.refused = self.stalled = self.converged = 0


@pytest.mark.timeout(1800)  # 500 Apps, each created and reconciled twice on a real API server
def test_random_apps_are_refused_with_a_message_or_converge_quietly(
        kube: Kube, namespace: str) -> None:
    tally = Tally()
    counter = iter(range(10**6))

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(spec=from_schema(crd_spec_schema()))
    def check(spec: dict[str, Any]) -> None:
        spec = {**spec, "suspend": True}  # no pods: the simulated node need not run them
        name = f"fuzz-{next(counter)}"
        manifest = {"apiVersion": "appoperator.dev/v1alpha1", "kind": "App",
                    "metadata": {"name": name, "namespace": namespace}, "spec": spec}
        try:
            kube.request("POST", path_for("App", namespace), body=manifest)
        except KubeError as error:
            assert error.status in (400, 422), error
            assert error.message.strip(), "refused without a message"
            tally.refused += 1
            return
        try:
            AppSpec.model_validate(spec)
        except ValidationError as error:
            raise AssertionError(f"the API server accepted what the model refuses: "
                                 f"{error}\n{spec}") from error

        children = Children(kube, render.CHILD_KINDS,
                            render.CHILDREN_SELECTOR, render.INSTANCE_LABEL, [namespace],
                            fetch=lambda kind, ns, n: kube.get(kind, ns, n))
        first = Reconciler(kube, children).reconcile(stored(kube, namespace, name))
        kube.flush_events()
        if first.problem is not None:
            assert first.problem.message.strip()
            tally.stalled += 1
            return
        writes = kube.counts()["writes"]
        second = Reconciler(kube, children).reconcile(stored(kube, namespace, name))
        kube.flush_events()
        assert (second.applied, second.deleted, second.status_written) == ([], [], False), (
            f"a second reconcile wrote {second.applied or 'the status'} for {spec}")
        assert kube.counts()["writes"] == writes
        tally.converged += 1

    check()
    print(f"fuzz: {EXAMPLES} examples: {tally.refused} refused at admission, "
          f"{tally.stalled} stalled with a message, {tally.converged} converged quietly")
    assert tally.refused + tally.stalled + tally.converged >= EXAMPLES
    assert tally.converged > EXAMPLES // 10, "the generator hardly makes valid Apps"


def stored(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    app = kube.get("App", namespace, name)
    assert app is not None
    return app


def test_the_generator_covers_every_field() -> None:
    """Every property of the schema can be generated (a new kind of node fails here)."""
    def walk(schema: dict[str, Any], path: str) -> None:
        from_schema(schema)
        for name, sub in (schema.get("properties") or {}).items():
            walk(sub, f"{path}.{name}")
        if "items" in schema:
            walk(schema["items"], f"{path}[]")
    walk(crd_spec_schema(), "spec")

