"""`app-operator convert`, flag by flag and key by key: the whole App and every warning, word
for word. The warnings are what a person reads to know what did not carry over, so they are
part of the result."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from app_operator.convert import compose_schema
from app_operator.convert.converter import (
    Conversion,
    DiskFiles,
    NoFiles,
    Refused,
    convert_compose,
    convert_run,
    cpus,
    image_base,
    memory,
    name_from_image,
    seconds,
)
from app_operator.core.model import AppSpec

ANONYMOUS = ("anonymous volume at {0} becomes the persistent volume {1!r} (a claim that "
             "outlives the pod; it starts empty, not with the image's files)")


def run(command: str, **kwargs: Any) -> tuple[dict[str, Any], list[str]]:
    conversion = convert_run(shlex.split(command), **kwargs)
    AppSpec.model_validate(conversion.app["spec"])
    return conversion.app["spec"], conversion.warnings


# docker run

@pytest.mark.parametrize(("flags", "spec", "warnings"), [
    ("--mount type=volume,src=data,dst=/data,ro",
     {"volumes": [{"name": "data", "mountPath": "/data", "readOnly": True}]}, []),
    ("--mount readonly=1,source=d,target=/d --mount readonly=false,source=e,target=/e",
     {"volumes": [{"name": "d", "mountPath": "/d", "readOnly": True},
                  {"name": "e", "mountPath": "/e"}]}, []),
    ("--mount type=volume,destination=/var/lib/x",
     {"volumes": [{"name": "var-lib-x", "mountPath": "/var/lib/x"}]},
     ["--mount type=volume,destination=/var/lib/x: "
      + ANONYMOUS.format("/var/lib/x", "var-lib-x")]),
    ("--mount type=tmpfs,target=/cache", {},
     ["--mount type=tmpfs,target=/cache: tmpfs mounts are not translated (an App's volumes "
      "are persistent); the image's own directory is used instead"]),
    ("-v data:/data:ro,z -v logs:/logs:rw",
     {"volumes": [{"name": "data", "mountPath": "/data", "readOnly": True},
                  {"name": "logs", "mountPath": "/logs"}]},
     ["-v data:/data:ro,z: option 'z' is not translated"]),
    ("-v a:/x -v a:/y", {"volumes": [{"name": "a", "mountPath": "/x"}]},
     ["-v a:/y: volume a is mounted twice; an App mounts each volume once, the second mount "
      "is left out"]),
    ("-v a:/x -v b:/x", {"volumes": [{"name": "a", "mountPath": "/x"}]},
     ["-v b:/x: /x is mounted twice; the second mount is left out"]),
    ("-v /", {"volumes": [{"name": "root", "mountPath": "/"}]},
     ["-v /: " + ANONYMOUS.format("/", "root")]),
    ("-e NAME", {}, ["-e NAME has no value here (Docker takes it from your shell); left out: "
                     "set it in spec.env"]),
    ("-e EMPTY= -e A=1", {"env": [{"name": "EMPTY"}, {"name": "A", "value": "1"}]}, []),
    ("--restart no --restart on-failure:3 --restart unless-stopped --restart always:1", {},
     ["--restart no: an App's containers are always restarted",
      "--restart on-failure:3: an App's containers are always restarted"]),
    ("--pull missing", {"imagePullPolicy": "IfNotPresent"}, []),
    ("--pull always", {"imagePullPolicy": "Always"}, []),
    ("-m 1.5g --memory-reservation 1024",
     {"resources": {"limits": {"memory": "1.5Gi"}, "requests": {"memory": "1024"}}}, []),
    ("--cpus 2 -m 512MB", {"resources": {"limits": {"cpu": "2000m", "memory": "512Mi"}}}, []),
    ("--health-interval 10s", {},
     ["--health-* timings without --health-cmd: the image's HEALTHCHECK is not known here; "
      "not translated"]),
    ("--health-cmd true --health-interval 1m30s --health-timeout 500ms --health-retries 0 "
     "--health-start-period 1h",
     {"probes": {"readiness": {"exec": {"command": ["sh", "-c", "true"]}, "periodSeconds": 90,
                               "timeoutSeconds": 1, "failureThreshold": 1,
                               "initialDelaySeconds": 3600}}}, []),
    ("--pid container:other --ipc shareable --uts private --network mynet --userns keep-id",
     {}, ["--pid container:other: not translated (Apps share the cluster network)",
          "--ipc shareable: not translated (Apps share the cluster network)",
          "--uts private: not translated (Apps share the cluster network)",
          "--network mynet: not translated (Apps share the cluster network)",
          "--userns keep-id: not translated (Apps share the cluster network)"]),
    ("--init --read-only -h box --add-host a:1.2.3.4 --log-driver json-file --tmpfs /t "
     "--link db --cap-drop ALL --security-opt no-new-privileges --no-healthcheck", {},
     ["--init: not translated (the image's own PID 1 is used)",
      "--read-only: not translated (the root filesystem stays writable)",
      "-h box: not translated (pods are named by Kubernetes)",
      "--add-host a:1.2.3.4: not translated",
      "--log-driver json-file: not translated (kubectl logs reads stdout)",
      "--tmpfs /t: not translated (an App's volumes are persistent)",
      "--link db: not translated (Apps reach each other by Service name)",
      "--cap-drop ALL: not translated (securityProfile restricted drops all)",
      "--security-opt no-new-privileges: not translated (see securityProfile)"]),
    ("-xd", {}, ["-x: unknown flag, not translated"]),
    ("--frob=1 --frob2", {}, ["--frob: unknown flag, not translated (its value '1' too)",
                              "--frob2: unknown flag, not translated"]),
    ("-u 1000:abc", {"runAsUser": 1000}, ["--user '1000:abc': group 'abc' is not numeric; "
                                          "left out"]),
    ("-u www-data:1000", {"runAsGroup": 1000},
     ["--user 'www-data:1000': Kubernetes needs numeric IDs; set spec.runAsUser to the UID of "
      "'www-data' in the image"]),
    ("-l app.kubernetes.io/name=x -l tier=front -l empty= -l note='a b'",
     {"podLabels": {"tier": "front", "empty": ""},
      "podAnnotations": {"app.kubernetes.io/name": "x", "note": "a b"}}, []),
    ("-p 127.0.0.1:8080:80",
     {"ports": [{"containerPort": 80}]},
     ["-p 127.0.0.1:8080:80: host address 127.0.0.1 is not translated",
      "ports 8080:80: inside the cluster the Service listens on 80 (other Apps reach it at "
      "nginx:80); nothing is published on your machine's ports. To reach it from outside use "
      "`kubectl port-forward svc/nginx 8080:80` or a nodePort (30000-32767, e.g. "
      "`-p 30080:80`) with service.type NodePort or a route by host name (`route: {hosts: "
      "[nginx.example.com], port: 80}` in the App: an Ingress of the cluster's default class, "
      "or route.parent.gateway for a Gateway)"]),
    ("-p 5353:53/udp", {"ports": [{"containerPort": 53, "protocol": "UDP"}]},
     ["ports 5353:53/udp: inside the cluster the Service listens on 53 (other Apps reach it "
      "at nginx:53); nothing is published on your machine's ports. To reach it from outside "
      "use a nodePort (30000-32767, e.g. `-p 30353:53/udp`) with service.type NodePort"]),
    ("-p 30080:80 -p 30081:80",
     {"ports": [{"containerPort": 80, "nodePort": 30080}], "service": {"type": "NodePort"}},
     ["-p 30081:80: 80/tcp is already published on nodePort 30080; nodePort 30081 is left "
      "out"]),
    ("-p 80 -p 80 -p 53/udp -p 8080",
     {"ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"},
                {"containerPort": 8080}]}, []),
])
def test_run_flags(flags: str, spec: dict[str, Any], warnings: list[str]) -> None:
    result, said = run(f"docker run {flags} nginx")
    assert result == {"image": "nginx", **spec}
    assert said == [f"nginx: {w}" for w in warnings]


@pytest.mark.parametrize(("command", "message"), [
    ("docker run --mount source=x nginx", "--mount 'source=x' has no target"),
    ("docker run --mount type=bind,target=/x nginx", "--mount 'type=bind,target=/x' has no "
     "source"),
    ("docker run --mount type=npipe,src=a,target=/x nginx",
     "--mount type=npipe cannot become an App volume"),
    ("docker run --env-file missing.env nginx", "--env-file missing.env: No such file"),
    ("docker run --pull sometimes nginx", "--pull 'sometimes' is not always, missing or never"),
    ("docker run --cpus 1 --cpus many nginx", "'many' is not a number of CPUs (example: 1.5)"),
    ("docker run --health-cmd true --health-interval soon nginx",
     "health interval: 'soon' is not a duration (examples: 30s, 1m30s)"),
    ("docker run --pid host nginx", "--pid=host gives the container access to the host; an "
     "App can never do that"),
    ("docker run --privileged nginx", "nginx: --privileged gives the container access"),
    ("docker run --cap-add NET_ADMIN nginx", "--cap-add=NET_ADMIN gives the container"),
    ("docker run -e", "-e needs a value"),
    ("docker run -de", "-e needs a value"),
    ("docker run --name", "--name needs a value"),
    ("docker run -v a:b:c:/d nginx", "-v 'a:b:c:/d' is not name:/path[:options]"),
    ("docker run -v data:relative nginx", "mount target 'data' is not an absolute path"),
    ("docker run -p 0:0 nginx", "-p 0:0: 0 is not a port number (1-65535)"),
    ("docker run --expose http nginx", "expose 'http' is not a port"),
    ("docker", "expected a `docker run"),
    ("docker run -", "cannot make a Kubernetes name out of image '-'"),
    ("docker run --name '***' nginx", "cannot make a Kubernetes name out of --name"),
])
def test_run_refusals(command: str, message: str) -> None:
    with pytest.raises(Refused, match=re.escape(message)):
        convert_run(shlex.split(command), files=DiskFiles(Path("/nonexistent")))


def test_every_problem_of_a_run_line_is_named_at_once() -> None:
    with pytest.raises(Refused) as refused:
        convert_run(shlex.split("docker run --pull x -m y --privileged nginx"))
    assert str(refused.value).splitlines() == [
        "nginx: --pull 'x' is not always, missing or never",
        "nginx: --memory: 'y' is not a memory size (examples: 512m, 1g)",
        "nginx: --privileged gives the container access to the host; an App can never do that"]


@pytest.mark.parametrize(("flags", "message"), [
    ("--cpus many", "--cpus: 'many' is not a number of CPUs"),
    ("--memory-reservation lots", "--memory-reservation: 'lots' is not a memory size"),
])
def test_a_refused_value_names_the_flag_it_was_given_with(flags: str, message: str) -> None:
    with pytest.raises(Refused, match=re.escape(message)):
        convert_run(shlex.split(f"docker run {flags} nginx"))


@pytest.mark.parametrize(("command", "name"), [
    ("sudo docker container run nginx", "nginx"), ("podman run nginx", "nginx"),
    ("run nginx", "nginx"), ("nginx", "nginx"), ("docker run -- nginx", "nginx"),
    ("docker run registry.example.com:5000/team/app:v1", "app"),
    ("docker run nginx@sha256:abc", "nginx"), ("docker run ghcr.io/org/My_App:1", "my-app"),
    ("docker run 123abc", "app-123abc"), ("docker run --name Web_1 nginx", "web-1"),
    ("docker run --name=db nginx", "db"),
])
def test_the_app_is_named_after_name_or_image(command: str, name: str) -> None:
    assert convert_run(shlex.split(command)).app["metadata"]["name"] == name


def test_the_words_after_the_image_are_its_arguments() -> None:
    spec, _ = run("docker run --entrypoint sh nginx -c 'echo hi' -p 80")
    assert spec == {"image": "nginx", "command": ["sh"], "args": ["-c", "echo hi", "-p", "80"]}


@pytest.mark.parametrize(("image", "base"), [
    ("docker.io/library/postgres:16", "postgres"), ("localhost:5000/redis", "redis"),
    ("minio/minio:latest", "minio/minio"), ("library/mysql", "mysql"),
    ("postgres@sha256:0123", "postgres"), ("registry.example.com/team/app", "team/app"),
    ("mariadb:11", "mariadb"),
])
def test_image_base(image: str, base: str) -> None:
    assert image_base(image) == base


@pytest.mark.parametrize(("image", "name"), [
    ("nginx", "nginx"), ("bitnami/redis:7", "redis"), ("a.io/x/Y_Z:1@sha256:0", "y-z"),
])
def test_name_from_image(image: str, name: str) -> None:
    assert name_from_image(image) == name


@pytest.mark.parametrize(("text", "value"), [
    ("30s", 30), ("1m30s", 90), ("1h", 3600), ("500ms", 1), ("1.5s", 2), ("2m 30s", 150),
    ("90000us", 1), (45, 45), (0.2, 1), ("3000000000ns", 3),
])
def test_durations_in_whole_seconds_at_least_one(text: str | int, value: int) -> None:
    assert seconds(text, "interval") == value


@pytest.mark.parametrize("text", ["10", "soon", "1m30", "s", "1x"])
def test_durations_need_a_unit(text: str) -> None:
    with pytest.raises(Refused, match=f"interval: '{text}' is not a duration"):
        seconds(text, "interval")


@pytest.mark.parametrize(("text", "value"), [
    ("512m", "512Mi"), ("1g", "1Gi"), ("1.5G", "1.5Gi"), ("2k", "2Ki"), ("1t", "1Ti"),
    ("512MB", "512Mi"), ("64mib", "64Mi"), ("1024", "1024"), ("100b", "100"), (2048, 2048),
    (" 256m ", "256Mi"),
])
def test_memory_sizes(text: str | int, value: str | int) -> None:
    assert memory(text, "--memory") == value


@pytest.mark.parametrize("text", ["lots", "1p", "-1m", "1 gb extra"])
def test_memory_sizes_refused(text: str) -> None:
    with pytest.raises(Refused, match=f"--memory: '{text}' is not a memory size"):
        memory(text, "--memory")


@pytest.mark.parametrize(("text", "value"), [("0.5", "500m"), (2, "2000m"), (1.25, "1250m"),
                                             ("0.001", "1m")])
def test_cpus(text: str | float, value: str) -> None:
    assert cpus(text, "--cpus") == value


# compose

def compose(text: str, **kwargs: Any) -> dict[str, tuple[dict[str, Any], list[str]]]:
    conversions: list[Conversion] = convert_compose(yaml.safe_load(text),
                                                    schema=compose_schema.load(), **kwargs)
    for conversion in conversions:
        AppSpec.model_validate(conversion.app["spec"])
    return {c.app["metadata"]["name"]: (c.app["spec"], c.warnings) for c in conversions}


def refusal(text: str, **kwargs: Any) -> str:
    with pytest.raises(Refused) as refused:
        convert_compose(yaml.safe_load(text), schema=compose_schema.load(), **kwargs)
    return str(refused.value)


NGINX_PORT = ("no ports listed; added 80, the port of the nginx image, so other services "
              "reach {0}:80 as they did under Compose")


def test_compose_long_volume_syntax() -> None:
    [(spec, warnings)] = compose("""
services:
  web:
    image: nginx
    ports: ["80"]
    volumes:
      - {type: tmpfs, target: /cache}
      - {type: volume, source: data, target: /data, read_only: true, consistency: cached,
         volume: {nocopy: true, subpath: sub}}
      - {type: volume, target: /anon}
      - {type: volume, source: logs, target: /logs, bind: {propagation: rprivate}}
volumes: {data: {}, logs: {}}
""").values()
    assert spec["volumes"] == [{"name": "data", "mountPath": "/data", "readOnly": True},
                               {"name": "anon", "mountPath": "/anon"},
                               {"name": "logs", "mountPath": "/logs"}]
    assert warnings == [
        "web: volumes: tmpfs at /cache is not translated (an App's volumes are persistent); "
        "the image's own directory is used instead",
        "web: volumes: data:/data: volume.subpath is not translated (the whole volume is "
        "mounted)",
        "web: volumes: /anon: " + ANONYMOUS.format("/anon", "anon")]


@pytest.mark.parametrize(("volume", "message"), [
    ("{type: npipe, source: x, target: /x}", "web: volumes: type npipe at /x cannot become an "
     "App volume"),
    ("{type: bind, target: /x}", "web: volumes: /x: a bind mount needs a source"),
    ("{type: volume, source: data, target: x}",
     "web: volumes: data:x: mount target 'x' is not an absolute path"),
])
def test_compose_long_volumes_refused(volume: str, message: str) -> None:
    assert refusal(f"services:\n  web:\n    image: nginx\n    volumes:\n      - {volume}\n"
                   "volumes: {data: {}}\n") == message


@pytest.mark.parametrize(("port", "message"), [
    ("{}", "web: ports {}: no target (the container's port) is given; add `target: PORT`"),
    ("{target: http}", "web: ports {'target': 'http'}: target 'http' is not a port number"),
    ("{target: 80, published: x}",
     "web: ports {'target': 80, 'published': 'x'}: published 'x' is not a port number"),
])
def test_compose_long_ports_refused(port: str, message: str) -> None:
    """The schema lets a long-syntax port lack its target or be any string (found by
    test_convert_fuzz: a KeyError before)."""
    assert refusal(f"services:\n  web:\n    image: nginx\n    ports:\n      - {port}\n"
                   ) == message


def test_compose_extra_volume_keys_are_named() -> None:
    [(_, warnings)] = compose("""
services:
  web:
    image: nginx
    ports: ["80"]
    volumes: [{type: volume, source: data, target: /data, tmpfs: {size: 1}}]
volumes: {data: {}}
""").values()
    assert warnings == ["web: volumes: data:/data: tmpfs is not translated"]


def test_compose_healthchecks() -> None:
    apps = compose("""
services:
  a: {image: nginx, ports: ["80"], healthcheck: {disable: true, test: [CMD, x]}}
  b: {image: nginx, ports: ["80"], healthcheck: {interval: 10s}}
  c: {image: nginx, ports: ["80"], healthcheck: {test: [NONE]}}
  d: {image: nginx, ports: ["80"], healthcheck: {test: [CMD-SHELL, "curl -f", "http://x"],
                                                   start_interval: 1s}}
  e: {image: nginx, ports: ["80"], healthcheck: {test: "curl x", retries: 2, timeout: 1m}}
  f: {image: nginx, ports: ["80"], healthcheck: {test: [CMD, curl, -f, "http://x"],
                                                   start_period: 5s, interval: 3s}}
""")
    assert apps["a"] == ({"image": "nginx", "ports": [{"containerPort": 80}]}, [])
    assert "probes" not in apps["b"][0]
    assert apps["b"][1] == ["b: healthcheck without test: the image's HEALTHCHECK is not known "
                            "here"]
    assert "probes" not in apps["c"][0] and apps["c"][1] == []
    assert apps["d"][0]["probes"] == {"readiness": {"exec": {"command": [
        "sh", "-c", "curl -f http://x"]}}}
    assert apps["d"][1] == ["d: healthcheck.start_interval is not translated"]
    assert apps["e"][0]["probes"] == {"readiness": {
        "exec": {"command": ["sh", "-c", "curl x"]}, "timeoutSeconds": 60,
        "failureThreshold": 2}}
    assert apps["f"][0]["probes"] == {"readiness": {
        "exec": {"command": ["curl", "-f", "http://x"]}, "periodSeconds": 3,
        "initialDelaySeconds": 5}}


def test_a_healthcheck_test_of_another_form_is_refused() -> None:
    assert refusal("services:\n  a: {image: nginx, healthcheck: {test: [FOO, x]}}\n") == (
        "a: healthcheck test ['FOO', 'x'] must start with CMD, CMD-SHELL or NONE")


def test_compose_deploy_and_resources() -> None:
    apps = compose("""
services:
  a:
    image: nginx
    ports: ["80"]
    deploy:
      replicas: 2
      resources:
        limits: {cpus: '0.5', memory: 256M, pids: 10}
        reservations: {cpus: '0.25', memory: 64m, devices: []}
      restart_policy: {condition: any}
    volumes: [data:/data]
  b: {image: nginx, ports: ["80"], scale: 3, mem_limit: 1g, mem_reservation: 512m}
  c: {image: nginx, ports: ["80"], deploy: {replicas: 1, resources: {limits: {memory: 1g}}},
      cpus: 1.5}
volumes: {data: {}}
""")
    assert apps["a"] == ({
        "image": "nginx", "replicas": 2, "ports": [{"containerPort": 80}],
        "volumes": [{"name": "data", "mountPath": "/data", "accessMode": "ReadWriteMany"}],
        "resources": {"limits": {"cpu": "500m", "memory": "256Mi"},
                      "requests": {"cpu": "250m", "memory": "64Mi"}}}, [
        "a: deploy.resources.limits.pids is not translated",
        "a: deploy.resources.reservations.devices is not translated",
        "a: deploy.restart_policy is not translated",
        "a: several replicas share the volumes: they are ReadWriteMany, which needs a "
        "StorageClass that supports it"])
    assert apps["b"] == ({
        "image": "nginx", "replicas": 3, "ports": [{"containerPort": 80}],
        "resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "512Mi"}}}, [])
    assert apps["c"][0]["resources"] == {"limits": {"memory": "1Gi", "cpu": "1500m"}}
    assert apps["c"][0]["replicas"] == 1


def test_compose_environment_and_env_files(tmp_path: Path) -> None:
    (tmp_path / "app.env").write_text("A=1\nexport QUOTED=\"two words\"\nSINGLE='x'\n")
    apps = compose("""
services:
  a:
    image: nginx
    ports: ["80"]
    env_file: [app.env, {path: missing.env, required: false}]
    environment: [X=1, FROM_SHELL, NOT_SET, "WITH=equals=sign"]
  b:
    image: nginx
    ports: ["80"]
    env_file: app.env
    environment: {Y: "", Z: null, A: overridden}
""", files=DiskFiles(tmp_path), environ={"FROM_SHELL": "yes"})
    secret_warning = ("env_file app.env: its values are written into the App; keep passwords "
                      "in a Secret and use envFrom or valueFrom.secretKeyRef instead")
    assert apps["a"][0]["env"] == [
        {"name": "A", "value": "1"}, {"name": "QUOTED", "value": "two words"},
        {"name": "SINGLE", "value": "x"}, {"name": "X", "value": "1"},
        {"name": "FROM_SHELL", "value": "yes"}, {"name": "WITH", "value": "equals=sign"}]
    assert apps["a"][1] == [f"a: {secret_warning}",
                            "a: environment NOT_SET has no value here (Docker takes it from "
                            "your shell); left out: set it in spec.env"]
    assert apps["b"][0]["env"] == [
        {"name": "A", "value": "overridden"}, {"name": "QUOTED", "value": "two words"},
        {"name": "SINGLE", "value": "x"}, {"name": "Y"}]
    assert apps["b"][1][1] == ("b: environment Z has no value here (Docker takes it from your "
                               "shell); left out: set it in spec.env")


def test_a_missing_env_file_refuses_the_service(tmp_path: Path) -> None:
    message = refusal("services:\n  a: {image: nginx, env_file: missing.env}\n",
                      files=DiskFiles(tmp_path))
    assert message == "a: env_file ./missing.env: No such file or directory"


def test_compose_service_keys_that_do_not_carry_over_are_named() -> None:
    apps = compose("""
services:
  a:
    image: nginx
    restart: on-failure:3
    container_name: my-nginx
    networks: [front]
    depends_on: [b]
    labels: [team=web, "description=The web tier"]
    user: "1000:2000"
    hostname: x
    ports:
      - "8080:80"
      - {target: 443, published: "30443", protocol: tcp, host_ip: 127.0.0.1}
      - "53:53/udp"
    expose: ["9000", "9100-9101"]
  b:
    image: redis:7
    networks: {front: {aliases: [cache]}}
    depends_on: {c: {condition: service_healthy}}
    restart: unless-stopped
  c:
    image: alpine
    command: sleep infinity
    restart: "no"
    healthcheck: {test: [CMD, "true"]}
networks:
  front: {driver: bridge}
volumes:
  data: {driver: local}
x-custom: 1
""")
    spec, warnings = apps["a"]
    assert spec == {
        "image": "nginx",
        "ports": [{"containerPort": 80}, {"containerPort": 443, "nodePort": 30443},
                  {"containerPort": 53, "protocol": "UDP"}, {"containerPort": 9000},
                  {"containerPort": 9100}, {"containerPort": 9101}],
        "service": {"type": "NodePort"}, "podLabels": {"team": "web"},
        "podAnnotations": {"description": "The web tier"}, "runAsUser": 1000,
        "runAsGroup": 2000, "dependsOn": [{"name": "b", "condition": "Ready"}]}
    assert warnings == [
        "networks: front: driver not translated (all Apps of a namespace share one network)",
        "volumes: data: driver not translated (each volume becomes a PersistentVolumeClaim of "
        "the cluster's default StorageClass)",
        "a: ports {'target': 443, 'published': '30443', 'protocol': 'tcp', 'host_ip': "
        "'127.0.0.1'}: host address 127.0.0.1 is not translated",
        "a: container_name my-nginx: the App is named a after the service; other Apps reach it "
        "as a, not my-nginx",
        "a: networks: all Apps of a namespace share one network; reach others by their App "
        "name",
        "a: hostname: not translated (pods are named by Kubernetes; other Apps reach this one "
        "by its App name)",
        "a: restart on-failure:3: kept running by a Deployment, which starts its container "
        "again whenever it stops, since it serves port 80; if it is work that runs once, set "
        "restartPolicy: OnFailure",
        "a: ports 8080:80, 53:53/udp: inside the cluster the Service listens on 53, 80 (other "
        "Apps reach it at a:53); nothing is published on your machine's ports. To reach it "
        "from outside use `kubectl port-forward svc/a 8080:80` or a nodePort (30000-32767, "
        "e.g. `ports: [\"30080:80\"]`) with service.type NodePort or a route by host name "
        "(`route: {hosts: [a.example.com], port: 80}` in the App: an Ingress of the "
        "cluster's default class, or route.parent.gateway for a Gateway)"]
    assert apps["b"] == ({"image": "redis:7",
                          "ports": [{"name": "redis", "containerPort": 6379}],
                          "dependsOn": [{"name": "c", "condition": "Ready"}]}, [
        "b: networks: all Apps of a namespace share one network; reach others by their App "
        "name (front: aliases not translated)",
        "b: no ports listed; added 6379, the port of the redis image, so other services reach "
        "b:6379 as they did under Compose"])


def built(tmp_path: Path, text: str, **kwargs: Any) -> dict[str, Conversion]:
    (tmp_path / "web").mkdir(exist_ok=True)
    (tmp_path / "web" / "Dockerfile").write_text("FROM python:3.12\n")
    conversions = convert_compose(yaml.safe_load(text), schema=compose_schema.load(),
                                  files=DiskFiles(tmp_path), **kwargs)
    return {c.app["metadata"]["name"]: c for c in conversions}


def test_every_build_key_reaches_the_docker_build_command(tmp_path: Path) -> None:
    [web] = built(tmp_path, """
services:
  web:
    build:
      context: ./web
      dockerfile: Dockerfile.prod
      target: runtime
      args: {VERSION: "1.2", EMPTY: null}
      labels: [team=web, bare]
      cache_from: [registry/web:cache]
      network: host
      extra_hosts: ["db:10.0.0.2"]
      no_cache: true
      pull: true
      shm_size: 2g
      platforms: [linux/amd64, linux/arm64]
      ssh: [default]
      tags: [x]
      privileged: true
    ports: ["8000"]
""", image_prefix="registry.example.com/team", image_tag="v2").values()
    assert web.app["spec"]["image"] == "registry.example.com/team/web:v2"
    assert web.commands == [
        "docker build -t registry.example.com/team/web:v2 -f ./web/Dockerfile.prod --target "
        "runtime --build-arg VERSION=1.2 --build-arg EMPTY --label team=web --label bare "
        "--cache-from registry/web:cache --network host --add-host db:10.0.0.2 --no-cache "
        "--pull --shm-size 2g --platform linux/amd64,linux/arm64 --ssh default ./web",
        "docker push registry.example.com/team/web:v2"]
    assert web.warnings == [
        "web: build.privileged is not in the `docker build` command below; add it by hand",
        "web: build.tags is not in the `docker build` command below; add it by hand"]


def test_build_contexts_remote_inline_and_absolute_dockerfiles(tmp_path: Path) -> None:
    apps = built(tmp_path, """
services:
  remote:
    build: {context: "https://github.com/org/repo.git#main", dockerfile: docker/Dockerfile}
    ports: ["8000"]
  inline:
    build: {context: ., dockerfile_inline: "FROM alpine\\nRUN true\\n\\n", no_cache: false}
    image: myimage:1.5
    ports: ["8000"]
  abs:
    build: {context: ./web, dockerfile: /abs/Dockerfile, pull: false}
    ports: ["8000"]
  short:
    build: ./web
    ports: ["8000"]
""", image_prefix="registry.example.com/team")
    assert apps["remote"].commands[0] == (
        "docker build -t registry.example.com/team/remote:latest -f docker/Dockerfile "
        "'https://github.com/org/repo.git#main'")
    assert apps["inline"].app["spec"]["image"] == "registry.example.com/team/inline:1.5"
    assert apps["inline"].commands[0] == (
        "docker build -t registry.example.com/team/inline:1.5 -f - . <<'EOF'\n"
        "FROM alpine\nRUN true\nEOF")
    assert apps["inline"].warnings == [
        "inline: image myimage:1.5: the App runs registry.example.com/team/inline:1.5, built "
        "and pushed with the commands given"]
    assert apps["abs"].commands[0] == (
        "docker build -t registry.example.com/team/abs:latest -f /abs/Dockerfile ./web")
    assert apps["short"].commands == [
        "docker build -t registry.example.com/team/short:latest ./web",
        "docker push registry.example.com/team/short:latest"]


def test_a_service_with_an_image_and_a_build_runs_the_image_without_a_prefix(
        tmp_path: Path) -> None:
    [app] = built(tmp_path, "services:\n  web:\n    build: ./web\n    image: me/web:3\n"
                  "    ports: [\"8000\"]\n").values()
    assert app.app["spec"]["image"] == "me/web:3" and app.commands == []
    assert app.warnings == [
        "web: build: ignored; the App runs me/web:3, so push it to a registry the cluster can "
        "pull from (or convert with --image-prefix)"]


def test_a_secret_used_only_by_a_build_is_not_called_unused(tmp_path: Path) -> None:
    [app] = built(tmp_path, """
services:
  web:
    build: {context: ./web, secrets: [npmrc]}
    ports: ["8000"]
secrets:
  npmrc: {file: ./web/Dockerfile}
""", image_prefix="registry.example.com/team").values()
    assert not [w for w in app.warnings if "used by no service" in w], app.warnings


def test_build_secrets_reach_the_docker_build_command(tmp_path: Path) -> None:
    """`build.secrets` are for the build only: `docker build --secret`, from the file or the
    variable the top-level secret names, under the target name when one is given."""
    [web] = built(tmp_path, """
services:
  web:
    build:
      context: ./web
      secrets: [npmrc, {source: token, target: gh_token}, missing, odd]
    ports: ["8000"]
secrets:
  npmrc: {file: ./web/.npmrc}
  token: {environment: GITHUB_TOKEN}
  odd: {external: true}
""", image_prefix="registry.example.com/team").values()
    assert web.commands[0] == (
        "docker build -t registry.example.com/team/web:latest --secret id=npmrc,src=./web/.npmrc"
        " --secret id=gh_token,env=GITHUB_TOKEN ./web")
    assert [w for w in web.warnings if "build.secrets" in w] == [
        "web: build.secrets: missing is not declared under the top-level secrets:; left out of "
        "the `docker build` command",
        "web: build.secrets: odd has neither file nor environment; left out of the `docker "
        "build` command"]
    assert not [w for w in web.warnings if "used by no service" in w]


SPEC_ERRORS = "the file does not follow the Compose specification:\n"


@pytest.mark.parametrize(("text", "message"), [
    ("services:\n  web:\n    image: nginx\n    enviroment: {}\n    x-mine: 1\n    portz: []\n",
     SPEC_ERRORS + "  services.web: unknown key 'enviroment', 'portz' (a typo?)"),
    ("servics: {}\nservices:\n  web: {image: nginx}\n",
     SPEC_ERRORS + "  (top level): unknown key 'servics' (a typo?)"),
    ("services:\n  web:\n    image: nginx\n    ports: 80\n",
     SPEC_ERRORS + "  services.web.ports: 80 is not of type 'array'"),
    ("services:\n" + "".join(f"  s{i:02}:\n    image: nginx\n    bad{i}: 1\n" for i in range(12)),
     SPEC_ERRORS + "".join(f"  services.s{i:02}: unknown key 'bad{i}' (a typo?)\n"
                           for i in range(10)) + "  ... and 2 more"),
    ("services: {}\n", "the file has no services"),
    ("[]", "the file is not a compose file: its top level must be a mapping"),
    ("services:\n  web: {build: {}}\n", "web: has neither image nor build"),
    ("services:\n  web: {image: nginx}\n  Web: {image: nginx}\n",
     "Web: becomes App web, like service web"),
])
def test_compose_files_refused_with_every_problem_named(text: str, message: str) -> None:
    assert refusal(text) == message


def test_a_file_of_the_project_is_read_as_the_user_names_it(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "b.txt").write_text("b")
    (tmp_path / "conf" / "sub").mkdir()
    (tmp_path / "conf" / "sub" / "a.txt").write_text("a")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / "latin1.txt").write_bytes("caf\xe9".encode("latin-1"))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    files = DiskFiles(tmp_path, "project")
    assert [files.kind(p) for p in ("conf", "run.sh", "missing", "pipe")] == [
        "directory", "file", "missing", "other"]
    assert files.kind(str(tmp_path / "run.sh")) == "file"  # an absolute path
    assert files.list_files("conf") == ["b.txt", "sub/a.txt"]
    assert files.executable("run.sh") and not files.executable("conf/b.txt")
    assert not files.executable("missing")
    assert files.read_text("conf/b.txt") == "b"
    with pytest.raises(ValueError, match="it is not UTF-8 text"):
        files.read_text("latin1.txt")
    with pytest.raises(OSError):
        files.read_text("missing")
    assert files.relative(str(tmp_path / "conf" / "b.txt")) == "conf/b.txt"
    assert files.relative("/etc/passwd") is None and files.relative("~/x") is None
    # Shown from where the command ran: the compose file was named as project/compose.yaml.
    assert files.display("conf/b.txt") == "./project/conf/b.txt"
    assert files.display("../x") == "./x" and files.display("/abs") == "/abs"
    assert files.display("~/x") == "~/x"
    assert DiskFiles(tmp_path, "../up").display("a") == "../up/a"
    plain = DiskFiles(tmp_path)
    assert plain.display("conf/./b.txt") == "./conf/b.txt" and plain.display("x") == "./x"


def test_without_files_every_path_is_missing() -> None:
    files = NoFiles()
    assert files.kind("a") == "missing" and files.list_files("a") == []
    assert not files.executable("a") and files.relative("/a") is None
    with pytest.raises(OSError, match="reading files is not allowed here"):
        files.read_text("a")
    assert [files.display(p) for p in ("a", "/a", "~/a", "./a", "../a")] == [
        "./a", "/a", "~/a", "./a", "../a"]
