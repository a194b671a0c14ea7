"""Run-once work against a real API server: a Job that completes (kwok's pod-complete stage
finishes the pods of Jobs), an App that waits for it with dependsOn condition Completed, a
Job deleted by hand made again, and a change of the pod that runs the work again."""

from __future__ import annotations

import pytest

from tests.kube_helpers import Kubectl, app_manifest, condition, wait_for, wait_ready

MIGRATE = {"restartPolicy": "Never", "command": ["flask", "db", "upgrade"], "ports": None}


def completed(kubectl: Kubectl, name: str) -> bool:
    app = kubectl.get("app", name)
    found = condition(app, "Completed")
    return bool(app) and found.get("status") == "True" and (
        found.get("observedGeneration") == app["metadata"]["generation"])  # type: ignore[index]


@pytest.mark.usefixtures("operator")
def test_a_migration_runs_once_and_the_web_app_waits_for_it(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest("web", dependsOn=[{"name": "migrate",
                                                  "condition": "Completed"}]))
    wait_for("web to wait for migrate", lambda: (a := kubectl.get("app", "web")) and condition(
        a, "Ready").get("reason") == "WaitingForDependency")

    kubectl.apply(app_manifest("migrate", **MIGRATE))
    wait_for("migrate to complete", lambda: completed(kubectl, "migrate"))
    app = wait_ready(kubectl, "migrate")
    assert condition(app, "Ready")["reason"] == "Completed"
    job = kubectl.get("job", "migrate")
    assert job is not None
    assert job["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert job["spec"]["backoffLimit"] == 0
    assert kubectl.get("deployment", "migrate") is None
    assert kubectl.get("service", "migrate") is None  # no ports, no Service
    wait_ready(kubectl, "web")

    # A Job deleted by hand is made again (and so runs again), like any child.
    first = job["metadata"]["uid"]
    kubectl("delete", "job", "migrate", "--cascade=background")
    again = wait_for("the Job to be made again", lambda: (j := kubectl.get("job", "migrate"))
                     and j["metadata"]["uid"] != first and j)
    assert again is not None
    wait_for("migrate to complete again", lambda: completed(kubectl, "migrate"))

    # A new image: the Job is replaced and the work runs again for it.
    kubectl.apply(app_manifest("migrate", **MIGRATE, image="pylounge_flask_app:v2"))
    replaced = wait_for("a Job of the new image", lambda: (j := kubectl.get(
        "job", "migrate")) and j["spec"]["template"]["spec"]["containers"][0][
            "image"] == "pylounge_flask_app:v2" and j)
    assert replaced["metadata"]["uid"] != again["metadata"]["uid"]
    wait_for("migrate to complete for the new image", lambda: completed(kubectl, "migrate"))
