"""No input crashes the converter: any compose document that passes the schema, and any
`docker run` line, either converts into a valid App or is refused with a reason (never a
KeyError, TypeError or ValueError from inside)."""

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app_operator.convert import compose_schema
from app_operator.convert.converter import (
    DiskFiles,
    Refused,
    convert_compose,
    convert_run,
)
from app_operator.core.model import AppSpec
from tests.corpus import CORPUS

PROJECT = CORPUS / "awesome-compose" / "nginx-golang-mysql"

words = st.sampled_from([
    "80", "8080:80", "53:53/udp", "53/tcp", "30080:80", "0:80", "127.0.0.1:80:80", "1-3",
    "70000", "data:/data", "./proxy/nginx.conf:/etc/x.conf", "./proxy:/srv", "./db", "/etc:/etc",
    "~/x:/x", "/data", "x", "", " ", "A=", "A=1", "host", "none", "1.5", "512m", "ro",
    "nginx", "-", "--", "{}", "true", "null"])
flags = st.sampled_from([
    "-p", "--expose", "-v", "--mount", "-e", "--env-file", "--name", "--entrypoint", "-w",
    "-u", "--restart", "-m", "--cpus", "--health-cmd", "--health-interval", "--pull", "-l",
    "-d", "-it", "--rm", "--network", "--pid", "--cap-add", "--privileged", "--frobnicate",
    "--mount=type=bind,source=./proxy/nginx.conf,target=/x", "--mount=type=tmpfs,target=/t"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(flags, words), max_size=12), st.sampled_from(["nginx", "-", ""]))
def test_any_docker_run_line_converts_or_is_refused(argv: list[str], image: str) -> None:
    try:
        conversion = convert_run(["docker", "run", *argv, image], files=DiskFiles(PROJECT))
    except Refused as refused:
        assert str(refused)
        return
    AppSpec.model_validate(conversion.app["spec"])


scalars = st.one_of(st.none(), st.booleans(), st.integers(-2, 70000),
                    st.sampled_from(["", "x", "80", "80:80", "53:53/udp", "/data", "data:/data",
                                     "./proxy/nginx.conf:/etc/n.conf", "./proxy:/p", "host",
                                     "always", "1g", "10s", "db", "backend:8000", "A=1",
                                     "CMD", "db/password.txt"]))
values: st.SearchStrategy[Any] = st.recursive(
    scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(["target", "published", "protocol", "source", "type",
                                         "file", "content", "environment", "external", "name",
                                         "condition", "test", "context", "args", "mode",
                                         "read_only", "x-a"]), inner, max_size=4)),
    max_leaves=12)
SERVICE_KEYS = ["image", "build", "ports", "expose", "volumes", "environment", "env_file",
                "command", "entrypoint", "working_dir", "user", "deploy", "healthcheck",
                "restart", "labels", "secrets", "configs", "depends_on", "networks", "extends",
                "hostname", "cap_add", "network_mode", "container_name", "tmpfs", "develop"]
services = st.dictionaries(st.sampled_from(["web", "db", "backend", "Bad_Name", "1x"]),
                           st.dictionaries(st.sampled_from(SERVICE_KEYS), values, max_size=6),
                           min_size=1, max_size=3)
documents = st.fixed_dictionaries(
    {"services": services},
    optional={"volumes": st.dictionaries(st.sampled_from(["data", "db"]), values, max_size=2),
              "secrets": st.dictionaries(st.sampled_from(["db-password", "s"]), values,
                                         max_size=2),
              "configs": st.dictionaries(st.sampled_from(["c"]), values, max_size=1),
              "networks": st.dictionaries(st.sampled_from(["n"]), values, max_size=1),
              "name": scalars})


# Services of the right shape, so that most documents pass the schema and reach the converter.
port = st.sampled_from(["80", "8080:80", "53:53/udp", "53:53/tcp", "30080:80", "9000-9001",
                        "127.0.0.1:5432:5432"])
long_port = st.fixed_dictionaries({"target": st.integers(1, 65535)}, optional={
    "published": st.sampled_from(["8080", 30081, ""]), "protocol": st.sampled_from(["tcp", "udp"]),
    "name": st.sampled_from(["web", "tcp-80", "http"])})
volume = st.sampled_from(["data:/data", "/anon", "./proxy/nginx.conf:/etc/n.conf:ro",
                          "./proxy:/etc/proxy", "./db/password.txt:/run/p", "./missing:/m",
                          "/var/run/docker.sock:/var/run/docker.sock", "data:/data:ro,z"])
texts = st.sampled_from(["http://backend:8000", "db", "db:5432", "web", "x", "", "backend"])
typed_service = st.fixed_dictionaries({
    "image": st.sampled_from(["nginx", "postgres:16", "example/app"])}, optional={
    "build": st.one_of(st.sampled_from([".", "./proxy"]), st.fixed_dictionaries(
        {"context": st.just(".")}, optional={"target": st.just("dev"),
                                             "args": st.lists(st.just("A=1"), max_size=2)})),
    "ports": st.lists(st.one_of(port, long_port), max_size=4, unique_by=str),
    "expose": st.lists(st.sampled_from(["3000", "53/udp", 5432]), max_size=2, unique=True),
    "volumes": st.lists(volume, max_size=3, unique=True),
    "environment": st.dictionaries(st.sampled_from(["URL", "HOST", "EMPTY"]), texts, max_size=3),
    "command": st.one_of(texts, st.lists(texts, max_size=3)),
    "secrets": st.lists(st.sampled_from(["db-password", "s"]), max_size=2, unique=True),
    "configs": st.lists(st.sampled_from(["c"]), max_size=1),
    "depends_on": st.one_of(
        st.lists(st.sampled_from(["web", "db"]), max_size=2, unique=True),
        st.dictionaries(st.sampled_from(["web", "db", "backend"]), st.fixed_dictionaries(
            {"condition": st.sampled_from(["service_started", "service_healthy",
                                           "service_completed_successfully"])}), max_size=2)),
    "restart": st.sampled_from(["no", "on-failure:3", "always"]),
    "network_mode": st.sampled_from(["service:web", "service:db", "bridge"]),
    "hostname": st.just("h"),
    "healthcheck": st.fixed_dictionaries({"test": st.just(["CMD", "true"]),
                                          "interval": st.sampled_from(["10s", "1m30s"])}),
})
typed_documents = st.fixed_dictionaries(
    {"services": st.dictionaries(st.sampled_from(["web", "db", "backend"]), typed_service,
                                 min_size=1, max_size=3),
     "secrets": st.just({"db-password": {"file": "db/password.txt"},
                         "s": {"environment": "S"}}),
     "configs": st.just({"c": {"file": "proxy/nginx.conf"}})},
    optional={"volumes": st.just({"data": {}})})


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(documents, typed_documents), st.booleans(), st.booleans())
def test_any_compose_document_converts_or_is_refused(document: dict[str, Any], prefix: bool,
                                                     dirs: bool) -> None:
    try:
        conversions = convert_compose(
            document, schema=compose_schema.load(), files=DiskFiles(PROJECT),
            image_prefix="registry.example.com/fuzz" if prefix else None, dirs_as_files=dirs)
    except Refused as refused:
        assert str(refused)
        return
    claims = {c.app["metadata"]["name"] for c in conversions
              if c.app["kind"] == "PersistentVolumeClaim"}
    apps = {c.app["metadata"]["name"]: c.app["spec"] for c in conversions
            if c.app["kind"] == "App"}
    for spec in apps.values():  # what an App waits for is an App of the conversion
        for dependency in spec.get("dependsOn", []):
            assert dependency["name"] in apps
            if dependency["condition"] == "Completed":
                assert apps[dependency["name"]].get("restartPolicy") in ("Never", "OnFailure")
        for sidecar in spec.get("sidecars", []):  # a sidecar mounts volumes of its App
            assert sidecar["name"] not in apps
            names = {v["name"] for v in spec.get("volumes", [])}
            assert {m["name"] for m in sidecar.get("volumeMounts", [])} <= names
    for conversion in conversions:
        if conversion.app["kind"] == "PersistentVolumeClaim":
            continue
        spec = conversion.app["spec"]
        shared = [v for v in spec.get("volumes", []) if "claimName" in v]
        assert {v["claimName"] for v in shared} <= claims
        own = [v for v in spec.get("volumes", []) if "claimName" not in v]
        AppSpec.model_validate({**spec, "volumes": own} if own else {
            k: v for k, v in spec.items() if k != "volumes"})
