"""Sidecars against a real API server: the CRD's rules at `kubectl apply`, and an App with
a sidecar that shares its volume rolled out as a native sidecar."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.kube_helpers import Kubectl, app_manifest, wait_ready

VOLUMES = [{"name": "data", "mountPath": "/data"}]


@pytest.mark.parametrize(("sidecar", "said"), [
    ({"name": "flask", "image": "x"},
     "a sidecar may not have the App's own name: the main container has it"),
    ({"name": "vpn", "image": "x", "volumeMounts": [{"name": "nope", "mountPath": "/x"}]},
     "a sidecar's volumeMounts name volumes of spec.volumes"),
    ({"name": "vpn", "image": "x", "securityContext": {"privileged": True}},
     'unknown field "spec.sidecars[0].securityContext"'),
])
def test_a_sidecar_the_crd_refuses(kubectl: Kubectl, sidecar: dict[str, Any],
                                   said: str) -> None:
    result = kubectl.run("apply", "-f", "-", stdin=json.dumps(app_manifest(
        volumes=VOLUMES, sidecars=[sidecar])), check=False)
    assert result.returncode != 0, result.stdout
    assert said in result.stderr, result.stderr


@pytest.mark.usefixtures("operator")
def test_an_app_with_a_sidecar_rolls_out(kubectl: Kubectl) -> None:
    sidecar = {"name": "backup", "image": "restic/restic:0.17",
               "args": ["backup", "/data"],
               "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": True}]}
    kubectl.apply(app_manifest(volumes=VOLUMES, sidecars=[sidecar],
                               securityProfile="restricted", runAsUser=1000))
    wait_ready(kubectl)
    deployment = kubectl.get("deployment", "flask")
    assert deployment is not None
    pod = deployment["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    assert (init["name"], init["restartPolicy"]) == ("backup", "Always")
    assert init["securityContext"] == pod["containers"][0]["securityContext"]
    assert init["securityContext"]["capabilities"] == {"drop": ["ALL"]}
