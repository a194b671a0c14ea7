"""The App model: defaults, validation, and the Python twins of the CRD's CEL rules."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from app_operator.core import model
from app_operator.core.model import AppSpec, parse_quantity


def spec(**fields: object) -> AppSpec:
    return AppSpec.model_validate({"image": "nginx:1.27", **fields})


def test_defaults_match_docker_run_of_an_image() -> None:
    app = spec()
    assert app.replicas == 1
    assert app.suspend is False
    assert app.strategy == "Auto"
    assert app.security_profile == "baseline"
    assert app.volume_deletion_policy == "Retain"
    assert app.ports is None and app.volumes is None


def test_port_and_volume_defaults() -> None:
    app = spec(ports=[{"name": "http", "containerPort": 80}],
               volumes=[{"name": "data", "mountPath": "/data"}])
    assert app.ports is not None and app.volumes is not None
    assert app.ports[0].protocol == "TCP"
    assert app.ports[0].service_port is None
    # Defaults of the App's own claim, applied by the operator, not by the schema: a
    # volume with claimName may give neither, and a schema default would give both.
    assert app.volumes[0].size is None and app.volumes[0].access_mode is None
    assert app.volumes[0].storage_size == "1Gi"
    assert app.volumes[0].mode == "ReadWriteOnce"


def test_image_is_required() -> None:
    with pytest.raises(ValidationError, match="image"):
        AppSpec.model_validate({})


def test_unknown_fields_are_errors_not_silently_dropped() -> None:
    with pytest.raises(ValidationError, match="privileged"):
        spec(privileged=True)


@pytest.mark.parametrize(("fields", "message"), [
    ({"ports": [{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]},
     "name 'http' is used twice"),
    ({"ports": [{"name": "a", "containerPort": 80}, {"name": "b", "containerPort": 80}]},
     "same containerPort"),
    ({"ports": [{"name": "a", "containerPort": 80, "servicePort": 90},
                {"name": "b", "containerPort": 90}]},
     "same servicePort"),
    ({"ports": [{"name": "http", "containerPort": 80, "nodePort": 30080}]},
     "nodePort needs service.type"),
    ({"replicas": 2, "volumes": [{"name": "data", "mountPath": "/data"}]},
     "replicas > 1"),
    ({"volumes": [{"name": "a", "mountPath": "/d"}, {"name": "b", "mountPath": "/d"}]},
     "mountPath '/d' is used twice"),
    ({"podLabels": {"app.kubernetes.io/instance": "x"}}, "selector labels"),
    ({"securityProfile": "restricted", "runAsUser": 0}, "user 0"),
    ({"probes": {"readiness": {"httpGet": {"port": "web"}}}}, "names no port"),
    ({"probes": {"liveness": {"tcpSocket": {"port": 80}, "exec": {"command": ["true"]}}}},
     "exactly one of httpGet"),
    ({"env": [{"name": "A", "value": "1", "valueFrom": {"secretKeyRef": {"name": "s",
                                                                          "key": "k"}}}]},
     "either value or valueFrom"),
    ({"envFrom": [{"prefix": "X_"}]}, "exactly one of configMapRef or secretRef"),
    ({"ports": [{"name": "8080", "containerPort": 80}]}, "at least one letter"),
    ({"volumes": [{"name": "data", "mountPath": "relative"}]}, "mount_path|mountPath"),
    ({"volumes": [{"name": "data", "mountPath": "/d", "size": "0"}]}, "size must be positive"),
    ({"replicas": -1}, "replicas"),
])
def test_invalid_specs_are_refused_with_the_field_named(fields: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        spec(**fields)


def test_valid_full_spec_round_trips() -> None:
    source = {
        "image": "nextcloud:29",
        "imagePullPolicy": "IfNotPresent",
        "imagePullSecrets": ["registry"],
        "replicas": 1,
        "command": ["/entrypoint.sh"],
        "args": ["apache2-foreground"],
        "workingDir": "/var/www/html",
        "env": [{"name": "A", "value": "1"},
                {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}],
        "envFrom": [{"configMapRef": {"name": "settings"}, "prefix": "NC_"}],
        "ports": [{"name": "http", "containerPort": 80, "servicePort": 8080, "nodePort": 30080}],
        "service": {"type": "NodePort", "annotations": {"a": "b"}},
        "volumes": [{"name": "html", "mountPath": "/var/www/html", "size": "10Gi"}],
        "volumeDeletionPolicy": "Delete",
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                      "limits": {"memory": "1Gi", "ephemeral-storage": "2Gi"}},
        "probes": {"readiness": {"httpGet": {"path": "/status.php", "port": "http"},
                                 "periodSeconds": 5}},
        "podLabels": {"team": "web"},
        "podAnnotations": {"note": "x"},
        "strategy": "Recreate",
        "securityProfile": "restricted",
        "runAsUser": 33,
        "runAsGroup": 33,
        "fsGroup": 33,
    }
    app = AppSpec.model_validate(source)
    again = AppSpec.model_validate(app.to_dict())
    assert again == app
    assert app.to_dict()["resources"]["limits"]["ephemeral-storage"] == "2Gi"


def test_suspend_scales_to_zero() -> None:
    assert spec(replicas=3, suspend=True).effective_replicas == 0
    assert spec(replicas=3).effective_replicas == 3


@pytest.mark.parametrize(("text", "value"), [
    ("1Gi", Decimal(2**30)), ("1024Mi", Decimal(2**30)), ("500m", Decimal("0.5")),
    ("2", Decimal(2)), (3, Decimal(3)), ("1k", Decimal(1000)), ("1e3", Decimal(1000)),
    ("1.5G", Decimal("1.5e9")),
])
def test_parse_quantity(text: str | int, value: Decimal) -> None:
    assert parse_quantity(text) == value


def test_parse_quantity_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not a quantity"):
        parse_quantity("lots")


def test_ports_without_names_get_names_like_docker_users_expect() -> None:
    assert make_ports([{"containerPort": 5000}]) == ["http"]  # the tutorial's Flask app
    assert make_ports([{"containerPort": 53, "protocol": "UDP"}]) == ["udp-53"]
    assert make_ports([{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"},
                       {"name": "admin", "containerPort": 9000}]) == ["http", "udp-53", "admin"]
    # The same number over TCP and UDP (`-p 53:53 -p 53:53/udp`) is two ports.
    assert make_ports([{"containerPort": 53}, {"containerPort": 53, "protocol": "UDP"}]) == [
        "tcp-53", "udp-53"]


@pytest.mark.parametrize(("number", "name"), [
    (80, "http"), (3000, "http"), (5000, "http"), (8000, "http"), (8080, "http"),
    (8888, "http"), (443, "https"), (8443, "https"),
])
def test_a_well_known_web_port_is_named_for_its_protocol(number: int, name: str) -> None:
    assert make_ports([{"containerPort": number}]) == [name]
    assert make_ports([{"containerPort": 5432}, {"containerPort": number}]) == [
        "tcp-5432", name]
    assert make_ports([{"containerPort": number, "protocol": "UDP"}]) == [f"udp-{number}"]


@pytest.mark.parametrize("number", [5432, 6379, 3306, 9000, 8081, 1234])
def test_any_other_lone_port_is_not_guessed_to_be_http(number: int) -> None:
    """Istio and Linkerd pick the protocol from the port's name: a Postgres or Redis port
    named `http` has its traffic parsed as HTTP."""
    assert make_ports([{"containerPort": number}]) == [f"tcp-{number}"]


@pytest.mark.parametrize(("app_protocol", "name"), [
    ("http", "http"), ("HTTP", "http"), ("https", "https"), ("grpc", "grpc"),
    ("postgresql", "postgresql"), ("kubernetes.io/h2c", "http2"), ("kubernetes.io/ws", "http"),
    ("kubernetes.io/wss", "https"),
    # No port-name form: the App said what it serves, so no guess from the number either.
    ("example.com/custom", "tcp-8080"), ("a-protocol-named-at-length", "tcp-8080"),
    ("my_proto", "tcp-8080"),
])
def test_the_app_protocol_names_a_port_without_a_name(app_protocol: str, name: str) -> None:
    assert make_ports([{"containerPort": 8080, "appProtocol": app_protocol}]) == [name]
    assert make_ports([{"containerPort": 9000, "appProtocol": app_protocol,
                        "name": "given"}]) == ["given"]


def test_the_app_protocol_is_read_as_kubernetes_writes_it() -> None:
    port = spec(ports=[{"containerPort": 8080, "appProtocol": "kubernetes.io/h2c"}]).ports
    assert port is not None and port[0].app_protocol == "kubernetes.io/h2c"
    assert port[0].to_dict() == {"containerPort": 8080, "protocol": "TCP",
                                 "appProtocol": "kubernetes.io/h2c"}
    for refused in ("not valid", "a/b/c", "-http", "", "x" * 64):
        with pytest.raises(ValidationError, match=r"app_protocol|appProtocol"):
            spec(ports=[{"containerPort": 8080, "appProtocol": refused}])


def test_a_derived_name_never_takes_an_explicit_one() -> None:
    assert make_ports([{"name": "tcp-5432", "containerPort": 5433}, {"containerPort": 5432}]) == [
        "tcp-5432", "tcp-5432-2"]
    # A second web port keeps its protocol for a service mesh: `http-<port>`.
    assert make_ports([{"name": "http", "containerPort": 9000}, {"containerPort": 8080}]) == [
        "http", "http-8080"]
    assert make_ports([{"containerPort": 8080}, {"containerPort": 8000}]) == ["http", "http-8000"]
    assert make_ports([{"name": "http", "containerPort": 1}, {"name": "http-8080",
                       "containerPort": 2}, {"containerPort": 8080}]) == [
        "http", "http-8080", "tcp-8080"]
    # No room for `-<port>` in 15 characters: `<protocol>-<port>`.
    long = "abcdefghijklmno"
    assert make_ports([{"containerPort": 1, "appProtocol": long},
                       {"containerPort": 65535, "appProtocol": long}]) == [long, "tcp-65535"]


def test_probes_refer_to_named_ports_only() -> None:
    with pytest.raises(ValidationError, match="names no port"):
        spec(ports=[{"containerPort": 5000}],
             probes={"readiness": {"httpGet": {"port": "http"}}})
    spec(ports=[{"containerPort": 5000}], probes={"readiness": {"httpGet": {"port": 5000}}})


def make_ports(ports: list[dict[str, object]]) -> list[str]:
    return spec(ports=ports).port_names()


def test_two_volumes_of_one_name_are_refused() -> None:
    with pytest.raises(ValidationError, match="volumes: name 'data' is used twice"):
        spec(volumes=[{"name": "data", "mountPath": "/a"}, {"name": "data", "mountPath": "/b"}])


@pytest.mark.parametrize("node_port", [30000, 31234, 32767])
def test_node_ports_of_the_range_are_taken(node_port: int) -> None:
    app = spec(ports=[{"containerPort": 80, "nodePort": node_port}], service={"type": "NodePort"})
    assert app.ports is not None and app.ports[0].node_port == node_port


@pytest.mark.parametrize("node_port", [0, 80, 29999, 32768, 65535])
def test_node_ports_outside_30000_to_32767_are_refused(node_port: int) -> None:
    with pytest.raises(ValidationError, match=r"node_port|nodePort"):
        spec(ports=[{"containerPort": 80, "nodePort": node_port}], service={"type": "NodePort"})


def test_a_node_port_is_taken_with_a_load_balancer() -> None:
    app = spec(ports=[{"containerPort": 80, "nodePort": 30080}],
               service={"type": "LoadBalancer"})
    assert app.service is not None and app.service.type == "LoadBalancer"


@pytest.mark.parametrize("mode", ["ReadWriteOnce", "ReadWriteOncePod"])
def test_single_node_volumes_allow_one_replica(mode: str) -> None:
    volumes = [{"name": "data", "mountPath": "/data", "accessMode": mode}]
    assert spec(replicas=1, volumes=volumes).volumes is not None
    with pytest.raises(ValidationError, match="replicas > 1"):
        spec(replicas=2, volumes=volumes)


@pytest.mark.parametrize("mode", ["ReadWriteMany", "ReadOnlyMany"])
def test_shared_volumes_allow_many_replicas(mode: str) -> None:
    assert spec(replicas=5, volumes=[{"name": "d", "mountPath": "/d", "accessMode": mode}])


def test_the_service_type_defaults_to_cluster_ip() -> None:
    app = spec(service={})
    assert app.service is not None and app.service.type == "ClusterIP"


def test_a_quantity_of_the_longest_form_is_read() -> None:
    longest = "1" * 18 + "." + "1" * 9 + "e+99"  # 32 characters, the most the form allows
    assert len(longest) == 32
    assert parse_quantity(longest) == Decimal(longest)


def test_a_refused_quantity_says_what_a_quantity_looks_like() -> None:
    with pytest.raises(ValueError, match=r"^'1e100' is not a quantity \(examples: 500m, 128Mi, "
                       r"1Gi, 2, 1e3; at most 18 digits and a two-digit exponent\)$"):
        parse_quantity("1e100")


@pytest.mark.parametrize("port", [1, 80, 65535, "http", "a", "web-8080", "abcdefghijklmno"])
def test_probe_ports_by_number_or_name(port: int | str) -> None:
    spec(ports=[{"name": str(port) if isinstance(port, str) else "http",
                 "containerPort": 8080}],
         probes={"readiness": {"tcpSocket": {"port": port}}})


@pytest.mark.parametrize("port", [0, 65536, "abcdefghijklmnop", "Web", "-web", "web-", "we_b"])
def test_probe_ports_that_are_neither_a_number_nor_a_name_are_refused(port: int | str) -> None:
    message = ("is not between 1 and 65535" if isinstance(port, int) else
               "is neither a number nor a port name")
    with pytest.raises(ValidationError, match=message):
        spec(probes={"liveness": {"tcpSocket": {"port": port}}})


def test_the_totals_name_their_field() -> None:
    with pytest.raises(ValidationError,
                       match=r"env: 131073 bytes in all \(UTF-8\), more than 131072"):
        spec(env=[{"name": "A", "value": "x" * 32768}] * 4 + [{"name": "B", "value": "x"}])
    with pytest.raises(ValidationError,
                       match=r"files: 262145 bytes in all \(UTF-8\), more than 262144"):
        spec(files=[{"mountPath": "/a", "content": "x" * 262144},
                    {"mountPath": "/b", "content": "y"}])


def test_sizes_count_bytes_as_the_api_server_stores_them() -> None:
    """A 4-byte emoji counts 4 (issue 23 item 2): 32,768 of them are 131,072 bytes of env."""
    emoji = "\U0001F600"
    spec(env=[{"name": "A", "value": emoji * 32768}])
    with pytest.raises(ValidationError, match=r"env: 131074 bytes in all \(UTF-8\)"):
        spec(env=[{"name": "A", "value": emoji * 32768}, {"name": "B", "value": "é"}])
    with pytest.raises(ValidationError, match=r"args: 65540 bytes in all"):
        spec(args=[emoji * 4096] * 4 + ["\u00e9\u00e9"])
    with pytest.raises(ValidationError, match=r"podAnnotations: 65537 bytes in all"):
        spec(podAnnotations={"a": emoji * 8000, "b": emoji * 8000, "c": "x" * 1534})


def test_a_whole_app_is_bounded_with_a_message_naming_the_limit() -> None:
    """Each field within its own bound, all of them together past 256 KiB of text."""
    word = "x" * 4096
    fields = {"command": [word] * 16, "args": [word] * 16,
              "env": [{"name": f"V{i}", "value": "v" * 512} for i in range(200)]}
    assert AppSpec.model_validate({"image": "nginx", **fields}).text_size() == 233472
    with pytest.raises(ValidationError) as error:
        spec(**fields, files=[{"mountPath": "/a", "content": "\u00e9" * 16384}])
    assert (f"an App may hold at most {model.APP_TEXT_MAX} bytes (256 KiB, UTF-8)"
            in str(error.value))
    assert "this one holds 266240" in str(error.value)
