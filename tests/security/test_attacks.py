"""Attacks of a tenant who may only manage Apps, against the local cluster.

Each is refused at `kubectl apply` with a message that names the problem, or makes the App
Stalled with such a message; throughout, the operator stays up and logs no traceback, and
the API server answers /readyz within a second (the api_watchdog fixture).
The huge-quantity attack, which once hung the API server, is in test_zz_quantity.py so that
it runs last.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.kube_helpers import (
    Kubectl,
    OperatorProcess,
    app_manifest,
    condition,
    wait_for,
    wait_ready,
    wait_stalled,
)

pytestmark = pytest.mark.usefixtures("api_watchdog")


def refused(tenant: Kubectl, manifest: dict[str, Any], *fragments: str) -> str:
    """Send as the tenant (`kubectl create`, JSON as it is); the API server must refuse,
    saying each fragment. Not `kubectl apply`: its
    client-side form stores the whole App in an annotation, refused on its own for a large
    App, and its server-side form is YAML, which refuses a key over 1,024 characters before
    the App's schema is even read."""
    result = tenant.run("create", "-f", "-", "--request-timeout=20s",
                        stdin=json.dumps(manifest), check=False)
    assert result.returncode != 0, f"accepted: {result.stdout}"
    for fragment in fragments:
        assert fragment in result.stderr, result.stderr
    return result.stderr


def healthy(operator: OperatorProcess) -> None:
    assert not operator.exited(), operator.logs()[-3000:]
    assert "Traceback" not in operator.logs(), operator.logs()[-6000:]


def grant(kubectl: Kubectl, namespace: str, name: str, resource: str, *names: str) -> None:
    """Let the tenant read these objects, and only these."""
    kubectl.apply({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": name},
        "rules": [{"apiGroups": [""], "resources": [resource], "resourceNames": list(names),
                   "verbs": ["get"]}]})
    kubectl("create", "rolebinding", name, f"--role={name}",
            f"--serviceaccount={namespace}:tenant")


# 2. Secrets (and ConfigMaps) that the tenant cannot read never reach a pod.

@pytest.mark.parametrize(("field", "value", "kind"), [
    ("env", [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "admin-token",
                                                          "key": "token"}}}], "Secret"),
    ("envFrom", [{"secretRef": {"name": "admin-token"}}], "Secret"),
    ("imagePullSecrets", ["admin-token"], "Secret"),
    ("env", [{"name": "C", "valueFrom": {"configMapKeyRef": {"name": "admin-settings",
                                                             "key": "k"}}}], "ConfigMap"),
    ("envFrom", [{"configMapRef": {"name": "admin-settings"}}], "ConfigMap"),
])
def test_references_to_objects_the_tenant_cannot_read_are_refused(
        tenant: Kubectl, kubectl: Kubectl, field: str, value: Any, kind: str) -> None:
    kubectl("create", "secret", "generic", "admin-token", "--from-literal=token=s3cret")
    kubectl("create", "configmap", "admin-settings", "--from-literal=k=v")
    name = "admin-token" if kind == "Secret" else "admin-settings"
    message = refused(tenant, app_manifest(**{field: value}),
                      f"an App may use only {kind}s its author may read", "may not get")
    assert message.rstrip().endswith(name), message
    assert f"system:serviceaccount:{kubectl.namespace}:tenant" in message
    assert tenant.get("app", "flask") is None


def test_a_readable_secret_may_be_used_and_an_unreadable_one_not_even_by_an_update(
        tenant: Kubectl, kubectl: Kubectl, namespace: str,
        secured_operator: OperatorProcess) -> None:
    kubectl("create", "secret", "generic", "mine", "--from-literal=password=p")
    kubectl("create", "secret", "generic", "admin-token", "--from-literal=token=s3cret")
    grant(kubectl, namespace, "read-mine", "secrets", "mine")
    env = [{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "mine",
                                                               "key": "password"}}}]
    tenant.apply(app_manifest(env=env))
    wait_ready(tenant)
    # An App the namespace's admin made with a Secret the tenant cannot read: the tenant may
    # not change it (a new image could print the variable).
    admin_env = [{"name": "T", "valueFrom": {"secretKeyRef": {"name": "admin-token",
                                                              "key": "token"}}}]
    kubectl.apply(app_manifest("admins", env=admin_env))
    result = tenant.run("patch", "app", "admins", "--type=merge",
                        "--patch", json.dumps({"spec": {"image": "busybox:1"}}), check=False)
    assert result.returncode != 0, result.stdout
    assert "may not get every Secret" in result.stderr and "admin-token" in result.stderr, (
        result.stderr)
    healthy(secured_operator)


def test_a_shared_claim_the_tenant_cannot_read_is_never_mounted(
        tenant: Kubectl, kubectl: Kubectl, namespace: str) -> None:
    """volumes[].claimName mounts a claim the App does not own: naming another team's claim
    would put its data, read-write, in the tenant's pods. Only a claim the tenant may `get`
    may be named, also by an update."""
    for name in ("team-media", "admin-db"):
        kubectl.apply({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                       "metadata": {"name": name},
                       "spec": {"accessModes": ["ReadWriteOnce"],
                                "resources": {"requests": {"storage": "1Gi"}}}})
    steal = [{"name": "db", "mountPath": "/steal", "claimName": "admin-db"}]
    message = refused(tenant, app_manifest(volumes=steal),
                      "an App may mount only PersistentVolumeClaims its author may read",
                      f"system:serviceaccount:{namespace}:tenant may not get every claim",
                      "(volumes[].claimName)")
    assert message.rstrip().endswith("admin-db"), message
    grant(kubectl, namespace, "read-media", "persistentvolumeclaims", "team-media")
    mine = [{"name": "media", "mountPath": "/media", "claimName": "team-media"}]
    tenant.apply(app_manifest(volumes=mine))
    assert tenant.get("app", "flask") is not None
    result = tenant.run("apply", "-f", "-", stdin=json.dumps(app_manifest(
        volumes=[*mine, *steal])), check=False)
    assert result.returncode != 0, result.stdout
    assert "may not get every claim" in result.stderr and "admin-db" in result.stderr, (
        result.stderr)


# 3. AppArmor, seccomp and runtime options only through the profile fields.

@pytest.mark.parametrize("key", [
    "container.apparmor.security.beta.kubernetes.io/flask",
    "seccomp.security.alpha.kubernetes.io/pod",
    "io.kubernetes.cri-o.Devices",
])
def test_security_annotations_are_refused(tenant: Kubectl, key: str) -> None:
    refused(tenant, app_manifest(podAnnotations={key: "unconfined"}), key,
            "would change the pod's security")


# 4. A kept claim stays kept.

def test_a_kept_claim_is_never_deleted_through_a_new_app(
        tenant: Kubectl, kubectl: Kubectl, secured_operator: OperatorProcess) -> None:
    tenant.apply(app_manifest("db", volumes=[{"name": "data", "mountPath": "/data"}]))
    wait_ready(tenant, "db")
    claim = kubectl.get("pvc", "db-data")
    assert claim is not None
    tenant("delete", "app", "db")
    wait_for("the Deployment to be collected", lambda: kubectl.get("deployment", "db") is None)

    tenant.apply(app_manifest("db", image="thief:1", volumeDeletionPolicy="Delete",
                              volumes=[{"name": "data", "mountPath": "/steal"}]))
    wait_ready(tenant, "db")
    adopted = kubectl.get("pvc", "db-data")
    assert adopted is not None
    assert adopted["metadata"]["uid"] == claim["metadata"]["uid"]  # the same claim, mounted
    assert not adopted["metadata"].get("ownerReferences")
    assert adopted["metadata"]["annotations"]["appoperator.dev/kept"] == "true"

    tenant("delete", "app", "db")
    wait_for("the Deployment to be collected", lambda: kubectl.get("deployment", "db") is None)
    after = kubectl.get("pvc", "db-data")
    # Without an ownerReference the garbage collector never deletes it.
    assert after is not None and not after["metadata"].get("ownerReferences")
    assert not after["metadata"].get("deletionTimestamp")
    healthy(secured_operator)


# 5 and 10. Sizes are bounded at admission.

@pytest.mark.parametrize(("spec", "fragment"), [
    ({"service": {"annotations": {f"k{i}-" + "x" * 990: "v" for i in range(600)}}},
     "spec.service.annotations"),
    ({"podAnnotations": {"a" * 12000: "x"}}, "spec.podAnnotations"),
    ({"env": [{"name": f"V{i}", "value": "x" * 30000} for i in range(14)]},
     "131072 bytes in all"),
    ({"args": ["x" * 4096] * 100}, "65536 bytes in all"),
    ({"podLabels": {f"l{i}": "v" for i in range(40)}}, "spec.podLabels"),
])
def test_oversized_apps_are_refused(tenant: Kubectl, spec: dict[str, Any],
                                    fragment: str) -> None:
    refused(tenant, app_manifest(**spec), fragment)


# 6. Pods that are never created are not reported as progress.

def test_pods_refused_by_pod_security_are_reported(
        tenant: Kubectl, kubectl: Kubectl, cluster: Kubectl, namespace: str,
        secured_operator: OperatorProcess) -> None:
    cluster("label", "namespace", namespace, "pod-security.kubernetes.io/enforce=restricted")
    tenant.apply(app_manifest())  # baseline: may run as root, which restricted forbids
    app = wait_stalled(tenant, "flask", "FailedCreate")
    message = condition(app, "Ready")["message"]
    assert "pods cannot be created" in message and "PodSecurity" in message
    # Fixed by the author: the App's own profile.
    tenant.apply(app_manifest(securityProfile="restricted", runAsUser=1000))
    wait_ready(tenant)
    healthy(secured_operator)


def test_pods_refused_by_a_quota_are_reported(tenant: Kubectl, kubectl: Kubectl,
                                              secured_operator: OperatorProcess) -> None:
    kubectl("create", "quota", "no-pods", "--hard=pods=0")
    tenant.apply(app_manifest())
    app = wait_stalled(tenant, "flask", "FailedCreate")
    assert "exceeded quota" in condition(app, "Ready")["message"]
    healthy(secured_operator)


def test_an_image_name_with_blanks_is_refused(tenant: Kubectl) -> None:
    refused(tenant, app_manifest(image=" busybox:latest "), "spec.image")


# 7. Unicode works; control characters and overlong keys are refused.

def test_unicode_reaches_the_container_exactly(tenant: Kubectl, kubectl: Kubectl,
                                               secured_operator: OperatorProcess) -> None:
    args = ["hello 😀", "Привет", "line one\nline two"]
    tenant.apply(app_manifest(args=args, env=[{"name": "GREETING", "value": "¡hola! 你好"}]))
    wait_ready(tenant)
    deployment = kubectl.get("deployment", "flask")
    assert deployment is not None
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == args
    assert container["env"] == [{"name": "GREETING", "value": "¡hola! 你好"}]
    healthy(secured_operator)


@pytest.mark.parametrize(("spec", "fragment"), [
    ({"args": ["a\u0000b"]}, "spec.args"),
    ({"env": [{"name": "A", "value": "\u001b[31mred"}]}, "spec.env"),
    ({"workingDir": "/app\u0007"}, "spec.workingDir"),
])
def test_control_characters_are_refused(tenant: Kubectl, spec: dict[str, Any],
                                        fragment: str) -> None:
    refused(tenant, app_manifest(**spec), fragment)


# 8. An unchanged App writes nothing, whatever equivalent spelling it uses.

def test_equivalent_spellings_write_nothing_after_a_restart(
        tenant: Kubectl, kubectl: Kubectl, namespace: str,
        secured_operator: OperatorProcess) -> None:
    kubectl("create", "configmap", "settings", "--from-literal=A=1")
    grant(kubectl, namespace, "read-settings", "configmaps", "settings")
    tenant.apply(app_manifest(
        env=[{"name": "EMPTY", "value": ""}],
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": ""}],
        resources={"requests": {"cpu": ".5e-3", "memory": "1e6"}, "limits": {}},
    ))
    wait_ready(tenant)
    secured_operator.stop()
    before = len(secured_operator.logs())
    secured_operator.start()
    line = wait_for("the first pass after the restart",
                    lambda: next((x for x in secured_operator.logs()[before:].splitlines()
                                  if "first pass done" in x), None))
    assert "writes 0" in line, line
    healthy(secured_operator)


def test_probe_timings_beyond_int32_are_refused(tenant: Kubectl) -> None:
    refused(tenant, app_manifest(probes={"readiness": {"tcpSocket": {"port": 5000},
                                                       "periodSeconds": 4294967306}}),
            "spec.probes.readiness.periodSeconds")


# 9. `kubectl delete --cascade=orphan` keeps the children.

def test_orphaned_children_stay(tenant: Kubectl, kubectl: Kubectl,
                                secured_operator: OperatorProcess) -> None:
    tenant.apply(app_manifest())
    wait_ready(tenant)
    tenant("delete", "app", "flask", "--cascade=orphan")
    wait_for("the App to be gone", lambda: tenant.get("app", "flask") is None)
    deployment = wait_for("the orphan finalizer to release the Deployment", lambda: (
        d if (d := kubectl.get("deployment", "flask")) is not None
        and not d["metadata"].get("ownerReferences") else None))
    assert not deployment["metadata"].get("deletionTimestamp")
    service = kubectl.get("service", "flask")
    assert service is not None and not service["metadata"].get("ownerReferences")
    # A reconcile of the App while it was being deleted would have put the ownerReference
    # back within milliseconds of the children's events; another App becoming Ready shows
    # the operator has long worked through them.
    tenant.apply(app_manifest("other"))
    wait_ready(tenant, "other")
    after = kubectl.get("deployment", "flask")
    assert after is not None and not after["metadata"].get("ownerReferences")
    assert "updated Deployment flask" not in secured_operator.logs()
    healthy(secured_operator)


# Minor: a missing StorageClass names the claim, not the pods.

def test_a_missing_storage_class_names_the_pending_claim(
        tenant: Kubectl, secured_operator: OperatorProcess) -> None:
    tenant.apply(app_manifest(volumes=[{"name": "data", "mountPath": "/data",
                                        "storageClassName": "no-such-class"}]))
    app = wait_for("the App to report the claim", lambda: (
        a if condition(a := tenant.get("app", "flask"), "Ready").get("reason") ==
        "VolumesPending" else None))
    assert "flask-data (Pending)" in condition(app, "Ready")["message"]
    healthy(secured_operator)
