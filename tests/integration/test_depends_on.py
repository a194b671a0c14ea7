"""dependsOn against a real API server and the operator as a process: an App waits at 0
replicas for the App it names, starts when that one is Ready (woken by its status, not by
a resync), and a cycle is reported."""

from __future__ import annotations

import pytest

from tests.kube_helpers import Kubectl, app_manifest, condition, wait_for, wait_ready


def reason(kubectl: Kubectl, name: str, kind: str = "Ready") -> str | None:
    app = kubectl.get("app", name)
    return condition(app, kind).get("reason") if app else None


@pytest.mark.usefixtures("operator")
def test_an_app_starts_once_its_dependency_is_ready(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest("web", replicas=2, dependsOn=[{"name": "db"}]))
    wait_for("web to wait for db", lambda: reason(kubectl, "web") == "WaitingForDependency")
    app = kubectl.get("app", "web")
    assert app is not None
    assert "App db does not exist" in condition(app, "Ready")["message"]
    deployment = kubectl.get("deployment", "web")
    assert deployment is not None and deployment["spec"]["replicas"] == 0

    # db is created and becomes Ready: web is woken by that, within seconds (the operator's
    # resync is 5 minutes away).
    kubectl.apply(app_manifest("db"))
    wait_ready(kubectl, "db")
    wait_ready(kubectl, "web")
    deployment = kubectl.get("deployment", "web")
    assert deployment is not None and deployment["spec"]["replicas"] == 2

    # Only the start waits: db suspended, web keeps running.
    kubectl("patch", "app", "db", "--type=merge", "--patch", '{"spec":{"suspend":true}}')
    wait_for("db to be suspended", lambda: reason(kubectl, "db") == "Suspended")
    deployment = kubectl.get("deployment", "web")
    assert deployment is not None and deployment["spec"]["replicas"] == 2
    assert reason(kubectl, "web") == "Available"


@pytest.mark.usefixtures("operator")
def test_a_cycle_is_reported_by_each_app_in_it(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest("a", dependsOn=[{"name": "b"}]))
    kubectl.apply(app_manifest("b", dependsOn=[{"name": "a"}]))
    for name, cycle in (("a", "a -> b -> a"), ("b", "b -> a -> b")):
        app = wait_for(f"{name} to report the cycle", lambda name=name: (
            x := kubectl.get("app", name)) and condition(x, "Stalled").get(
                "reason") == "DependencyCycle" and x)
        assert cycle in condition(app, "Stalled")["message"]
        deployment = kubectl.get("deployment", name)
        assert deployment is not None and deployment["spec"]["replicas"] == 0
    # Breaking the cycle lets both start.
    kubectl.apply(app_manifest("b"))
    wait_ready(kubectl, "b")
    wait_ready(kubectl, "a")
