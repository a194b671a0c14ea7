"""The operator against a real API server: children, updates, drift, status, deletion."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest

from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    condition,
    gone,
    wait_for,
    wait_ready,
    wait_stalled,
)


def settled_versions(kubectl: Kubectl, *objects: tuple[str, str]) -> dict[str, str]:
    """The resourceVersions once they stop changing for two seconds."""
    def stable() -> dict[str, str] | None:
        first = resource_versions(kubectl, *objects)
        time.sleep(2)
        return first if resource_versions(kubectl, *objects) == first else None
    return wait_for("the objects to settle", stable, timeout=30)


def resource_versions(kubectl: Kubectl, *objects: tuple[str, str]) -> dict[str, str]:
    result = {}
    for kind, name in objects:
        obj = kubectl.get(kind, name)
        assert obj is not None, f"{kind} {name} is missing"
        result[f"{kind}/{name}"] = obj["metadata"]["resourceVersion"]
    return result


def container(kubectl: Kubectl, name: str = "flask") -> dict[str, Any]:
    deployment = kubectl.get("deployment", name)
    assert deployment is not None
    result: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return result


@pytest.mark.usefixtures("operator")
def test_create_makes_children_and_reports_ready(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    kubectl("wait", "--for=condition=Ready", "app/flask", "--timeout=60s")
    app = kubectl.get("app", "flask")
    assert app is not None
    deployment = kubectl.get("deployment", "flask")
    service = kubectl.get("service", "flask")
    claim = kubectl.get("pvc", "flask-data")
    assert deployment and service and claim
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("App", app["metadata"]["uid"],
                                                                  True)
    assert service["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    assert "ownerReferences" not in claim["metadata"]  # Retain by default
    assert service["spec"]["ports"][0]["port"] == 80
    status = app["status"]
    assert status["readyReplicas"] == 1 and status["availableReplicas"] == 1
    assert status["url"] == f"http://flask.{kubectl.namespace}.svc"
    assert status["volumes"] == [{"name": "data", "claimName": "flask-data", "phase": "Bound",
                                  "capacity": "1Gi"}]
    assert condition(app, "Reconciling")["status"] == "False"
    assert condition(app, "Stalled")["status"] == "False"
    events = kubectl("get", "events", "--field-selector", "involvedObject.name=flask,"
                     "involvedObject.kind=App", "-o", "json")
    messages = " ".join(e["message"] for e in json.loads(events)["items"])
    assert "Created PersistentVolumeClaim flask-data, Service flask, Deployment flask" in messages
    printed = kubectl("get", "apps")
    assert printed.split("\n")[0].split() == ["NAME", "IMAGE", "DESIRED", "READY", "STATUS",
                                              "URL", "AGE"]
    assert "Available" in printed and "pylounge_flask_app:v1" in printed


@pytest.mark.usefixtures("operator")
def test_updates_reach_the_children(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest())
    wait_ready(kubectl)
    kubectl.apply(app_manifest(
        image="pylounge_flask_app:v2",
        env=[{"name": "GREETING", "value": "privet"}],
        ports=[{"name": "http", "containerPort": 5000, "servicePort": 8080},
               {"name": "metrics", "containerPort": 9100}],
        resources={"limits": {"memory": "256Mi"}}))
    wait_ready(kubectl)
    c = container(kubectl)
    assert c["image"] == "pylounge_flask_app:v2"
    assert c["env"] == [{"name": "GREETING", "value": "privet"}]
    assert c["resources"]["limits"]["memory"] == "256Mi"
    service = kubectl.get("service", "flask")
    assert service is not None
    assert [(p["name"], p["port"]) for p in service["spec"]["ports"]] == [
        ("http", 8080), ("metrics", 9100)]
    # Removing a field from the App removes it from the child.
    kubectl.apply(app_manifest(image="pylounge_flask_app:v2"))
    wait_ready(kubectl)
    assert "env" not in container(kubectl)
    assert "resources" not in container(kubectl) or not container(kubectl)["resources"]


@pytest.mark.usefixtures("operator")
def test_removing_ports_deletes_the_service(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest())
    wait_ready(kubectl)
    kubectl("patch", "app", "flask", "--type=json", "-p",
            '[{"op": "remove", "path": "/spec/ports"}]')
    wait_for("the Service to be deleted", lambda: kubectl.get("service", "flask") is None)
    app = wait_ready(kubectl)
    assert "url" not in app["status"]
    assert "ports" not in container(kubectl)


@pytest.mark.usefixtures("operator")
def test_volumes_follow_the_retention_policy(kubectl: Kubectl) -> None:
    volumes = [{"name": "data", "mountPath": "/data"}, {"name": "cache", "mountPath": "/cache"}]
    kubectl.apply(app_manifest(volumes=volumes))
    wait_ready(kubectl)
    # Retain (default): a volume removed from the spec is unmounted, its claim kept.
    kubectl.apply(app_manifest(volumes=volumes[:1]))
    app = wait_for("cache in retainedClaims", lambda: (a := kubectl.get("app", "flask")) and
                   a["status"].get("retainedClaims") == ["flask-cache"] and a)
    assert kubectl.get("pvc", "flask-cache") is not None
    assert [m["name"] for m in container(kubectl)["volumeMounts"]] == ["data"]
    assert [v["name"] for v in app["status"]["volumes"]] == ["data"]
    # Delete: claims become owned; a volume removed from the spec loses its claim.
    kubectl.apply(app_manifest(volumes=volumes[:1], volumeDeletionPolicy="Delete"))
    wait_for("flask-data owned by the App", lambda: (c := kubectl.get("pvc", "flask-data"))
             and c["metadata"].get("ownerReferences"))
    kubectl.apply(app_manifest(volumes=[], volumeDeletionPolicy="Delete"))
    wait_for("flask-data deleted", lambda: gone(kubectl, "pvc", "flask-data"))
    assert kubectl.get("pvc", "flask-cache") is not None  # retained earlier, left alone


@pytest.mark.usefixtures("operator")
def test_growing_a_volume_expands_its_claim(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data", "size": "1Gi"}]))
    wait_ready(kubectl)
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data", "size": "2Gi"}]))
    wait_for("the claim to request 2Gi", lambda: (c := kubectl.get("pvc", "flask-data")) and
             c["spec"]["resources"]["requests"]["storage"] == "2Gi")
    wait_for("status to report 2Gi", lambda: (a := kubectl.get("app", "flask")) and
             a["status"]["volumes"][0].get("capacity") == "2Gi")
    refused = kubectl.run("apply", "-f", "-", check=False, stdin=json.dumps(app_manifest(
        volumes=[{"name": "data", "mountPath": "/data", "size": "1Gi"}])))
    assert refused.returncode != 0
    assert "spec.volumes[0].size" in refused.stderr and "cannot shrink" in refused.stderr


@pytest.mark.usefixtures("operator")
def test_scale_subresource(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest())
    wait_ready(kubectl)
    kubectl("scale", "app/flask", "--replicas=3")
    wait_for("3 available replicas", lambda: (d := kubectl.get("deployment", "flask")) and
             d.get("status", {}).get("availableReplicas") == 3)
    app = wait_ready(kubectl)
    assert app["status"]["replicas"] == 3
    scale = json.loads(kubectl("get", "--raw",
                               f"/apis/appoperator.dev/v1alpha1/namespaces/{kubectl.namespace}"
                               "/apps/flask/scale"))
    assert scale["spec"]["replicas"] == 3
    assert scale["status"]["replicas"] == 3
    assert scale["status"]["selector"] == app["status"]["selector"]


@pytest.mark.usefixtures("operator")
def test_suspend_scales_to_zero_and_keeps_the_rest(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    wait_ready(kubectl)
    kubectl("patch", "app", "flask", "--type=merge", "-p", '{"spec": {"suspend": true}}')
    app = wait_for("Suspended", lambda: (a := kubectl.get("app", "flask")) and
                   condition(a, "Ready").get("reason") == "Suspended" and a)
    deployment = kubectl.get("deployment", "flask")
    assert deployment is not None and deployment["spec"]["replicas"] == 0
    assert kubectl.get("service", "flask") is not None
    assert kubectl.get("pvc", "flask-data") is not None
    assert app["status"]["readyReplicas"] == 0
    kubectl("patch", "app", "flask", "--type=merge", "-p", '{"spec": {"suspend": false}}')
    assert wait_ready(kubectl)["status"]["readyReplicas"] == 1


@pytest.mark.usefixtures("operator")
def test_drift_is_repaired(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest())
    wait_ready(kubectl)
    kubectl("set", "image", "deployment/flask", "flask=someone-else:1")
    wait_for("the image to be put back", lambda: container(kubectl)["image"] ==
             "pylounge_flask_app:v1", timeout=20)
    kubectl("delete", "service", "flask")
    wait_for("the Service to come back", lambda: kubectl.get("service", "flask"), timeout=20)
    kubectl("delete", "deployment", "flask")
    wait_for("the Deployment to come back", lambda: (d := kubectl.get("deployment", "flask"))
             and not d["metadata"].get("deletionTimestamp"), timeout=20)
    wait_ready(kubectl)


def test_unchanged_app_writes_nothing(kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    wait_ready(kubectl)
    objects = (("app", "flask"), ("deployment", "flask"), ("service", "flask"),
               ("pvc", "flask-data"))
    before = settled_versions(kubectl, *objects)
    # A restart reconciles every App again; a resync does too.
    operator.stop()
    operator.start()
    wait_for("the restarted operator's first pass over the Apps",
             lambda: operator.logs().count("first pass done") == 2)
    # It says so itself: 1 App checked, no write (the reads are its list of the Apps).
    assert re.search(r"first pass done [0-9.]+s after start: Apps checked 1, writes 0,",
                     operator.logs().split("app-operator started")[-1])
    assert resource_versions(kubectl, *objects) == before
    assert "created" not in operator.logs().split("app-operator started")[-1]
    # Re-applying the same manifest changes nothing either.
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    time.sleep(2)
    assert resource_versions(kubectl, *objects) == before


@pytest.mark.usefixtures("operator")
def test_name_conflict_is_stalled_and_left_alone(kubectl: Kubectl) -> None:
    kubectl("create", "deployment", "flask", "--image=someone-elses:1")
    kubectl.apply(app_manifest())
    app = wait_stalled(kubectl, "flask", "NameConflict")
    assert "Deployment flask" in condition(app, "Stalled")["message"]
    assert condition(app, "Ready")["status"] == "False"
    assert container(kubectl)["image"] == "someone-elses:1"
    assert kubectl.get("service", "flask") is None  # nothing applied while in conflict
    # Other Apps in the namespace are not disturbed.
    kubectl.apply(app_manifest("other"))
    wait_ready(kubectl, "other")
    # Once the conflicting object is gone, the App proceeds.
    kubectl("delete", "deployment", "flask")
    wait_ready(kubectl, timeout=90)


def test_delete_while_operator_is_down(kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    kubectl.apply(app_manifest("scratch", volumes=[{"name": "tmp", "mountPath": "/tmp"}],
                               volumeDeletionPolicy="Delete"))
    wait_ready(kubectl)
    wait_ready(kubectl, "scratch")
    operator.stop()
    kubectl("delete", "app", "flask", "scratch", "--timeout=30s")  # no finalizer blocks it
    wait_for("the children to be collected", lambda: not kubectl.items(
        "deployments,services", "app.kubernetes.io/managed-by=app-operator"))
    assert kubectl.get("pvc", "flask-data") is not None  # Retain keeps the data
    wait_for("scratch-tmp to be collected", lambda: gone(kubectl, "pvc", "scratch-tmp"))
    # A new App of the same name finds its data again.
    operator.start()
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    app = wait_ready(kubectl)
    assert app["status"]["volumes"][0]["claimName"] == "flask-data"


def test_invalid_apps_are_refused_with_the_field_named(kubectl: Kubectl) -> None:
    cases = [
        (app_manifest(ports=[{"name": "http", "containerPort": 80},
                             {"name": "http", "containerPort": 81}]),
         "spec.ports: Invalid value: two ports have the same name"),
        (app_manifest(ports=[{"containerPort": 80}, {"name": "web", "containerPort": 80}]),
         "spec.ports[1]: Duplicate value"),
        (app_manifest(volumes=[{"name": "a", "mountPath": "/d"}, {"name": "b", "mountPath": "/d"}]),
         "spec.volumes: Invalid value: two volumes use the same mountPath"),
        (app_manifest(ports=[{"name": "http", "containerPort": 80, "nodePort": 30080}]),
         "nodePort needs service.type NodePort"),
        (app_manifest(replicas=2, volumes=[{"name": "a", "mountPath": "/d"}]),
         "spec.replicas: Invalid value: replicas > 1 needs every volume"),
        (app_manifest(probes={"readiness": {"httpGet": {"port": "web"}}}),
         "spec.probes.readiness.httpGet.port"),
        (app_manifest(image=None), "spec.image: Required value"),
        (app_manifest(privileged=True), 'unknown field "spec.privileged"'),
        (app_manifest(volumes=[{"name": "a", "mountPath": "/d", "hostPath": "/etc"}]),
         'unknown field "spec.volumes[0].hostPath"'),
        (app_manifest("Bad_Name"), "metadata.name"),
    ]
    for manifest, message in cases:
        result = kubectl.run("apply", "-f", "-", stdin=json.dumps(manifest), check=False)
        assert result.returncode != 0, f"accepted: {manifest['spec']}"
        assert message in result.stderr, result.stderr
    assert kubectl.items("apps") == []


@pytest.mark.usefixtures("operator")
def test_restricted_profile_reaches_the_pod(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest(securityProfile="restricted", runAsUser=10001, fsGroup=10001))
    wait_ready(kubectl)
    deployment = kubectl.get("deployment", "flask")
    assert deployment is not None
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    assert pod["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # The namespace can enforce Pod Security "restricted" and the App's pods are admitted,
    # while a privileged pod is not.
    kubectl.run("label", "namespace", kubectl.namespace or "", "--overwrite",
                "pod-security.kubernetes.io/enforce=restricted", namespaced=False)
    refused = kubectl.run("run", "root", "--image=busybox", "--privileged", check=False)
    assert refused.returncode != 0 and "restricted" in refused.stderr
    kubectl("delete", "pods", "-l", "app.kubernetes.io/instance=flask", "--wait=false")
    wait_ready(kubectl)
    pods = wait_for("a new pod", lambda: [p for p in kubectl.items(
        "pods", "app.kubernetes.io/instance=flask") if not p["metadata"].get("deletionTimestamp")])
    assert pods[0]["spec"]["securityContext"]["runAsNonRoot"] is True


@pytest.mark.usefixtures("operator")
def test_api_refusal_stalls_one_app_only(kubectl: Kubectl, cluster: Kubectl,
                                         namespace: str) -> None:
    # A class without volume expansion: growing the claim is refused by the API server.
    storage_class = f"fixed-{namespace}"[:63]
    cluster.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": storage_class}, "provisioner": "kwok.x-k8s.io/volume",
                   "allowVolumeExpansion": False})
    try:
        volume = {"name": "data", "mountPath": "/data", "storageClassName": storage_class}
        kubectl.apply(app_manifest("fixed", volumes=[volume]))
        kubectl.apply(app_manifest("fine"))
        wait_ready(kubectl, "fine")
        wait_for("the claim to exist", lambda: kubectl.get("pvc", "fixed-data"))
        kubectl.apply(app_manifest("fixed", volumes=[{**volume, "size": "5Gi"}]))
        app = wait_stalled(kubectl, "fixed", "ApiRefused")
        message = condition(app, "Stalled")["message"]
        assert "PersistentVolumeClaim fixed-data" in message
        assert condition(app, "Stalled")["observedGeneration"] == app["metadata"]["generation"]
        events = json.loads(kubectl("get", "events", "--field-selector",
                                    "involvedObject.name=fixed,type=Warning", "-o", "json"))
        assert any(e["reason"] == "ApiRefused" for e in events["items"])
        # The other App is untouched and still served.
        kubectl.apply(app_manifest("fine", image="pylounge_flask_app:v2"))
        wait_ready(kubectl, "fine")
        assert container(kubectl, "fine")["image"] == "pylounge_flask_app:v2"
    finally:
        cluster.run("delete", "storageclass", storage_class, "--wait=false", check=False)
