"""Renderers: the desired children of an App, as plain dicts."""

from typing import Any

from app_operator import render
from app_operator.render import AppRef

from .conftest import make_spec

FLASK = {"ports": [{"name": "http", "containerPort": 5000, "servicePort": 80,
                    "nodePort": 30080}], "service": {"type": "NodePort"}}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return result


def test_deployment_names_labels_and_owner(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec())
    meta = deployment["metadata"]
    assert (meta["name"], meta["namespace"]) == ("flask", "demo")
    assert meta["labels"] == {"app.kubernetes.io/name": "flask",
                              "app.kubernetes.io/instance": "flask",
                              "app.kubernetes.io/managed-by": "app-operator"}
    assert meta["ownerReferences"] == [{
        "apiVersion": "appoperator.dev/v1alpha1", "kind": "App", "name": "flask",
        "uid": "0000-1111", "controller": True, "blockOwnerDeletion": True}]
    assert deployment["spec"]["selector"] == {"matchLabels": {
        "app.kubernetes.io/name": "flask", "app.kubernetes.io/instance": "flask"}}
    template_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert template_labels.items() >= deployment["spec"]["selector"]["matchLabels"].items()


def test_dockerfile_settings_map_to_the_container(app: AppRef) -> None:
    spec = make_spec(command=["python3"], args=["app.py"], workingDir="/app",
                     env=[{"name": "GREETING", "value": "hi"}],
                     envFrom=[{"secretRef": {"name": "creds"}}],
                     imagePullPolicy="Never", **FLASK)
    c = container(render.render_deployment(app, spec))
    assert c["name"] == "flask"
    assert c["image"] == "pylounge_flask_app:v1"
    assert c["command"] == ["python3"] and c["args"] == ["app.py"]
    assert c["workingDir"] == "/app"
    assert c["imagePullPolicy"] == "Never"
    assert c["env"] == [{"name": "GREETING", "value": "hi"}]
    assert c["envFrom"] == [{"secretRef": {"name": "creds"}}]
    assert c["ports"] == [{"name": "http", "containerPort": 5000, "protocol": "TCP"}]


def test_unset_fields_are_not_rendered(app: AppRef) -> None:
    c = container(render.render_deployment(app, make_spec()))
    assert set(c) == {"name", "image", "securityContext"}


def test_baseline_security_never_privileged(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec())
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"}}
    assert container(deployment)["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False}
    assert pod["automountServiceAccountToken"] is False
    for forbidden in ("hostNetwork", "hostPID", "hostIPC", "serviceAccountName", "nodeName"):
        assert forbidden not in pod


def test_restricted_profile_is_pod_security_restricted(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec(
        securityProfile="restricted", runAsUser=1000, runAsGroup=1000, fsGroup=2000))
    pod = deployment["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"seccompProfile": {"type": "RuntimeDefault"},
                                      "runAsNonRoot": True, "runAsUser": 1000,
                                      "runAsGroup": 1000, "fsGroup": 2000}
    assert container(deployment)["securityContext"]["capabilities"] == {"drop": ["ALL"]}


def test_volumes_become_claims_and_mounts(app: AppRef) -> None:
    spec = make_spec(volumes=[{"name": "data", "mountPath": "/data", "size": "5Gi",
                               "storageClassName": "fast"},
                              {"name": "conf", "mountPath": "/etc/app", "readOnly": True,
                               "accessMode": "ReadOnlyMany"}])
    deployment = render.render_deployment(app, spec)
    assert container(deployment)["volumeMounts"] == [
        {"name": "data", "mountPath": "/data"},
        {"name": "conf", "mountPath": "/etc/app", "readOnly": True}]
    assert deployment["spec"]["template"]["spec"]["volumes"] == [
        {"name": "data", "persistentVolumeClaim": {"claimName": "flask-data"}},
        {"name": "conf", "persistentVolumeClaim": {"claimName": "flask-conf"}}]
    claims = render.render_claims(app, spec)
    assert [c["metadata"]["name"] for c in claims] == ["flask-data", "flask-conf"]
    assert claims[0]["spec"] == {"accessModes": ["ReadWriteOnce"],
                                 "resources": {"requests": {"storage": "5Gi"}},
                                 "storageClassName": "fast"}
    assert claims[0]["metadata"]["labels"]["appoperator.dev/volume"] == "data"


def test_retained_claims_have_no_owner_so_they_outlive_the_app(app: AppRef) -> None:
    volumes = [{"name": "data", "mountPath": "/data"}]
    kept = render.render_claims(app, make_spec(volumes=volumes))[0]
    deleted = render.render_claims(app, make_spec(volumes=volumes,
                                                  volumeDeletionPolicy="Delete"))[0]
    assert "ownerReferences" not in kept["metadata"]
    assert deleted["metadata"]["ownerReferences"][0]["uid"] == "0000-1111"


def test_strategy_auto_recreates_with_a_single_node_volume(app: AppRef) -> None:
    rwo = make_spec(volumes=[{"name": "data", "mountPath": "/data"}])
    rwx = make_spec(replicas=3, volumes=[{"name": "data", "mountPath": "/data",
                                          "accessMode": "ReadWriteMany"}])
    assert render.render_strategy(rwo) == {"type": "Recreate"}
    assert render.render_strategy(rwx)["type"] == "RollingUpdate"
    assert render.render_strategy(make_spec())["type"] == "RollingUpdate"
    assert render.render_strategy(make_spec(strategy="Recreate")) == {"type": "Recreate"}


def test_suspend_renders_zero_replicas_and_keeps_the_rest(app: AppRef) -> None:
    spec = make_spec(suspend=True, replicas=1, volumes=[{"name": "d", "mountPath": "/d"}],
                     **FLASK)
    desired = render.render_all(app, spec)
    assert desired.deployment["spec"]["replicas"] == 0
    assert desired.service is not None
    assert len(desired.claims) == 1


def test_service_from_ports(app: AppRef) -> None:
    service = render.render_service(app, make_spec(
        ports=[{"name": "http", "containerPort": 5000, "servicePort": 80, "nodePort": 30080},
               {"name": "dns", "containerPort": 53, "protocol": "UDP"}],
        service={"type": "NodePort", "annotations": {"team": "web"}}))
    assert service is not None
    assert service["spec"] == {
        "type": "NodePort",
        "selector": {"app.kubernetes.io/name": "flask", "app.kubernetes.io/instance": "flask"},
        "ports": [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
             "nodePort": 30080},
            {"name": "dns", "port": 53, "targetPort": "dns", "protocol": "UDP"}]}
    assert service["metadata"]["annotations"]["team"] == "web"


def test_no_ports_no_service(app: AppRef) -> None:
    assert render.render_service(app, make_spec()) is None
    assert render.render_all(app, make_spec()).objects()[-1]["kind"] == "Deployment"


def test_probes_keep_their_shape(app: AppRef) -> None:
    spec = make_spec(ports=[{"name": "http", "containerPort": 5000}], probes={
        "readiness": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 5},
        "liveness": {"exec": {"command": ["true"]}}})
    c = container(render.render_deployment(app, spec))
    assert c["readinessProbe"] == {"httpGet": {"path": "/", "port": "http", "scheme": "HTTP"},
                                   "periodSeconds": 5}
    assert c["livenessProbe"] == {"exec": {"command": ["true"]}}
    assert "startupProbe" not in c


def test_rendering_is_deterministic_and_hash_follows_content(app: AppRef) -> None:
    one = render.render_all(app, make_spec(**FLASK))
    two = render.render_all(app, make_spec(**FLASK))
    assert one == two
    other = render.render_deployment(app, make_spec(image="pylounge_flask_app:v2"))
    key = render.HASH_ANNOTATION
    assert (other["metadata"]["annotations"][key]
            != one.deployment["metadata"]["annotations"][key])
