"""The operator against a real API server: children, updates, drift, status, deletion."""

from __future__ import annotations

import json
import re
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

MANAGER = "app-operator"


def operator_writes(kubectl: Kubectl, *objects: tuple[str, str]) -> dict[str, Any]:
    """What the operator's own writes left on each object: its managedFields entries (each
    write that changes anything moves their time or fields), the generation (each spec
    change), and for objects nobody else writes after they converged, the resourceVersion.
    The Deployment controller's status updates do not show here, so no settling is needed."""
    result: dict[str, Any] = {}
    for kind, name in objects:
        obj = kubectl.get(kind, name, managed_fields=True)
        assert obj is not None, f"{kind} {name} is missing"
        meta = obj["metadata"]
        entries = [(e["operation"], e.get("subresource", ""), e["time"],
                    json.dumps(e.get("fieldsV1"), sort_keys=True))
                   for e in meta.get("managedFields") or [] if e["manager"] == MANAGER]
        assert entries, f"{kind} {name} has no fields of {MANAGER}"
        version = meta["resourceVersion"] if kind != "deployment" else None
        result[f"{kind}/{name}"] = (meta.get("generation"), version, entries)
    return result


def events_of(kubectl: Kubectl, name: str, kind: str = "App") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = json.loads(kubectl(
        "get", "events", "--field-selector", f"involvedObject.name={name},"
        f"involvedObject.kind={kind}", "-o", "json"))["items"]
    return items


def wait_event(kubectl: Kubectl, name: str, message: str) -> dict[str, Any]:
    """Events are posted by a background thread after the status is written: wait for it."""
    return wait_for(f"an event on App {name} saying {message!r}", lambda: next(
        (e for e in events_of(kubectl, name) if message in e["message"]), None))


def container(kubectl: Kubectl, name: str = "flask") -> dict[str, Any]:
    deployment = kubectl.get("deployment", name)
    assert deployment is not None
    result: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return result


@pytest.mark.usefixtures("operator")
def test_create_makes_children_and_reports_ready(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}],
                               files=[{"mountPath": "/etc/flask.cfg", "content": "DEBUG = 0\n"}]))
    kubectl("wait", "--for=condition=Ready", "app/flask", "--timeout=60s")
    app = kubectl.get("app", "flask", managed_fields=True)
    assert app is not None
    deployment = kubectl.get("deployment", "flask", managed_fields=True)
    service = kubectl.get("service", "flask", managed_fields=True)
    claim = kubectl.get("pvc", "flask-data", managed_fields=True)
    config_map = kubectl.get("configmap", "flask-files", managed_fields=True)
    assert deployment and service and claim and config_map
    owner = deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("App", app["metadata"]["uid"],
                                                                  True)
    assert service["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == app["metadata"]["uid"]
    assert "ownerReferences" not in claim["metadata"]  # Retain by default
    # Every child is written by server-side apply under the field manager app-operator.
    for child in (deployment, service, claim, config_map):
        managers = {(e["manager"], e["operation"]) for e in child["metadata"]["managedFields"]}
        assert (MANAGER, "Apply") in managers, (child["kind"], managers)
        assert child["metadata"]["labels"]["app.kubernetes.io/managed-by"] == MANAGER
    status_managers = {(e["manager"], e["operation"], e.get("subresource"))
                       for e in app["metadata"]["managedFields"]}
    assert (MANAGER, "Apply", "status") in status_managers
    assert service["spec"]["ports"][0]["port"] == 80
    status = app["status"]
    assert status["readyReplicas"] == 1 and status["availableReplicas"] == 1
    assert status["url"] == f"http://flask.{kubectl.namespace}.svc"
    assert status["volumes"] == [{"name": "data", "claimName": "flask-data", "phase": "Bound",
                                  "capacity": "1Gi"}]
    assert condition(app, "Reconciling")["status"] == "False"
    assert condition(app, "Stalled")["status"] == "False"
    wait_event(kubectl, "flask", "Created PersistentVolumeClaim flask-data, ConfigMap "
               "flask-files, Service flask, Deployment flask")
    wait_event(kubectl, "flask", "1 of 1 replicas available")
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
    # The README's example of an Updated event, for an image change alone.
    kubectl.apply(app_manifest(
        image="pylounge_flask_app:v3",
        env=[{"name": "GREETING", "value": "privet"}],
        ports=[{"name": "http", "containerPort": 5000, "servicePort": 8080},
               {"name": "metrics", "containerPort": 9100}],
        resources={"limits": {"memory": "256Mi"}}))
    wait_event(kubectl, "flask",
               "Updated Deployment flask (spec.template.spec.containers[flask].image)")
    wait_ready(kubectl)
    # Removing a field from the App removes it from the child.
    kubectl.apply(app_manifest(image="pylounge_flask_app:v3"))
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
    assert not gone(kubectl, "pvc", "flask-cache")
    kept = kubectl.get("pvc", "flask-cache")
    assert kept is not None and kept["metadata"]["annotations"]["appoperator.dev/kept"] == "true"
    assert [m["name"] for m in container(kubectl)["volumeMounts"]] == ["data"]
    assert [v["name"] for v in app["status"]["volumes"]] == ["data"]
    # Delete: claims become owned; a volume removed from the spec loses its claim.
    kubectl.apply(app_manifest(volumes=volumes[:1], volumeDeletionPolicy="Delete"))
    wait_for("flask-data owned by the App", lambda: (c := kubectl.get("pvc", "flask-data"))
             and c["metadata"].get("ownerReferences"))
    kubectl.apply(app_manifest(volumes=[], volumeDeletionPolicy="Delete"))
    wait_for("flask-data deleted", lambda: gone(kubectl, "pvc", "flask-data"))
    # The reconcile that deleted flask-data passed over flask-cache: kept earlier, left alone.
    assert not gone(kubectl, "pvc", "flask-cache")


@pytest.mark.usefixtures("operator")
def test_growing_a_volume_expands_its_claim(kubectl: Kubectl) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data", "size": "1Gi"}]))
    wait_ready(kubectl)
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data", "size": "2Gi"}]))
    wait_for("the claim to request 2Gi", lambda: (c := kubectl.get("pvc", "flask-data")) and
             c["spec"]["resources"]["requests"]["storage"] == "2Gi")
    wait_for("status to report 2Gi", lambda: (a := kubectl.get("app", "flask")) and
             a["status"]["volumes"][0].get("capacity") == "2Gi")
    # Below what the claim has, a shrink is refused by the operator (only it reads the claim).
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data", "size": "1Gi"}]))
    app = wait_stalled(kubectl, "flask", "ApiRefused")
    assert "PersistentVolumeClaim flask-data cannot shrink to 1Gi" in condition(
        app, "Stalled")["message"]


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
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    wait_ready(kubectl)
    kubectl("set", "image", "deployment/flask", "flask=someone-else:1")
    wait_for("the image to be put back", lambda: container(kubectl)["image"] ==
             "pylounge_flask_app:v1", timeout=20)
    # An edit of the Service (its pods no longer selected), and of the claim.
    kubectl("patch", "service", "flask", "--type=merge", "-p",
            '{"spec": {"selector": {"app.kubernetes.io/instance": "someone-else"}}}')
    wait_for("the Service selector to be put back", lambda: (s := kubectl.get(
        "service", "flask")) and s["spec"]["selector"]["app.kubernetes.io/instance"] == "flask",
        timeout=20)
    kubectl("label", "pvc", "flask-data", "--overwrite", "appoperator.dev/volume=other")
    wait_for("the claim's label to be put back", lambda: (c := kubectl.get("pvc", "flask-data"))
             and c["metadata"]["labels"]["appoperator.dev/volume"] == "data", timeout=20)
    kubectl("delete", "service", "flask")
    wait_for("the Service to come back", lambda: kubectl.get("service", "flask"), timeout=20)
    kubectl("delete", "deployment", "flask")
    wait_for("the Deployment to come back", lambda: (d := kubectl.get("deployment", "flask"))
             and not d["metadata"].get("deletionTimestamp"), timeout=20)
    wait_ready(kubectl)
    # A deleted claim: once no pod holds it (suspended), it goes, and an empty one comes back.
    kubectl("patch", "app", "flask", "--type=merge", "-p", '{"spec": {"suspend": true}}')
    wait_for("the pods to be gone", lambda: not kubectl.items(
        "pods", "app.kubernetes.io/instance=flask"))
    deleted = kubectl.get("pvc", "flask-data")
    assert deleted is not None
    kubectl("delete", "pvc", "flask-data", "--wait=false")
    wait_for("a new claim flask-data", lambda: (c := kubectl.get("pvc", "flask-data")) and
             c["metadata"]["uid"] != deleted["metadata"]["uid"]
             and not c["metadata"].get("deletionTimestamp"), timeout=60)
    kubectl("patch", "app", "flask", "--type=merge", "-p", '{"spec": {"suspend": false}}')
    app = wait_ready(kubectl)
    assert app["status"]["volumes"][0]["phase"] == "Bound"


@pytest.mark.usefixtures("operator")
def test_an_edited_port_number_is_put_back(kubectl: Kubectl) -> None:
    """`kubectl edit service flask`, port 80 changed to 8080: the operator puts 80 back and
    the entry it no longer wants must not stay beside it under the same name."""
    kubectl.apply(app_manifest())
    wait_ready(kubectl)
    kubectl("patch", "service", "flask", "--type=json", "-p",
            '[{"op": "replace", "path": "/spec/ports/0/port", "value": 8080}]')
    wait_for("the Service port to be put back", lambda: (s := kubectl.get("service", "flask"))
             and [p["port"] for p in s["spec"]["ports"]] == [80], timeout=30)
    app = wait_ready(kubectl)
    assert condition(app, "Stalled")["status"] == "False"


def test_unchanged_app_writes_nothing(kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    wait_ready(kubectl)
    objects = (("app", "flask"), ("deployment", "flask"), ("service", "flask"),
               ("pvc", "flask-data"))
    before = operator_writes(kubectl, *objects)
    # A restart reconciles every App again.
    operator.stop()
    operator.start()
    wait_for("the restarted operator's first pass over the Apps",
             lambda: operator.logs().count("first pass done") == 2)
    # It says so itself: 1 App checked, no write (the reads are its list of the Apps).
    restarted = operator.logs().split("app-operator started")[-1]
    assert re.search(r"first pass done [0-9.]+s after start: Apps checked 1, writes 0,",
                     restarted)
    assert "created" not in restarted and "updated" not in restarted
    assert operator_writes(kubectl, *objects) == before
    # A change of the App that is no change of its spec (a label) wakes the operator, which
    # writes nothing, not even the status. The App informer's one watch delivers the label
    # before the next App's creation, and that App's children and rollout take far longer
    # than a reconcile that sends nothing: once it is Ready, the label was handled.
    kubectl("label", "app", "flask", "team=web")
    labelled = operator_writes(kubectl, ("app", "flask"))
    kubectl.apply(app_manifest("sentinel"))
    wait_ready(kubectl, "sentinel")
    assert operator_writes(kubectl, *objects) == {**before, **labelled}
    since_restart = operator.logs().split("app-operator started")[-1]
    assert "flask: updated" not in since_restart and "flask: created" not in since_restart


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


@pytest.mark.usefixtures("operator")
def test_a_foreign_service_or_claim_of_a_childs_name_is_a_conflict(kubectl: Kubectl) -> None:
    kubectl("create", "service", "clusterip", "web", "--tcp=80:80")
    kubectl.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                   "metadata": {"name": "db-data"},
                   "spec": {"accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}}}})
    service_before = kubectl.get("service", "web")
    claim_before = kubectl.get("pvc", "db-data")
    assert service_before is not None and claim_before is not None
    kubectl.apply(app_manifest("web"))
    kubectl.apply(app_manifest("db", ports=None,
                               volumes=[{"name": "data", "mountPath": "/data"}]))
    web = wait_stalled(kubectl, "web", "NameConflict")
    assert "Service web (owned by nobody" in condition(web, "Stalled")["message"]
    db = wait_stalled(kubectl, "db", "NameConflict")
    assert "PersistentVolumeClaim db-data (owned by nobody" in condition(db, "Stalled")[
        "message"]
    # Nothing of either App was made, and the foreign objects are as they were.
    assert kubectl.get("deployment", "web") is None and kubectl.get("deployment", "db") is None
    for kind, name, before in (("service", "web", service_before),
                               ("pvc", "db-data", claim_before)):
        after = kubectl.get(kind, name, managed_fields=True)
        assert after is not None
        assert after["metadata"].get("labels") == before["metadata"].get("labels")
        assert not after["metadata"].get("ownerReferences")
        assert [e["manager"] for e in after["metadata"]["managedFields"]
                if e["manager"] == MANAGER] == []


@pytest.mark.usefixtures("operator")
def test_a_claim_created_under_delete_is_released_under_retain(kubectl: Kubectl) -> None:
    volumes = [{"name": "data", "mountPath": "/data"}]
    kubectl.apply(app_manifest(volumes=volumes, volumeDeletionPolicy="Delete"))
    app = wait_ready(kubectl)
    claim = kubectl.get("pvc", "flask-data")
    assert claim is not None
    assert [r["uid"] for r in claim["metadata"]["ownerReferences"]] == [app["metadata"]["uid"]]
    # The policy becomes Retain, the volume stays: server-side apply drops the reference.
    kubectl.apply(app_manifest(volumes=volumes))
    wait_for("the claim to be released", lambda: (c := kubectl.get("pvc", "flask-data"))
             and not c["metadata"].get("ownerReferences"))
    wait_ready(kubectl)
    kubectl("delete", "app", "flask", "--wait=true")
    wait_for("the garbage collector to delete the Deployment and Service",
             lambda: kubectl.get("deployment", "flask") is None and
             kubectl.get("service", "flask") is None)
    assert not gone(kubectl, "pvc", "flask-data")
    kept = kubectl.get("pvc", "flask-data")
    assert kept is not None and kept["metadata"]["uid"] == claim["metadata"]["uid"]


def test_delete_while_operator_is_down(kubectl: Kubectl, operator: OperatorProcess) -> None:
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    kubectl.apply(app_manifest("scratch", volumes=[{"name": "tmp", "mountPath": "/tmp"}],
                               volumeDeletionPolicy="Delete"))
    wait_ready(kubectl)
    wait_ready(kubectl, "scratch")
    data = kubectl.get("pvc", "flask-data")
    assert data is not None
    operator.stop()
    kubectl("delete", "app", "flask", "scratch", "--timeout=30s")  # no finalizer blocks it
    wait_for("the children to be collected", lambda: not kubectl.items(
        "deployments,services", "app.kubernetes.io/managed-by=app-operator"))
    # The garbage collector has handled both Apps' dependents: scratch's claim goes (Delete),
    # flask's stays (Retain: it has no owner).
    wait_for("scratch-tmp to be collected", lambda: gone(kubectl, "pvc", "scratch-tmp"))
    assert not gone(kubectl, "pvc", "flask-data")
    # A new App of the same name finds its data again: the same claim, mounted, not a new one.
    operator.start()
    kubectl.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data"}]))
    app = wait_ready(kubectl)
    again = kubectl.get("pvc", "flask-data")
    assert again is not None and again["metadata"]["uid"] == data["metadata"]["uid"]
    assert not again["metadata"].get("ownerReferences")
    assert app["status"]["volumes"][0]["phase"] == "Bound"
    deployment = kubectl.get("deployment", "flask")
    assert deployment is not None
    assert deployment["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "flask-data"}}]


def test_invalid_apps_are_refused_with_the_field_named(kubectl: Kubectl) -> None:
    cases = [
        (app_manifest(ports=[{"name": "http", "containerPort": 80},
                             {"name": "http", "containerPort": 81}]),
         "spec.ports: Invalid value: two ports have the same name"),
        (app_manifest(ports=[{"containerPort": 80}, {"name": "web", "containerPort": 80}]),
         "spec.ports[1]: Duplicate value"),
        (app_manifest(volumes=[{"name": "a", "mountPath": "/d"}, {"name": "b", "mountPath": "/d"}]),
         "spec.volumes: Invalid value: two volumes use the same mountPath"),
        (app_manifest(volumes=[{"name": "a", "mountPath": "/d"}, {"name": "a", "mountPath": "/e"}]),
         "spec.volumes[1]: Duplicate value"),
        (app_manifest(ports=[{"containerPort": 80, "nodePort": 29999}],
                      service={"type": "NodePort"}), "spec.ports[0].nodePort"),
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
        wait_for("the ApiRefused event", lambda: any(
            e["reason"] == "ApiRefused" and e["type"] == "Warning"
            for e in events_of(kubectl, "fixed")))
        # The other App is untouched and still served.
        kubectl.apply(app_manifest("fine", image="pylounge_flask_app:v2"))
        wait_ready(kubectl, "fine")
        assert container(kubectl, "fine")["image"] == "pylounge_flask_app:v2"
    finally:
        cluster.run("delete", "storageclass", storage_class, "--wait=false", check=False)
