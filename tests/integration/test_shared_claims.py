"""Shared claims against a real API server: the CEL rule at `kubectl apply`, two Apps that
mount one claim (as compose services share a named volume), and that claim outliving both."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.kube_helpers import Kubectl, app_manifest, condition, gone, wait_for, wait_ready

SHARED = [{"name": "media", "mountPath": "/media", "claimName": "shared-media"}]


def shared_claim(name: str = "shared-media") -> dict[str, Any]:
    """A claim as a person, or the converter's output, writes it: no label, no owner."""
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}}


@pytest.mark.parametrize("field", ["size", "storageClassName", "accessMode"])
def test_a_shared_claim_with_a_size_class_or_mode_is_refused(kubectl: Kubectl,
                                                             field: str) -> None:
    value = {"size": "2Gi", "storageClassName": "fast", "accessMode": "ReadWriteMany"}[field]
    result = kubectl.run("apply", "-f", "-", stdin=json.dumps(app_manifest(
        volumes=[{**SHARED[0], field: value}])), check=False)
    assert result.returncode != 0, result.stdout
    assert "a volume with claimName mounts an existing claim that the App does not own" in (
        result.stderr), result.stderr
    assert "spec.volumes[0].claimName" in result.stderr, result.stderr


@pytest.mark.usefixtures("operator")
def test_two_apps_share_one_claim_that_outlives_both(kubectl: Kubectl) -> None:
    # The App comes first: it waits for the claim, and says which.
    kubectl.apply(app_manifest("web", volumes=SHARED, volumeDeletionPolicy="Delete"))
    app = wait_for("web to wait for its claim", lambda: (a := kubectl.get("app", "web")) and
                   condition(a, "Ready").get("reason") == "ClaimMissing" and a)
    assert "shared-media (volume media)" in condition(app, "Ready")["message"]
    assert kubectl.get("pvc", "shared-media") is None  # never made by the operator

    kubectl.apply(shared_claim())
    kubectl.apply(app_manifest("cron", volumes=SHARED, volumeDeletionPolicy="Delete"))
    for name in ("web", "cron"):
        app = wait_ready(kubectl, name)
        assert app["status"]["volumes"] == [{"name": "media", "claimName": "shared-media",
                                             "phase": "Bound", "capacity": "1Gi",
                                             "shared": True}]
        deployment = kubectl.get("deployment", name)
        assert deployment is not None
        assert deployment["spec"]["template"]["spec"]["volumes"] == [
            {"name": "media", "persistentVolumeClaim": {"claimName": "shared-media"}}]
    claim = kubectl.get("pvc", "shared-media")
    assert claim is not None and not claim["metadata"].get("ownerReferences")
    assert "labels" not in claim["metadata"]  # not adopted either

    kubectl("delete", "app", "web", "cron", "--wait=true")
    wait_for("the Deployments to be collected", lambda: gone(kubectl, "deployment", "web")
             and gone(kubectl, "deployment", "cron"))
    after = kubectl.get("pvc", "shared-media")
    assert after is not None and not after["metadata"].get("deletionTimestamp")
    assert after["metadata"]["uid"] == claim["metadata"]["uid"]
