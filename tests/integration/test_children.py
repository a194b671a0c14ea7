"""The operator's writes of the children against a real API server: one refused child does not
hold back the others, and repairs by another field manager do not keep what the App drops."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.kube_helpers import (
    Kubectl,
    app_manifest,
    condition,
    wait_for,
    wait_ready,
    wait_stalled,
)

REPAIR_MANAGER = "app-operator-repair"


def image_of(kubectl: Kubectl, name: str = "flask") -> str | None:
    deployment = kubectl.get("deployment", name)
    if deployment is None:
        return None
    image: str = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


@pytest.fixture
def fixed_class(cluster: Kubectl, namespace: str) -> Iterator[str]:
    """A StorageClass whose claims cannot grow (the local cluster's default class can)."""
    name = f"fixed-{namespace}"[:63]
    cluster.apply({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                   "metadata": {"name": name}, "provisioner": "example.com/no-provisioner",
                   "volumeBindingMode": "Immediate", "allowVolumeExpansion": False})
    yield name
    cluster.run("delete", "storageclass", name, "--wait=false", check=False)


def bind(cluster: Kubectl, kubectl: Kubectl, claim: str, storage_class: str,
         size: str) -> None:
    """Give the claim a volume the way a provisioner would (kwok binds claims of its own class
    only): a PersistentVolume made for it; kube-controller-manager's binder binds them."""
    found = wait_for(f"claim {claim}", lambda: kubectl.get("pvc", claim))
    volume = f"pv-{found['metadata']['uid']}"
    cluster.apply({
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": volume},
        "spec": {"storageClassName": storage_class, "accessModes": ["ReadWriteOnce"],
                 "capacity": {"storage": size}, "persistentVolumeReclaimPolicy": "Retain",
                 "claimRef": {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                              "namespace": kubectl.namespace, "name": claim,
                              "uid": found["metadata"]["uid"]},
                 "hostPath": {"path": f"/tmp/{volume}", "type": "DirectoryOrCreate"}}})
    wait_for(f"claim {claim} to be bound", lambda: (c := kubectl.get("pvc", claim)) and
             c.get("status", {}).get("phase") == "Bound")


@pytest.mark.usefixtures("operator")
def test_a_refused_claim_does_not_hold_back_the_image_and_setting_it_back_is_ready(
        kubectl: Kubectl, cluster: Kubectl, fixed_class: str) -> None:
    volume = {"name": "data", "mountPath": "/data", "storageClassName": fixed_class,
              "size": "1Gi"}
    kubectl.apply(app_manifest(volumes=[volume]))
    bind(cluster, kubectl, "flask-data", fixed_class, "1Gi")
    try:
        wait_ready(kubectl)
        # One change: a volume the class cannot grow, and a new image.
        kubectl.apply(app_manifest(image="pylounge_flask_app:v2",
                                   volumes=[{**volume, "size": "2Gi"}]))
        app = wait_stalled(kubectl, "flask", "ApiRefused")
        message = condition(app, "Stalled")["message"]
        assert "the API server refused PersistentVolumeClaim flask-data" in message
        assert "storageclass that provisions the pvc must support resize" in message
        assert image_of(kubectl) == "pylounge_flask_app:v2"
        claim = kubectl.get("pvc", "flask-data")
        assert claim is not None and claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
        # Undone: the size the claim has is accepted, and the App is Ready with the new image.
        kubectl.apply(app_manifest(image="pylounge_flask_app:v2", volumes=[volume]))
        app = wait_ready(kubectl)
        assert condition(app, "Stalled")["status"] == "False"
        assert image_of(kubectl) == "pylounge_flask_app:v2"
        assert app["status"]["volumes"][0]["capacity"] == "1Gi"
    finally:
        claim = kubectl.get("pvc", "flask-data")
        if claim is not None:
            cluster.run("delete", "pv", f"pv-{claim['metadata']['uid']}", "--wait=false",
                        check=False)


def managers_of(obj: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields") or []]


@pytest.mark.usefixtures("operator")
def test_a_port_put_back_after_a_renumber_goes_when_the_app_drops_it(kubectl: Kubectl) -> None:
    """Another hand renumbers a Service port; the operator puts it back (a JSON patch, not an
    apply). Were the put-back port left owned by that patch's manager, server-side apply
    would keep it when the App later drops it."""
    http = {"name": "http", "containerPort": 5000, "servicePort": 80}
    metrics = {"name": "metrics", "containerPort": 9100}
    kubectl.apply(app_manifest(ports=[http, metrics]))
    wait_ready(kubectl)
    service = kubectl.get("service", "flask")
    assert service is not None
    index = [p["name"] for p in service["spec"]["ports"]].index("http")
    kubectl("patch", "service", "flask", "--type=json", "-p", json.dumps(
        [{"op": "replace", "path": f"/spec/ports/{index}/port", "value": 8080}]))
    wait_for("the Service port to be put back", lambda: (s := kubectl.get("service", "flask"))
             and sorted(p["port"] for p in s["spec"]["ports"]) == [80, 9100], timeout=30)
    repaired = kubectl.get("service", "flask", managed_fields=True)
    assert repaired is not None
    # The operator's managers hold fields by apply only: no Update entry is left behind.
    assert [m for m in managers_of(repaired) if m[0].startswith("app-operator")] == [
        ("app-operator", "Apply")]
    kubectl.apply(app_manifest(ports=[metrics]))
    wait_for("the dropped port to leave the Service", lambda: (
        s := kubectl.get("service", "flask")) and [(p["name"], p["port"]) for p in
                                                   s["spec"]["ports"]] == [("metrics", 9100)],
        timeout=30)
    wait_ready(kubectl)
