"""Issue 15: what a new user met converting real compose files, one case per test, each with
a compose snippet or a `docker run` line."""

import os
import shlex
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from app_operator.cli import main
from app_operator.convert import compose_schema
from app_operator.convert.converter import (
    Conversion,
    DiskFiles,
    Refused,
    convert_compose,
    convert_run,
)
from app_operator.core import yamlout
from app_operator.core.model import AppSpec


def convert(tmp_path: Path, compose: str, files: dict[str, str | bytes] | None = None,
            **kwargs: Any) -> list[Conversion]:
    """The compose text converted as in the directory tmp_path, holding `files`."""
    for name, content in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
    document = yaml.safe_load(textwrap.dedent(compose))
    conversions = convert_compose(document, schema=compose_schema.load(),
                                  files=DiskFiles(tmp_path), **kwargs)
    for conversion in conversions:
        AppSpec.model_validate(conversion.app["spec"])
    return conversions


def refusal(tmp_path: Path, compose: str, files: dict[str, str | bytes] | None = None,
            **kwargs: Any) -> str:
    with pytest.raises(Refused) as refused:
        convert(tmp_path, compose, files, **kwargs)
    return str(refused.value)


def apps(conversions: list[Conversion]) -> dict[str, dict[str, Any]]:
    return {c.app["metadata"]["name"]: c.app["spec"] for c in conversions}


def warnings(conversions: list[Conversion]) -> str:
    return "\n".join(w for c in conversions for w in c.warnings)


def run(command: str, **kwargs: Any) -> Conversion:
    conversion = convert_run(shlex.split(command), **kwargs)
    AppSpec.model_validate(conversion.app["spec"])
    return conversion


# ----------------------------------------------------------------- one port published twice

def test_docker_run_same_port_tcp_and_udp() -> None:
    conversion = run("docker run -p 53:53 -p 53:53/udp pihole/pihole")
    assert conversion.app["spec"]["ports"] == [
        {"name": "dns", "containerPort": 53}, {"containerPort": 53, "protocol": "UDP"}]


def test_docker_run_one_port_published_on_two_host_ports() -> None:
    conversion = run("docker run -p 80:80 -p 8080:80 nginx")
    assert conversion.app["spec"]["ports"] == [{"containerPort": 80}]
    [warning] = conversion.warnings
    assert "ports 80:80, 8080:80" in warning
    assert "kubectl port-forward svc/nginx 80:80 8080:80" in warning


def test_compose_same_port_tcp_and_udp_and_twice_published(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          dns:
            image: pihole/pihole
            ports: ["53:53/tcp", "53:53/udp", "80:80", "8080:80/tcp", "30053:53/udp"]
    """)
    assert apps(conversions)["dns"]["ports"] == [
        {"name": "dns", "containerPort": 53},
        {"containerPort": 53, "protocol": "UDP", "nodePort": 30053},
        {"containerPort": 80}]
    assert apps(conversions)["dns"]["service"] == {"type": "NodePort"}


def test_published_port_says_where_the_service_listens() -> None:
    [warning] = run("docker run -p 80:80 nginx").warnings
    assert "inside the cluster the Service listens on 80" in warning
    assert "nginx:80" in warning
    assert "kubectl port-forward svc/nginx 80:80" in warning
    assert "nodePort" in warning and "service.type NodePort" in warning


def test_a_given_port_name_never_takes_another_ports_derived_name(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          api:
            image: example/api
            ports:
              - {target: 9000, name: tcp-8080}
              - {target: 8080, name: web}
              - "8081"
    """)
    assert apps(conversions)["api"]["ports"] == [
        {"name": "tcp-8080", "containerPort": 9000}, {"name": "web", "containerPort": 8080},
        {"containerPort": 8081}]


# ----------------------------------------------------------------- empty values

def test_empty_env_value_has_no_value_key(tmp_path: Path) -> None:
    assert run("docker run -e FOO= -e BAR=1 busybox").app["spec"]["env"] == [
        {"name": "FOO"}, {"name": "BAR", "value": "1"}]
    conversions = convert(tmp_path, """
        services:
          a: {image: busybox, environment: ["FOO=", "BAR=x"]}
          b: {image: busybox, environment: {FOO: "", BAR: x}}
    """)
    for spec in apps(conversions).values():
        assert spec["env"] == [{"name": "FOO"}, {"name": "BAR", "value": "x"}]


# ----------------------------------------------------------------- files from the project

NGINX_CONF = "server {\n  listen 80;\n  location / { proxy_pass http://backend:8000; }\n}\n"


def test_single_file_bind_mount_becomes_a_file(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          proxy:
            image: nginx
            volumes:
              - ./nginx/nginx.conf:/etc/nginx/conf.d/default.conf:ro
              - type: bind
                source: ./start.sh
                target: /docker-entrypoint.d/50-start.sh
          backend:
            image: example/backend
            ports: ["8000"]
    """, {"nginx/nginx.conf": NGINX_CONF, "start.sh": "#!/bin/sh\necho hi\n"})
    os.chmod(tmp_path / "start.sh", 0o755)
    proxy = apps(conversions)["proxy"]
    assert "volumes" not in proxy
    assert proxy["files"][0] == {"mountPath": "/etc/nginx/conf.d/default.conf",
                                 "content": NGINX_CONF}
    assert proxy["files"][1]["mountPath"] == "/docker-entrypoint.d/50-start.sh"
    assert proxy["files"][1]["content"] == "#!/bin/sh\necho hi\n"
    text = warnings(conversions)
    # read-write under Compose, read-only now: said; `:ro` needs no word
    assert "/docker-entrypoint.d/50-start.sh is mounted read-only" in text
    assert "default.conf is mounted read-only" not in text


def test_executable_file_keeps_its_mode(tmp_path: Path) -> None:
    (tmp_path / "start.sh").write_text("#!/bin/sh\n")
    (tmp_path / "start.sh").chmod(0o755)
    conversions = convert(tmp_path, """
        services:
          app: {image: busybox, volumes: ["./start.sh:/start.sh:ro"]}
    """)
    assert apps(conversions)["app"]["files"] == [
        {"mountPath": "/start.sh", "content": "#!/bin/sh\n", "mode": 0o755}]


def test_docker_run_single_file_bind_mount(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    files = DiskFiles(tmp_path)
    for source in ("./nginx.conf", str(tmp_path / "nginx.conf")):  # $(pwd)/nginx.conf too
        conversion = run(f"docker run -v {source}:/etc/nginx/nginx.conf:ro nginx", files=files)
        assert conversion.app["spec"]["files"] == [
            {"mountPath": "/etc/nginx/nginx.conf", "content": NGINX_CONF}]
    conversion = run(f"docker run --mount type=bind,source={tmp_path}/nginx.conf,"
                     "target=/etc/nginx/nginx.conf,readonly nginx", files=files)
    assert conversion.app["spec"]["files"][0]["content"] == NGINX_CONF


def test_missing_bind_source_is_reported_clearly(tmp_path: Path) -> None:
    message = refusal(tmp_path, """
        services:
          web: {image: nginx, volumes: ["./nginx.conf:/etc/nginx/nginx.conf"]}
    """)
    assert "web: volumes: ./nginx.conf:/etc/nginx/nginx.conf: ./nginx.conf does not exist" in (
        message)


def test_binary_and_oversized_files_are_refused_with_the_reason(tmp_path: Path) -> None:
    message = refusal(tmp_path, """
        services:
          web:
            image: nginx
            volumes: ["./logo.png:/srv/logo.png", "./big.log:/srv/big.log"]
    """, {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "big.log": "x" * 300_000 + "\n"})
    assert "./logo.png is not a text file" in message
    assert "./big.log has 292 KiB, more than the 256 KiB" in message


def test_files_over_the_total_are_refused(tmp_path: Path) -> None:
    message = refusal(tmp_path, """
        services:
          web:
            image: nginx
            volumes: ["./a.txt:/srv/a.txt", "./b.txt:/srv/b.txt"]
    """, {"a.txt": "a" * 200_000, "b.txt": "b" * 100_000})
    assert "292 KiB in all, more than the 256 KiB an App may hold (the largest: /srv/a.txt)" in (
        message)


def test_configs_become_files(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          web:
            image: nginx
            configs:
              - site
              - source: inline
                target: /etc/app/inline.conf
                mode: 0440
              - source: from_env
                target: relative.conf
        configs:
          site: {file: ./site.conf}
          inline: {content: "key = value\\n"}
          from_env: {environment: APP_CONF}
          unused: {file: ./site.conf}
    """, {"site.conf": "server {}\n"}, environ={"APP_CONF": "a=1"})
    assert apps(conversions)["web"]["files"] == [
        {"mountPath": "/site", "content": "server {}\n"},
        {"mountPath": "/etc/app/inline.conf", "content": "key = value\n", "mode": 0o440},
        {"mountPath": "/relative.conf", "content": "a=1"}]
    assert "configs: unused is used by no service" in warnings(conversions)


def test_external_config_comes_from_a_config_map(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          web: {image: nginx, configs: [{source: shared, target: /etc/shared.conf}]}
        configs:
          shared: {external: true}
    """)
    assert apps(conversions)["web"]["files"] == [
        {"mountPath": "/etc/shared.conf", "configMap": {"name": "shared", "key": "shared"}}]
    assert "the ConfigMap shared with the key shared must exist" in warnings(conversions)


# ----------------------------------------------------------------- secrets

SECRETS = """
    services:
      db:
        image: mariadb:10.6
        environment: [MYSQL_ROOT_PASSWORD_FILE=/run/secrets/db-password]
        secrets: [db-password, {source: api_token, target: /etc/token, mode: 0400}]
      backend:
        image: example/backend
        secrets: [db-password]
    secrets:
      db-password: {file: db/password.txt}
      api_token: {environment: API_TOKEN}
      never_used: {file: db/password.txt}
"""


def test_secrets_become_files_from_a_secret_and_the_value_stays_out(tmp_path: Path) -> None:
    conversions = convert(tmp_path, SECRETS, {"db/password.txt": "hunter2-s3cret\n"},
                          namespace="shop")
    db = apps(conversions)["db"]
    assert db["files"] == [
        {"mountPath": "/run/secrets/db-password",
         "secret": {"name": "db-password", "key": "db-password"}},
        {"mountPath": "/etc/token", "secret": {"name": "api-token", "key": "api_token"},
         "mode": 0o400}]
    assert apps(conversions)["backend"]["files"] == [db["files"][0]]
    commands = [command for c in conversions for command in c.commands]
    assert commands == [  # each once, though two services use db-password
        f"kubectl create secret generic db-password --from-file=db-password="
        f"{tmp_path}/db/password.txt -n shop".replace(f"{tmp_path}/", "./"),
        'kubectl create secret generic api-token "--from-literal=api_token=$API_TOKEN" -n shop']
    output = yamlout.dump_all([c.app for c in conversions])
    assert "hunter2" not in output
    text = warnings(conversions)
    assert "secret db-password: its value is not written into the App" in text
    assert "secrets: never_used is used by no service" in text


def test_secrets_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "db").mkdir()
    (tmp_path / "db" / "password.txt").write_text("hunter2-s3cret\n")
    compose = tmp_path / "compose.yaml"
    compose.write_text(textwrap.dedent(SECRETS))
    assert main(["convert", "compose", str(compose)]) == 0
    out, err = capsys.readouterr()
    command = (f"kubectl create secret generic db-password --from-file=db-password="
               f"{tmp_path}/db/password.txt")
    assert f"#   {command}\n" in out  # a comment above the YAML, kept with a saved file
    assert f"  {command}\n" in err  # and on the terminal when stdout goes to kubectl
    assert "hunter2" not in out
    assert [d["metadata"]["name"] for d in yaml.safe_load_all(out)] == ["db", "backend"]


def test_external_secret_must_exist(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          web: {image: nginx, secrets: [tls]}
        secrets:
          tls: {external: true, name: site-tls}
    """)
    assert apps(conversions)["web"]["files"] == [
        {"mountPath": "/run/secrets/tls", "secret": {"name": "site-tls", "key": "tls"}}]
    assert conversions[0].commands == []
    assert "the Secret site-tls with the key tls must exist" in warnings(conversions)


# ----------------------------------------------------------------- directories

LIVE_RELOAD = """
    services:
      frontend:
        build: {context: frontend, target: development}
        ports: ["3000:3000"]
        volumes:
          - ./frontend/src:/code/src
          - /code/src/node_modules
          - cache:/code/.cache
    volumes:
      cache:
"""


def test_source_directory_of_a_built_service_is_left_out(tmp_path: Path) -> None:
    conversions = convert(tmp_path, LIVE_RELOAD, {"frontend/src/index.js": "x\n"},
                          image_prefix="registry.example.com/shop")
    frontend = apps(conversions)["frontend"]
    # the anonymous volume only kept the image's node_modules visible under the source
    # directory: with that left out, an empty claim would hide them
    assert frontend["volumes"] == [{"name": "cache", "mountPath": "/code/.cache"}]
    text = warnings(conversions)
    assert ("volumes: ./frontend/src:/code/src: left out: ./frontend/src is a directory of "
            "source code mounted for live reload; the image built for this service already "
            "contains it") in text
    assert "anonymous volume /code/src/node_modules left out" in text


def test_directory_of_an_image_service_is_refused_with_the_way_out(tmp_path: Path) -> None:
    compose = """
        services:
          prometheus:
            image: prom/prometheus
            volumes: ["./prometheus:/etc/prometheus"]
    """
    files = {"prometheus/prometheus.yml": "global: {}\n", "prometheus/rules/a.yml": "a: 1\n"}
    message = refusal(tmp_path, compose, files)
    assert ("prometheus: volumes: ./prometheus:/etc/prometheus: ./prometheus is a directory; "
            "an App cannot mount a directory of your machine") in message
    assert "--files-from-dirs to mount its 2 file(s) (16 bytes)" in message
    conversions = convert(tmp_path, compose, dirs_as_files=True)
    assert apps(conversions)["prometheus"]["files"] == [
        {"mountPath": "/etc/prometheus/prometheus.yml", "content": "global: {}\n"},
        {"mountPath": "/etc/prometheus/rules/a.yml", "content": "a: 1\n"}]
    assert "files the container writes there are not kept" in warnings(conversions)


@pytest.mark.parametrize(("volume", "message"), [
    ("/var/run/docker.sock:/var/run/docker.sock",
     "/var/run/docker.sock is a host path; an App cannot mount the host's files: the Docker "
     "socket gives the container control of the host"),
    ("/etc/localtime:/srv/localtime:ro", "set the TZ variable instead"),
    ("~/minecraft_data:/data", "~/minecraft_data is a path in your home directory"),
    ("/srv/media:/media", "/srv/media is a host path"),
])
def test_host_paths_are_refused_with_the_reason(tmp_path: Path, volume: str,
                                                message: str) -> None:
    assert message in refusal(tmp_path, f"""
        services:
          app: {{image: busybox, volumes: ["{volume}"]}}
    """)


# ----------------------------------------------------------------- images that are built

BUILT = """
    services:
      web:
        build:
          context: ./app
          dockerfile: Dockerfile.dev
          target: builder
          args: [NODE_ENV=development, FROM_SHELL]
        ports: ["8000:8000"]
      worker:
        build: ./app
        image: shop-worker:2.1
      db:
        image: postgres:16
"""


def test_built_services_get_the_image_prefix_and_the_commands(tmp_path: Path) -> None:
    conversions = convert(tmp_path, BUILT, image_prefix="registry.example.com/shop/",
                          image_tag="v3")
    assert apps(conversions)["web"]["image"] == "registry.example.com/shop/web:v3"
    assert apps(conversions)["worker"]["image"] == "registry.example.com/shop/worker:2.1"
    assert apps(conversions)["db"]["image"] == "postgres:16"
    assert [command for c in conversions for command in c.commands] == [
        "docker build -t registry.example.com/shop/web:v3 -f ./app/Dockerfile.dev "
        "--target builder --build-arg NODE_ENV=development --build-arg FROM_SHELL ./app",
        "docker push registry.example.com/shop/web:v3",
        "docker build -t registry.example.com/shop/worker:2.1 ./app",
        "docker push registry.example.com/shop/worker:2.1"]
    assert "image shop-worker:2.1: the App runs registry.example.com/shop/worker:2.1" in (
        warnings(conversions))


def test_built_services_without_a_prefix_are_refused_with_the_flag(tmp_path: Path) -> None:
    message = refusal(tmp_path, BUILT)
    assert "web: has only `build:` (./app, Dockerfile.dev)" in message
    assert "Convert again with --image-prefix REGISTRY/PATH" in message
    assert "worker" not in message  # it names an image: that one is run (with a warning)


def test_bad_image_prefix_is_refused(tmp_path: Path) -> None:
    assert "--image-prefix 'Registry Example' is not a registry path" in refusal(
        tmp_path, BUILT, image_prefix="Registry Example")


# ----------------------------------------------------------------- nothing dropped silently

def test_every_key_not_carried_over_gets_a_warning(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        name: shop
        services:
          web:
            image: nginx
            hostname: web1
            init: true
            container_name: web
            stop_grace_period: 1m
            develop:
              watch: [{action: sync, path: ./src, target: /src}]
            depends_on:
              db: {condition: service_healthy}
              cache: {condition: service_started}
          db:
            image: postgres:16
            container_name: database
          cache:
            image: redis:7
        networks:
          back: {driver: bridge}
    """)
    text = warnings(conversions)
    assert "web: hostname: not translated" in text
    assert "web: init: not translated" in text
    assert "web: stop_grace_period: not translated" in text
    assert "web: develop: not translated" in text
    assert "depends_on db (service_healthy): db has no healthcheck in the file" in text
    assert "start independently" not in text  # kept as dependsOn, not said to be dropped
    assert apps(conversions)["web"]["dependsOn"] == [
        {"name": "db", "condition": "Ready"}, {"name": "cache", "condition": "Ready"}]
    assert "container_name web" not in text  # the same as the service's name: nothing lost
    assert "db: container_name database: the App is named db" in text
    assert "name shop: not used" in text
    assert "networks: back: driver not translated" in text


def test_a_refusal_lists_every_problem_of_the_file(tmp_path: Path) -> None:
    message = refusal(tmp_path, """
        services:
          vpn:
            image: linuxserver/wireguard
            cap_add: [NET_ADMIN, SYS_MODULE]
            volumes: ["/lib/modules:/lib/modules", "./missing.conf:/config/wg0.conf"]
            ports: ["notaport"]
          media:
            image: linuxserver/plex
            network_mode: host
          api:
            build: ./api
    """)
    lines = message.splitlines()
    assert lines == [
        "vpn: cap_add NET_ADMIN, SYS_MODULE gives the container access to the host; an App "
        "can never do that",
        "vpn: ports 'notaport' is not a port mapping (examples: 8080:80, 80, 53:53/udp)",
        "vpn: volumes: /lib/modules:/lib/modules: /lib/modules is a host path; an App cannot "
        "mount the host's files: use a named volume (and copy the data into it) or build the "
        "files into the image",
        "vpn: volumes: ./missing.conf:/config/wg0.conf: ./missing.conf does not exist, and its "
        "name is a file's: create the file (Docker would mount an empty directory in its "
        "place), or use a named volume",
        "media: network_mode=host gives the container access to the host; an App can never "
        "do that",
        lines[5]]
    assert lines[5].startswith("api: has only `build:` (./api, Dockerfile)")


def test_docker_run_refusal_lists_every_problem() -> None:
    with pytest.raises(Refused) as refused:
        convert_run(shlex.split("docker run --privileged -v /etc:/etc --cap-add NET_ADMIN "
                                "-p x nginx"))
    assert [line.split(": ", 1)[1].split(" ")[0] for line in str(refused.value).splitlines()
            ] == ["--privileged", "-v", "--cap-add=NET_ADMIN", "-p"]


# ----------------------------------------------------------------- reached by name

def test_a_service_reached_by_name_gets_the_port_it_is_reached_on(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          proxy:
            image: nginx
            volumes: ["./nginx.conf:/etc/nginx/conf.d/default.conf:ro"]
            ports: ["80:80"]
          web:
            image: example/web
            environment:
              API_URL: http://backend:8000/api
              CACHE: cache
          backend:
            image: example/backend
          cache:
            image: example/cache
          worker:
            image: example/worker
            command: ["worker", "--broker", "backend"]
    """, {"nginx.conf": NGINX_CONF})
    specs = apps(conversions)
    assert specs["backend"]["ports"] == [{"containerPort": 8000}]
    assert "ports" not in specs["cache"]
    text = warnings(conversions)
    assert ("backend: port 8000 added: proxy (file /etc/nginx/conf.d/default.conf), web "
            "(environment API_URL) reach backend:8000") in text
    assert ("cache: it has no ports, but web (environment CACHE) reach it by name; an App "
            "without ports gets no Service") in text
    assert "worker" not in text.split("backend: port 8000 added")[1].split("\n")[0]


def test_a_name_inside_a_longer_name_or_a_url_scheme_is_no_reference(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          db:
            image: example/db
          app:
            image: example/app
            environment:
              URL: "db://localhost"
              HOST: db.example.com
              NAME: my-db
    """)
    assert "db: it has no ports" not in warnings(conversions)


# ----------------------------------------------------------------- the schema

def test_current_compose_specification_keys_are_accepted(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        name: demo
        services:
          web:
            image: nginx
            develop:
              watch: [{action: rebuild, path: .}]
            post_start: [{command: ["echo", "up"]}]
            ports: [{target: 80, published: "8080", app_protocol: http}]
    """)
    assert apps(conversions)["web"]["ports"] == [{"containerPort": 80}]


def test_schema_comes_from_a_pinned_package_outside_the_checkout(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_OPERATOR_COMPOSE_SCHEMA", raising=False)
    from importlib import metadata

    assert metadata.version(compose_schema.PACKAGE) == compose_schema.VERSION
    path = compose_schema.packaged_path()
    assert "site-packages" in path.parts  # installed by pip, not a file of this repository
    schema = compose_schema.load()
    assert {"name", "include", "services"} <= set(schema["properties"])
    assert "develop" in schema["definitions"]["service"]["properties"]


# ----------------------------------------------------------------- exit codes

def test_internal_error_exits_4_with_one_line(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    def broken(*args: Any, **kwargs: Any) -> list[Conversion]:
        raise KeyError("protocol")

    monkeypatch.setattr("app_operator.convert.converter.convert_compose", broken)
    compose = tmp_path / "compose.yaml"
    compose.write_text("services: {web: {image: nginx}}\n")
    assert main(["convert", "compose", str(compose)]) == 4
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("error: internal error (KeyError: 'protocol')")
    assert "--debug" in err
    assert main(["convert", "compose", "--debug", str(compose)]) == 4
    _, err = capsys.readouterr()
    assert "Traceback" in err and "KeyError: 'protocol'" in err


def test_issue_crashes_now_convert(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "run", "--", "docker", "run", "-p", "53:53", "-p", "53:53/udp",
                 "pihole/pihole"]) == 0
    compose = tmp_path / "compose.yaml"
    compose.write_text('services: {web: {image: nginx, ports: ["80:80", "8080:80"]}}\n')
    assert main(["convert", "compose", str(compose)]) == 0
    assert main(["convert", "compose", "--strict", str(compose)]) == 3


@pytest.mark.parametrize(("content", "message"), [
    (None, "error: {path}: No such file or directory\n"),
    ("spec: [unclosed\n", "error: {path} is not valid YAML: "),
    ("- just\n- a list\n", "error: {path}: document 1 is not a Kubernetes object\n"),
    ("kind: App\nspec: {image: nginx}\n", "error: {path}: document 1: an App needs "
     "metadata.name\n"),
    ("kind: App\nmetadata: {name: web}\nspec: {replicas: -1}\n", "error: {path}: App web: "),
])
def test_render_bad_input_is_one_line_and_exit_1(tmp_path: Path, content: str | None,
                                                 message: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "app.yaml"
    if content is not None:
        path.write_text(content)
    assert main(["render", str(path)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith(message.format(path=path))
    assert err.count("\n") == 1


def test_render_a_converted_app_with_files(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    conversion = run("docker run -p 8080:80 -v ./nginx.conf:/etc/nginx/nginx.conf:ro nginx",
                     files=DiskFiles(tmp_path))
    app = tmp_path / "app.yaml"
    app.write_text(yamlout.dump(conversion.app))
    assert main(["render", str(app)]) == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert sorted(kinds) == ["ConfigMap", "Deployment", "Service"]


def test_schema_refuses_a_packaged_copy_that_is_not_the_pinned_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another version of the dependency, or a file changed on disk, is not taken silently."""
    monkeypatch.delenv("APP_OPERATOR_COMPOSE_SCHEMA", raising=False)
    info = tmp_path / f"{compose_schema.MODULE}-9.9.9.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Name: {compose_schema.PACKAGE}\nVersion: 9.9.9\n")
    schema = tmp_path / compose_schema.MODULE / compose_schema.RESOURCE
    schema.parent.mkdir(parents=True)
    schema.write_text('{"tampered": true}')
    monkeypatch.syspath_prepend(str(tmp_path))  # found before the installed one
    assert compose_schema.packaged_path() == schema
    with pytest.raises(compose_schema.SchemaUnavailable, match=r"9\.9\.9.*not the pinned"):
        compose_schema.load()


def test_schema_override_is_taken_as_it_is(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "schema.json"
    copy.write_text('{"type": "object", "required": ["services"]}')
    monkeypatch.setenv("APP_OPERATOR_COMPOSE_SCHEMA", str(copy))
    assert compose_schema.load() == {"type": "object", "required": ["services"]}
    monkeypatch.setenv("APP_OPERATOR_COMPOSE_SCHEMA", str(tmp_path / "missing.json"))
    with pytest.raises(compose_schema.SchemaUnavailable, match=r"missing\.json"):
        compose_schema.load()


def test_schema_needs_no_node_and_no_network(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """No npm, no node on PATH, every socket refused and empty caches (as on a machine that
    has just installed app-operator): the schema still loads."""
    import socket

    monkeypatch.delenv("APP_OPERATOR_COMPOSE_SCHEMA", raising=False)
    monkeypatch.setenv("APP_OPERATOR_CACHE", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setenv("PATH", "/nonexistent")

    def no_network(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the schema must not be fetched")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    assert "services" in compose_schema.load()["properties"]
