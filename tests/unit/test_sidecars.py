"""Sidecars: containers beside the main one (compose's `network_mode: service:<app>`),
rendered as native sidecars (init containers with restartPolicy Always: started before the
main container, stopped after it) with the main container's security settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app_operator.core import crd, render, status
from app_operator.core.render import AppRef

from .conftest import make_spec
from .fake_api import FakeApi, app_body
from .test_reconcile import conditions, run

VPN = {"name": "vpn", "image": "qmcgaw/gluetun:v3", "env": [{"name": "VPN", "value": "on"}],
       "volumeMounts": [{"name": "data", "mountPath": "/gluetun"}]}
VOLUMES = [{"name": "data", "mountPath": "/data"}]


def pod_spec(app: AppRef, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = render.render_pod_template(app, make_spec(**fields))["spec"]
    return result


@pytest.mark.parametrize("profile", ["baseline", "restricted"])
def test_a_sidecar_is_a_native_sidecar_with_the_main_containers_security(
        app: AppRef, profile: str) -> None:
    spec = pod_spec(app, sidecars=[VPN], volumes=VOLUMES, securityProfile=profile,
                    runAsUser=1000)
    (sidecar,) = spec["initContainers"]
    assert sidecar == {
        "name": "vpn", "image": "qmcgaw/gluetun:v3", "restartPolicy": "Always",
        "env": [{"name": "VPN", "value": "on"}],
        "volumeMounts": [{"name": "data", "mountPath": "/gluetun"}],
        "securityContext": spec["containers"][0]["securityContext"]}
    assert sidecar["securityContext"]["allowPrivilegeEscalation"] is False
    assert sidecar["securityContext"]["privileged"] is False
    if profile == "restricted":
        assert sidecar["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    # The pod's own settings (user, seccomp) hold for every container.
    assert spec["securityContext"]["runAsUser"] == 1000


def test_a_run_once_app_keeps_its_sidecars(app: AppRef) -> None:
    """A native sidecar is stopped when the Job's main container ends: the Job completes."""
    job = render.render_job(app, make_spec(restartPolicy="Never", sidecars=[
        {"name": "proxy", "image": "cloud-sql-proxy:2"}]))
    assert job["spec"]["template"]["spec"]["initContainers"][0]["restartPolicy"] == "Always"


@pytest.mark.parametrize(("fields", "said"), [
    ({"sidecars": [{**VPN, "volumeMounts": [{"name": "nope", "mountPath": "/x"}]}]},
     "sidecars: vpn mounts nope, which is no volume of spec.volumes"),
    ({"sidecars": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}],
      "volumes": VOLUMES}, "sidecars: name 'a' is used twice"),
    ({"sidecars": [{"name": "vpn", "image": "x", "privileged": True}]}, "privileged"),
    ({"sidecars": [{"name": "vpn", "image": "x", "securityContext": {}}]}, "securityContext"),
    ({"sidecars": [{"name": f"s{i}", "image": "x"} for i in range(5)]}, "at most 4"),
    ({"sidecars": [{"name": f"s{i}", "image": "x", "args": ["a" * 4096] * 4,
                    "command": ["b"] if i == 0 else None} for i in range(4)]},
     "sidecars (command, args and env values): 65537 bytes in all (UTF-8), more than 65536"),
])
def test_what_a_sidecar_may_not_do_is_refused(fields: dict[str, Any], said: str) -> None:
    with pytest.raises(ValidationError) as error:
        make_spec(**fields)
    assert said in str(error.value)


def test_the_crd_refuses_a_sidecar_named_as_the_app_and_unknown_volumes() -> None:
    root = crd.app_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert crd.SIDECAR_NAME_RULE in root["x-kubernetes-validations"]
    rules = [r["rule"] for r in root["properties"]["spec"]["x-kubernetes-validations"]]
    assert any("s.volumeMounts.all(m" in rule for rule in rules)


def test_a_sidecar_of_the_apps_own_name_stalls_an_app_stored_before_the_rule() -> None:
    api = FakeApi()
    run(api, app_body(sidecars=[{"name": "flask", "image": "x"}]))
    assert conditions(api)["Stalled"]["reason"] == "InvalidSpec"
    assert "spec.sidecars: flask is the App's own name" in conditions(api)["Stalled"]["message"]
    assert api.find("Deployment", "demo", "flask") is None


def test_a_sidecar_that_cannot_be_pulled_is_said(app: AppRef) -> None:
    pod = {"metadata": {"name": "flask-1"}, "status": {"initContainerStatuses": [
        {"name": "vpn", "image": "qmcgaw/gluetun:v3", "state": {"waiting": {
            "reason": "ImagePullBackOff", "message": "not found"}}}]}}
    found = status.pod_problem([pod])
    assert found is not None and found.message == "cannot pull image qmcgaw/gluetun:v3: not found"


def test_a_read_only_mount_says_so_and_only_then(app: AppRef) -> None:
    mounts = [{"name": "data", "mountPath": "/ro", "readOnly": True},
              {"name": "data", "mountPath": "/rw"}]
    spec = pod_spec(app, volumes=VOLUMES, sidecars=[{"name": "s", "image": "x",
                                                     "volumeMounts": mounts}])
    assert spec["initContainers"][0]["volumeMounts"] == [
        {"name": "data", "mountPath": "/ro", "readOnly": True},
        {"name": "data", "mountPath": "/rw"}]
