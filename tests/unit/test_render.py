"""Renderers: the desired children of an App, as plain dicts."""

import re
from typing import Any

import pytest

from app_operator.core import model, render
from app_operator.core.render import AppRef

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


def test_a_service_port_carries_the_app_protocol_only_when_the_app_gives_it(
        app: AppRef) -> None:
    """Meshes and gateways read appProtocol before the name: a guess there would override
    their own detection, so only what the App says is set."""
    spec = make_spec(ports=[{"containerPort": 8080, "appProtocol": "kubernetes.io/h2c"},
                            {"containerPort": 5432}, {"containerPort": 5000},
                            {"name": "db", "containerPort": 3306, "appProtocol": "mysql"}])
    service = render.render_service(app, spec)
    assert service is not None
    assert service["spec"]["ports"] == [
        {"name": "http2", "port": 8080, "targetPort": "http2", "protocol": "TCP",
         "appProtocol": "kubernetes.io/h2c"},
        {"name": "tcp-5432", "port": 5432, "targetPort": "tcp-5432", "protocol": "TCP"},
        {"name": "http", "port": 5000, "targetPort": "http", "protocol": "TCP"},
        {"name": "db", "port": 3306, "targetPort": "db", "protocol": "TCP",
         "appProtocol": "mysql"}]
    # A container port has no appProtocol field; its name is the Service's target.
    assert container(render.render_deployment(app, spec))["ports"] == [
        {"name": "http2", "containerPort": 8080, "protocol": "TCP"},
        {"name": "tcp-5432", "containerPort": 5432, "protocol": "TCP"},
        {"name": "http", "containerPort": 5000, "protocol": "TCP"},
        {"name": "db", "containerPort": 3306, "protocol": "TCP"}]


@pytest.mark.parametrize("name", [{"name": "http"}, {}])
def test_the_tutorials_flask_app_keeps_http(app: AppRef, name: dict[str, str]) -> None:
    """`docker run -p 5000:5000`, published on the Service's port 80, named or not."""
    spec = make_spec(ports=[{**name, "containerPort": 5000, "servicePort": 80}])
    service = render.render_service(app, spec)
    assert service is not None
    assert service["spec"]["ports"] == [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]
    assert container(render.render_deployment(app, spec))["ports"] == [
        {"name": "http", "containerPort": 5000, "protocol": "TCP"}]


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


def test_image_pull_secrets_and_variables_from_secrets_and_config_maps(app: AppRef) -> None:
    spec = make_spec(
        imagePullSecrets=["registry", "mirror"],
        env=[{"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
             {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings",
                                                                "key": "mode",
                                                                "optional": True}}}],
        envFrom=[{"configMapRef": {"name": "settings"}, "prefix": "APP_"},
                 {"secretRef": {"name": "creds", "optional": True}}])
    deployment = render.render_deployment(app, spec)
    pod = deployment["spec"]["template"]["spec"]
    assert pod["imagePullSecrets"] == [{"name": "registry"}, {"name": "mirror"}]
    c = container(deployment)
    assert c["env"] == [
        {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
        {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode",
                                                           "optional": True}}}]
    assert c["envFrom"] == [{"configMapRef": {"name": "settings"}, "prefix": "APP_"},
                            {"secretRef": {"name": "creds", "optional": True}}]
    assert "imagePullSecrets" not in render.render_deployment(app, make_spec())["spec"][
        "template"]["spec"]


def test_service_type_defaults_to_cluster_ip(app: AppRef) -> None:
    ports = [{"containerPort": 5000}]
    for fields in ({}, {"service": {}}, {"service": {"annotations": {"a": "b"}}}):
        service = render.render_service(app, make_spec(ports=ports, **fields))
        assert service is not None and service["spec"]["type"] == "ClusterIP", fields
        assert "nodePort" not in service["spec"]["ports"][0]


def test_load_balancer_service_keeps_its_node_port_and_annotations(app: AppRef) -> None:
    service = render.render_service(app, make_spec(
        ports=[{"containerPort": 443, "name": "https", "nodePort": 30443}],
        service={"type": "LoadBalancer",
                 "annotations": {"service.beta.kubernetes.io/aws-load-balancer-type": "nlb"}}))
    assert service is not None
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["spec"]["ports"] == [{"name": "https", "port": 443, "targetPort": "https",
                                         "protocol": "TCP", "nodePort": 30443}]
    assert service["metadata"]["annotations"][
        "service.beta.kubernetes.io/aws-load-balancer-type"] == "nlb"


def test_tcp_socket_and_startup_probes_with_every_timing(app: AppRef) -> None:
    timings = {"initialDelaySeconds": 5, "periodSeconds": 7, "timeoutSeconds": 3,
               "failureThreshold": 30, "successThreshold": 2}
    spec = make_spec(ports=[{"name": "db", "containerPort": 5432}], probes={
        "readiness": {"tcpSocket": {"port": "db"}, **timings},
        "liveness": {"tcpSocket": {"port": 5432}, "periodSeconds": 20},
        "startup": {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTPS"},
                    "failureThreshold": 60, "periodSeconds": 1}})
    c = container(render.render_deployment(app, spec))
    assert c["readinessProbe"] == {"tcpSocket": {"port": "db"}, **timings}
    assert c["livenessProbe"] == {"tcpSocket": {"port": 5432}, "periodSeconds": 20}
    assert c["startupProbe"] == {"httpGet": {"path": "/ready", "port": 8080, "scheme": "HTTPS"},
                                 "failureThreshold": 60, "periodSeconds": 1}


def test_pod_labels_and_annotations_reach_the_pods_not_the_deployment(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec(
        podLabels={"team": "web", "tier": "front"},
        podAnnotations={"prometheus.io/scrape": "true"}))
    template = deployment["spec"]["template"]["metadata"]
    assert template["labels"] == {"team": "web", "tier": "front",
                                  "app.kubernetes.io/name": "flask",
                                  "app.kubernetes.io/instance": "flask",
                                  "app.kubernetes.io/managed-by": "app-operator"}
    assert template["annotations"] == {"prometheus.io/scrape": "true"}
    assert "team" not in deployment["metadata"]["labels"]
    assert "prometheus.io/scrape" not in deployment["metadata"]["annotations"]
    assert "annotations" not in render.render_deployment(app, make_spec())["spec"]["template"][
        "metadata"]


def test_service_links_are_off_so_no_variables_are_injected(app: AppRef) -> None:
    pod = render.render_deployment(app, make_spec())["spec"]["template"]["spec"]
    assert pod["enableServiceLinks"] is False


def test_read_write_once_pod_volumes_recreate_too(app: AppRef) -> None:
    spec = make_spec(volumes=[{"name": "data", "mountPath": "/data",
                               "accessMode": "ReadWriteOncePod"}])
    assert render.render_strategy(spec) == {"type": "Recreate"}
    claim = render.render_claims(app, spec)[0]
    assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]
    rolling = render.render_strategy(make_spec(strategy="RollingUpdate", volumes=[
        {"name": "data", "mountPath": "/data", "accessMode": "ReadWriteOncePod"}]))
    assert rolling == {"type": "RollingUpdate",
                       "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}


# The whole of each child, for the README's Nextcloud example with an inline file: nothing
# more, nothing less is sent to the API server.

NEXTCLOUD = AppRef(name="nextcloud", namespace="web", uid="u-42")
LABELS = {"app.kubernetes.io/name": "nextcloud", "app.kubernetes.io/instance": "nextcloud",
          "app.kubernetes.io/managed-by": "app-operator"}
SELECTOR = {"app.kubernetes.io/name": "nextcloud", "app.kubernetes.io/instance": "nextcloud"}
OWNER = [{"apiVersion": "appoperator.dev/v1alpha1", "kind": "App", "name": "nextcloud",
          "uid": "u-42", "controller": True, "blockOwnerDeletion": True}]


def without_hash(obj: dict[str, Any]) -> dict[str, Any]:
    """The object without its desired-hash annotation (checked to be there), since the
    hash's value is no promise, only that it changes with the content."""
    annotations = dict(obj["metadata"]["annotations"])
    assert re.fullmatch(r"[0-9a-f]{16}", annotations.pop(render.HASH_ANNOTATION))
    meta = {k: v for k, v in obj["metadata"].items() if k != "annotations"}
    return {**obj, "metadata": {**meta, **({"annotations": annotations} if annotations else {})}}


def test_the_children_of_the_readme_example_whole() -> None:
    spec = make_spec(
        image="nextcloud:29", ports=[{"name": "http", "containerPort": 80, "nodePort": 30080}],
        service={"type": "NodePort"},
        volumes=[{"name": "html", "mountPath": "/var/www/html", "size": "10Gi"}],
        files=[{"mountPath": "/usr/local/etc/php/conf.d/Uploads.ini",
                "content": "upload_max_filesize = 1G\n"}])
    claim, config_map, service, deployment = render.render_all(NEXTCLOUD, spec).objects()
    assert without_hash(claim) == {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "nextcloud-html", "namespace": "web",
                     "labels": {**LABELS, "appoperator.dev/volume": "html"},
                     "annotations": {"appoperator.dev/app-uid": "u-42"}},
        "spec": {"accessModes": ["ReadWriteOnce"],
                 "resources": {"requests": {"storage": "10Gi"}}}}
    assert without_hash(config_map) == {
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "nextcloud-files", "namespace": "web", "labels": LABELS,
                     "ownerReferences": OWNER},
        "data": {"0-Uploads.ini": "upload_max_filesize = 1G\n"}}
    assert without_hash(service) == {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "nextcloud", "namespace": "web", "labels": LABELS,
                     "ownerReferences": OWNER},
        "spec": {"type": "NodePort", "selector": SELECTOR, "ports": [
            {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP",
             "nodePort": 30080}]}}
    template = deployment["spec"]["template"]
    files_hash = template["metadata"]["annotations"][render.FILES_HASH_ANNOTATION]
    assert re.fullmatch(r"[0-9a-f]{16}", files_hash)
    assert without_hash(deployment) == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nextcloud", "namespace": "web", "labels": LABELS,
                     "ownerReferences": OWNER},
        "spec": {
            "replicas": 1, "selector": {"matchLabels": SELECTOR},
            "strategy": {"type": "Recreate"},
            "template": {
                "metadata": {"labels": LABELS,
                             "annotations": {render.FILES_HASH_ANNOTATION: files_hash}},
                "spec": {
                    "automountServiceAccountToken": False, "enableServiceLinks": False,
                    "securityContext": {"seccompProfile": {"type": "RuntimeDefault"}},
                    "containers": [{
                        "name": "nextcloud", "image": "nextcloud:29",
                        "ports": [{"name": "http", "containerPort": 80, "protocol": "TCP"}],
                        "volumeMounts": [
                            {"name": "html", "mountPath": "/var/www/html"},
                            {"name": "app-operator-files",
                             "mountPath": "/usr/local/etc/php/conf.d/Uploads.ini",
                             "subPath": "0-Uploads.ini", "readOnly": True}],
                        "securityContext": {"allowPrivilegeEscalation": False,
                                            "privileged": False}}],
                    "volumes": [
                        {"name": "html", "persistentVolumeClaim": {"claimName": "nextcloud-html"}},
                        {"name": "app-operator-files", "projected": {
                            "defaultMode": 0o644, "sources": [{"configMap": {
                                "name": "nextcloud-files", "items": [
                                    {"path": "0-Uploads.ini", "key": "0-Uploads.ini"}]}}]}}]}}}}


def test_the_restricted_container_runs_as_non_root_without_capabilities(app: AppRef) -> None:
    deployment = render.render_deployment(app, make_spec(securityProfile="restricted"))
    assert container(deployment)["securityContext"] == {
        "allowPrivilegeEscalation": False, "privileged": False,
        "capabilities": {"drop": ["ALL"]}, "runAsNonRoot": True}


def test_the_rolling_update_of_auto_is_spelled_out(app: AppRef) -> None:
    assert render.render_strategy(make_spec()) == {
        "type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}


def test_the_hash_depends_on_the_content_not_on_the_order_of_keys() -> None:
    one = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"},
           "data": {"x": "1", "y": "2"}}
    two = {"kind": "ConfigMap", "data": {"y": "2", "x": "1"}, "metadata": {"name": "a"},
           "apiVersion": "v1"}
    key = render.HASH_ANNOTATION
    assert (render.with_desired_hash(one)["metadata"]["annotations"][key]
            == render.with_desired_hash(two)["metadata"]["annotations"][key])
    assert "annotations" not in one["metadata"]  # the input is left alone


@pytest.mark.parametrize(("mount_path", "key"), [
    ("/etc/App.conf", "0-App.conf"),
    ("/etc/my file (1).conf", "0-my_file__1_.conf"),
    ("/srv/a/b/c.txt", "0-c.txt"),
    ("/x/" + "n" * 300, "0-" + "n" * 251),
])
def test_file_keys_keep_the_base_name_in_the_characters_a_key_allows(mount_path: str,
                                                                     key: str) -> None:
    file = model.File(mount_path=mount_path, content="x")
    assert render.file_key(0, file) == key


@pytest.mark.parametrize(("meta", "kept"), [
    ({"annotations": {render.KEPT_ANNOTATION: "true"}}, True),
    ({"annotations": {render.KEPT_ANNOTATION: "true", render.APP_UID_ANNOTATION: "0000-1111"},
      "ownerReferences": [{"uid": "0000-1111"}]}, True),
    ({"ownerReferences": [{"uid": "0000-1111"}]}, False),
    ({"ownerReferences": [{"uid": "other"}, {"uid": "0000-1111"}]}, False),
    ({"annotations": {render.APP_UID_ANNOTATION: "0000-1111"}}, False),
    ({"annotations": {render.APP_UID_ANNOTATION: "an-earlier-app"}}, True),
    ({"annotations": {render.APP_UID_ANNOTATION: "an-earlier-app"},
      "ownerReferences": [{"uid": "an-earlier-app"}]}, True),
    ({}, True),  # made by an older operator and not owned: when in doubt, data is kept
])
def test_which_claims_count_as_kept(app: AppRef, meta: dict[str, Any], kept: bool) -> None:
    assert render.is_kept_claim({"metadata": meta}, app) is kept
