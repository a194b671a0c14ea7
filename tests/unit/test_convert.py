"""`app-operator convert`: docker run lines and compose files as App resources."""

import re
import shlex
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
    interpolate,
)
from app_operator.core.model import AppSpec

COMPOSE = Path(__file__).resolve().parents[1] / "data" / "compose"


def run(command: str, **kwargs: Any) -> Conversion:
    conversion = convert_run(shlex.split(command), **kwargs)
    AppSpec.model_validate(conversion.app["spec"])  # every result is a valid App
    return conversion


def spec(command: str, **kwargs: Any) -> dict[str, Any]:
    result: dict[str, Any] = run(command, **kwargs).app["spec"]
    return result


# ----------------------------------------------------------------- the tutorial's commands

def test_tutorial_nextcloud() -> None:
    conversion = run("docker run -d -p 8080:80 nextcloud")
    assert conversion.app == {
        "apiVersion": "appoperator.dev/v1alpha1", "kind": "App",
        "metadata": {"name": "nextcloud"},
        "spec": {"image": "nextcloud", "ports": [{"containerPort": 80}]}}
    assert any("port-forward svc/nextcloud 8080:80" in w for w in conversion.warnings)


def test_tutorial_flask_detached_and_interactive() -> None:
    for command in ("docker run -d -p 5000:5000 pylounge_flask_app:v1",
                    "sudo docker run -it -p 5000:5000 pylounge_flask_app:v1"):
        conversion = run(command)
        assert conversion.app["metadata"]["name"] == "pylounge-flask-app"
        assert conversion.app["spec"] == {"image": "pylounge_flask_app:v1", "ports": [
            {"containerPort": 5000}]}
        # -d and -it need no word; the host port says how to reach the App from outside
        [warning] = conversion.warnings
        assert "the Service listens on 5000" in warning
        assert "kubectl port-forward svc/pylounge-flask-app 5000:5000" in warning


def test_issue_example() -> None:
    result = spec("docker run -d -p 8080:80 -v nc:/var/www/html -e KEY=value --name cloud "
                  "nextcloud")
    assert result["volumes"] == [{"name": "nc", "mountPath": "/var/www/html"}]
    assert result["env"] == [{"name": "KEY", "value": "value"}]
    assert run("docker run --name cloud nextcloud").app["metadata"]["name"] == "cloud"


# ----------------------------------------------------------------- each flag

@pytest.mark.parametrize(("flags", "expected"), [
    ("-p 30080:80", {"ports": [{"containerPort": 80, "nodePort": 30080}],
                     "service": {"type": "NodePort"}}),
    ("-p 80", {"ports": [{"containerPort": 80}]}),
    ("-p 53:53/udp", {"ports": [{"containerPort": 53, "protocol": "UDP"}]}),
    ("--publish=443:443", {"ports": [{"containerPort": 443}]}),
    ("-p8080:8080", {"ports": [{"containerPort": 8080}]}),
    ("--expose 9000", {"ports": [{"name": "http", "containerPort": 9000}]}),
    ("-p 5432:5432", {"ports": [{"name": "postgres", "containerPort": 5432}]}),
    ("-p 8000:8000 -p 9000:9000", {"ports": [{"containerPort": 8000},
                                             {"containerPort": 9000}]}),
    ("-v data:/data:ro", {"volumes": [{"name": "data", "mountPath": "/data",
                                       "readOnly": True}]}),
    ("--mount type=volume,source=db_data,target=/var/lib/db",
     {"volumes": [{"name": "db-data", "mountPath": "/var/lib/db"}]}),
    ("--mount source=cfg,target=/etc/app,readonly",
     {"volumes": [{"name": "cfg", "mountPath": "/etc/app", "readOnly": True}]}),
    ("-e A=1 --env B=two=2", {"env": [{"name": "A", "value": "1"},
                                      {"name": "B", "value": "two=2"}]}),
    ("--entrypoint /bin/sh", {"command": ["/bin/sh"]}),
    ("-w /srv", {"workingDir": "/srv"}),
    ("--workdir=/srv", {"workingDir": "/srv"}),
    ("-u 1000:2000", {"runAsUser": 1000, "runAsGroup": 2000}),
    ("--memory 512m --cpus 1.5", {"resources": {"limits": {"memory": "512Mi", "cpu": "1500m"}}}),
    ("-m 1g --memory-reservation 256m",
     {"resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "256Mi"}}}),
    ("--pull never", {"imagePullPolicy": "Never"}),
    ("-l team=web", {"podLabels": {"team": "web"}}),
    ("--label note='hello world'", {"podAnnotations": {"note": "hello world"}}),
    ("-d -i -t --rm", {}),
    ("-dit", {}),
])
def test_flag(flags: str, expected: dict[str, Any]) -> None:
    assert spec(f"docker run {flags} busybox") == {"image": "busybox", **expected}


def test_command_and_args_after_the_image() -> None:
    result = spec("docker run --entrypoint python3 -w /app img:1 app.py --port 5000")
    assert result["command"] == ["python3"]
    assert result["args"] == ["app.py", "--port", "5000"]


def test_health_flags_become_a_readiness_probe() -> None:
    result = spec("docker run --health-cmd 'curl -f http://localhost/ || exit 1' "
                  "--health-interval 30s --health-timeout 5s --health-retries 3 "
                  "--health-start-period 1m nginx")
    assert result["probes"] == {"readiness": {
        "exec": {"command": ["sh", "-c", "curl -f http://localhost/ || exit 1"]},
        "periodSeconds": 30, "timeoutSeconds": 5, "failureThreshold": 3,
        "initialDelaySeconds": 60}}


def test_env_file_and_host_environment(tmp_path: Path) -> None:
    (tmp_path / "prod.env").write_text("# comment\nA=1\nexport B='two'\n\nBROKEN\n")
    conversion = run("docker run --env-file prod.env -e FROM_SHELL -e MISSING busybox",
                     files=DiskFiles(tmp_path), environ={"FROM_SHELL": "yes"})
    assert conversion.app["spec"]["env"] == [
        {"name": "A", "value": "1"}, {"name": "B", "value": "two"},
        {"name": "FROM_SHELL", "value": "yes"}]
    text = "\n".join(conversion.warnings)
    assert "prod.env:5: 'BROKEN' has no value" in text
    assert "MISSING has no value here" in text
    assert "keep passwords in a Secret" in text


def test_restart_and_untranslatable_flags_are_reported() -> None:
    conversion = run("docker run --restart on-failure --hostname box --dns 1.1.1.1 "
                     "--frobnicate busybox")
    text = "\n".join(conversion.warnings)
    assert "--restart on-failure" in text
    assert "--hostname box: not translated" in text
    assert "--dns 1.1.1.1: not translated" in text
    assert "--frobnicate: unknown flag" in text
    assert conversion.app["spec"] == {"image": "busybox"}
    assert run("docker run --restart always busybox").warnings == []


def test_named_user_is_reported() -> None:
    conversion = run("docker run -u www-data nginx")
    assert "runAsUser" not in conversion.app["spec"]
    assert "numeric IDs" in conversion.warnings[0]


def test_anonymous_volume_gets_a_name() -> None:
    conversion = run("docker run -v /var/lib/data busybox")
    assert conversion.app["spec"]["volumes"] == [{"name": "var-lib-data",
                                                  "mountPath": "/var/lib/data"}]
    assert "anonymous volume at /var/lib/data becomes the persistent volume 'var-lib-data'" in (
        conversion.warnings[0])


@pytest.mark.parametrize(("command", "message"), [
    ("docker run -v /etc:/etc nginx", "/etc is a host path; an App cannot mount"),
    ("docker run --mount type=bind,source=./site,target=/usr/share/nginx/html nginx",
     r"\./site does not exist \(Docker refuses a missing bind source here too\)"),
    ("docker run --mount type=bind,source=/srv,target=/srv nginx", "/srv is a host path"),
    ("docker run -v /var/run/docker.sock:/var/run/docker.sock nginx",
     "the Docker socket gives the container control of the host"),
    ("docker run -v ~/data:/data nginx", "a path in your home directory"),
    ("docker run --privileged nginx", "--privileged gives the container access to the host"),
    ("docker run --network host nginx", "--network=host"),
    ("docker run --pid=host nginx", "--pid=host"),
    ("docker run --cap-add NET_ADMIN nginx", "--cap-add=NET_ADMIN"),
    ("docker run --device /dev/kvm nginx", "--device"),
    ("docker run -d -p 8080:80", "no image"),
    ("docker ps", "expected a `docker run"),
    ("docker run -p notaport nginx", "not a port mapping"),
    ("docker run --memory lots nginx", "not a memory size"),
])
def test_refused(command: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        convert_run(shlex.split(command))


def test_cli_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "run", "--", "docker", "run", "-d", "-p", "5000:5000",
                 "pylounge_flask_app:v1"]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["spec"]["image"] == "pylounge_flask_app:v1"
    assert main(["convert", "run", "--", "docker", "run", "-p", "8080:80", "nextcloud"]) == 0
    assert main(["convert", "run", "--strict", "--", "docker", "run", "-p", "8080:80",
                 "nextcloud"]) == 3  # warnings, under --strict
    out, err = capsys.readouterr()
    assert "warning: nextcloud: ports 8080:80:" in err
    assert main(["convert", "run", "--", "docker", "run", "-v", "/:/host", "nginx"]) == 1  # refused
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: ")
    assert main(["convert", "run", "-n", "web", "--", "docker run -d nginx"]) == 0
    out, _ = capsys.readouterr()
    assert yaml.safe_load(out)["metadata"] == {"name": "nginx", "namespace": "web"}


# ----------------------------------------------------------------- compose

def compose(name: str, **kwargs: Any) -> list[Conversion]:
    document = yaml.safe_load((COMPOSE / name).read_text())
    kwargs.setdefault("files", DiskFiles(COMPOSE))
    conversions = convert_compose(document, schema=compose_schema.load(), **kwargs)
    for conversion in conversions:
        AppSpec.model_validate(conversion.app["spec"])
    return conversions


def by_name(conversions: list[Conversion]) -> dict[str, dict[str, Any]]:
    return {c.app["metadata"]["name"]: c.app["spec"] for c in conversions}


def test_compose_lamp_stack() -> None:
    conversions = compose("lamp.yml", environ={"DB_ROOT_PASSWORD": "hunter2"})
    apps = by_name(conversions)
    assert list(apps) == ["web", "db"]
    assert apps["web"]["ports"] == [{"containerPort": 80}]
    assert apps["web"]["volumes"] == [{"name": "site", "mountPath": "/var/www/html"}]
    assert {"name": "DB_NAME", "value": "shop"} in apps["web"]["env"]
    assert {"name": "MYSQL_ROOT_PASSWORD", "value": "hunter2"} in apps["db"]["env"]
    assert apps["db"]["ports"] == [{"name": "mysql", "containerPort": 3306}]
    assert apps["web"]["dependsOn"] == [{"name": "db", "condition": "Ready"}]


def test_compose_unset_variable_is_reported() -> None:
    warnings = "\n".join(w for c in compose("lamp.yml") for w in c.warnings)
    assert "DB_ROOT_PASSWORD is not set" in warnings


def test_compose_web_app_with_postgres_and_redis() -> None:
    apps = by_name(compose("webapp-postgres-redis.yml", namespace="shop"))
    assert list(apps) == ["app", "worker", "postgres", "redis"]
    app = apps["app"]
    assert app["replicas"] == 3
    assert app["args"] == ["gunicorn", "-b", "0.0.0.0:8000", "shop.wsgi"]
    assert app["workingDir"] == "/srv/shop"
    assert (app["runAsUser"], app["runAsGroup"]) == (10001, 10001)
    assert app["ports"] == [{"containerPort": 8000, "nodePort": 30800}]
    assert app["service"] == {"type": "NodePort"}
    assert {"name": "SECRET_KEY", "value": "change-me"} in app["env"]
    assert {"name": "ALLOWED_HOSTS", "value": "shop.example.com"} in app["env"]
    assert apps["worker"]["command"] == ["celery"]
    assert apps["worker"]["args"] == ["-A", "shop", "worker", "--loglevel=info"]
    assert apps["postgres"]["volumes"] == [{"name": "pgdata",
                                            "mountPath": "/var/lib/postgresql/data"}]
    assert apps["redis"]["args"] == ["redis-server", "--appendonly", "yes"]
    assert apps["redis"]["ports"] == [{"name": "redis", "containerPort": 6379}]


def test_compose_wordpress_and_mariadb() -> None:
    apps = by_name(compose("wordpress-mysql.yml"))
    assert apps["wordpress"]["volumes"] == [{"name": "wp-content",
                                             "mountPath": "/var/www/html/wp-content"}]
    assert apps["db"]["ports"] == [{"name": "mysql", "containerPort": 3306}]
    assert {"name": "WORDPRESS_DB_HOST", "value": "db:3306"} in apps["wordpress"]["env"]


def test_compose_healthchecks_and_resources() -> None:
    apps = by_name(compose("health-and-resources.yml"))
    api = apps["api"]
    assert api["replicas"] == 2
    assert api["resources"] == {"limits": {"cpu": "500m", "memory": "256Mi"},
                                "requests": {"cpu": "250m", "memory": "128Mi"}}
    assert api["probes"]["readiness"] == {
        "exec": {"command": ["wget", "-qO-", "http://localhost:9000/health"]},
        "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 5,
        "initialDelaySeconds": 60}
    assert [p["containerPort"] for p in api["ports"]] == [9000, 9100]
    assert api["podLabels"] == {"com.example.team": "payments"}
    assert api["podAnnotations"] == {"description": "The payments API"}
    assert apps["cache"]["probes"]["readiness"]["exec"]["command"] == [
        "sh", "-c", "echo stats | nc localhost 11211"]
    assert apps["cache"]["resources"] == {"limits": {"memory": "64Mi"}}
    assert "probes" not in apps["nightly"]


def test_compose_bind_mounts_are_refused_all_at_once() -> None:
    with pytest.raises(Refused) as refused:
        compose("bind-mounts.yml")
    message = str(refused.value)
    assert "web: volumes: ./html:/usr/share/nginx/html:ro: ./html does not exist" in message
    assert "web: volumes: /var/log/nginx:/var/log/nginx: /var/log/nginx is a host path" in (
        message)
    assert "proxy: volumes: /var/run/docker.sock:/var/run/docker.sock: /var/run/docker.sock " \
        "is a host path" in message


def test_compose_build_only_says_to_use_image_prefix() -> None:
    with pytest.raises(Refused, match=r"flask: has only `build:` "
                       r"\(\./pylounge_flask_app, Dockerfile\).*--image-prefix REGISTRY/PATH"):
        compose("build-only.yml")


def test_compose_malformed_file_gets_precise_messages() -> None:
    with pytest.raises(Refused) as refused:
        compose("malformed.yml")
    message = str(refused.value)
    assert "services.web: unknown key 'enviroment' (a typo?)" in message
    assert "services.web.ports: '80:80' is not of type 'array'" in message


def test_compose_cli(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", "compose", str(COMPOSE / "wordpress-mysql.yml"), "-n", "blog"]) == 0
    out, _ = capsys.readouterr()
    documents = list(yaml.safe_load_all(out))
    assert [d["metadata"] for d in documents] == [{"name": "wordpress", "namespace": "blog"},
                                                  {"name": "db", "namespace": "blog"}]
    assert main(["convert", "compose", str(COMPOSE / "bind-mounts.yml")]) == 1  # refused
    assert main(["convert", "compose", str(COMPOSE / "missing.yml")]) == 1


def test_number_like_strings_stay_strings_for_kubectl(capsys: pytest.CaptureFixture[str]) -> None:
    # PyYAML would write 1e3 bare, which kubectl (YAML 1.2) reads as a number.
    assert main(["convert", "run", "--", "docker", "run", "-e", "RATE=1e3", "-e", "HEX=0x1F",
                 "busybox"]) == 0
    out, _ = capsys.readouterr()
    assert "value: '1e3'" in out and "value: '0x1F'" in out
    assert yaml.safe_load(out)["spec"]["env"][0]["value"] == "1e3"


# ----------------------------------------------------------------- promises of the README

@pytest.mark.parametrize(("flags", "ports"), [
    ("-p 8000-8002:8000-8002", [8000, 8001, 8002]),
    ("-p 9000-9001", [9000, 9001]),
    ("-p 127.0.0.1:7000-7001:7000-7001/udp", [7000, 7001]),
    ("--expose 3000-3002", [3000, 3001, 3002]),
])
def test_port_ranges_become_one_port_each(flags: str, ports: list[int]) -> None:
    result = spec(f"docker run {flags} busybox")
    assert [p["containerPort"] for p in result["ports"]] == ports


def test_a_published_range_maps_each_host_port_to_its_container_port() -> None:
    result = spec("docker run -p 30080-30081:80-81 busybox")
    assert result["ports"] == [{"containerPort": 80, "nodePort": 30080},
                               {"containerPort": 81, "nodePort": 30081}]
    assert result["service"] == {"type": "NodePort"}


@pytest.mark.parametrize(("flags", "message"), [
    ("-p 8000-8002:80-81", "host and container ranges differ"),
    ("-p 8000-8020", "has 21 ports; list at most 16"),
    ("-p 8002-8000", "is empty"),
    ("--expose 1-100", "has 100 ports"),
])
def test_port_ranges_that_cannot_be_ports_are_refused(flags: str, message: str) -> None:
    with pytest.raises(Refused, match=message):
        convert_run(shlex.split(f"docker run {flags} busybox"))


def interpolated(text: str, **environ: str) -> str:
    result: str = interpolate(text, environ, [])
    return result


@pytest.mark.parametrize(("text", "environ", "result"), [
    ("${TAG}", {"TAG": "v1"}, "v1"),
    ("$TAG-x", {"TAG": "v1"}, "v1-x"),
    ("${TAG:-latest}", {}, "latest"), ("${TAG:-latest}", {"TAG": ""}, "latest"),
    ("${TAG:-latest}", {"TAG": "v1"}, "v1"),
    # `-` without the colon: only an unset variable takes the default, an empty one stays.
    ("${TAG-latest}", {}, "latest"), ("${TAG-latest}", {"TAG": ""}, ""),
    ("${TAG-latest}", {"TAG": "v1"}, "v1"),
    # `:+` and `+`: the alternative when set (and, with the colon, not empty).
    ("${DEBUG:+verbose}", {"DEBUG": "1"}, "verbose"), ("${DEBUG:+verbose}", {}, ""),
    ("${DEBUG:+verbose}", {"DEBUG": ""}, ""), ("${DEBUG+verbose}", {"DEBUG": ""}, "verbose"),
    ("${DEBUG+verbose}", {}, ""),
    ("${PASSWORD:?}", {"PASSWORD": "x"}, "x"), ("${PASSWORD?}", {"PASSWORD": ""}, ""),
    # `$$` is a literal dollar sign, and what follows it is not a variable.
    ("$$HOME and $${HOME}", {"HOME": "/root"}, "$HOME and ${HOME}"),
    ("price: 5$$", {}, "price: 5$"),
    ("no variables here", {}, "no variables here"),
])
def test_interpolation_forms(text: str, environ: dict[str, str], result: str) -> None:
    assert interpolated(text, **environ) == result


@pytest.mark.parametrize(("text", "environ", "message"), [
    ("${PASSWORD:?set PASSWORD first}", {}, "variable PASSWORD is required: set PASSWORD first"),
    ("${PASSWORD:?set PASSWORD first}", {"PASSWORD": ""}, "variable PASSWORD is required"),
    ("${PASSWORD?}", {}, "variable PASSWORD is required: not set"),
])
def test_a_required_variable_that_is_missing_refuses_the_file(
        text: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(Refused, match=re.escape(message)):
        interpolated(text, **environ)


def test_a_default_may_hold_operators_itself() -> None:
    assert interpolated("${URL:-http://db:5432/x?a=b}") == "http://db:5432/x?a=b"
    assert interpolated("${OPTS-a-b+c}") == "a-b+c"


def test_an_alternative_or_a_message_may_hold_a_dash() -> None:
    """The operator is what follows the variable's name, not the first `-` anywhere:
    `${DEBUG:+--verbose}` is a flag when DEBUG is set, and nothing when it is not."""
    assert interpolated("${DEBUG:+--verbose}", DEBUG="1") == "--verbose"
    assert interpolated("${DEBUG:+--verbose}") == ""
    assert interpolated("${DEBUG+--log-level=debug}", DEBUG="") == "--log-level=debug"
    with pytest.raises(Refused, match=re.escape(
            "variable PASSWORD is required: set it, e.g. s3cr3t-pw")):
        interpolated("${PASSWORD:?set it, e.g. s3cr3t-pw}")


def test_an_unset_variable_is_named_once() -> None:
    warnings: list[str] = []
    assert interpolate({"a": "${X}", "b": ["$X", 3]}, {}, warnings) == {"a": "", "b": ["", 3]}
    assert warnings == ["variable X is not set; an empty string is used"]


def test_dot_env_next_to_the_compose_file_is_read_and_the_shell_wins(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: nginx:${TAG}\n"
        "    environment:\n      GREETING: ${GREETING}\n")
    (tmp_path / ".env").write_text("TAG=1.27\nGREETING=from-dotenv\n")
    monkeypatch.delenv("TAG", raising=False)
    monkeypatch.setenv("GREETING", "from-shell")
    assert main(["convert", "compose", str(tmp_path / "compose.yaml")]) == 0
    app = yaml.safe_load(capsys.readouterr().out)
    assert app["spec"]["image"] == "nginx:1.27"
    assert app["spec"]["env"] == [{"name": "GREETING", "value": "from-shell"}]


def compose_text(text: str, **kwargs: Any) -> list[Conversion]:
    conversions = convert_compose(yaml.safe_load(text), schema=compose_schema.load(), **kwargs)
    for conversion in conversions:
        AppSpec.model_validate(conversion.app["spec"])
    return conversions


@pytest.mark.parametrize(("cpus", "quantity"), [("0.5", "500m"), (2, "2000m"), (1.25, "1250m")])
def test_compose_cpus_is_a_cpu_limit(cpus: Any, quantity: str) -> None:
    [conversion] = compose_text(f"services:\n  web:\n    image: nginx\n    cpus: {cpus}\n")
    assert conversion.app["spec"]["resources"] == {"limits": {"cpu": quantity}}


@pytest.mark.parametrize(("policy", "expected"), [
    ("always", "Always"), ("never", "Never"), ("missing", "IfNotPresent"),
    ("if_not_present", "IfNotPresent"),
])
def test_compose_pull_policy(policy: str, expected: str) -> None:
    [conversion] = compose_text(
        f"services:\n  web:\n    image: nginx\n    pull_policy: {policy}\n")
    assert conversion.app["spec"]["imagePullPolicy"] == expected
    assert not [w for w in conversion.warnings if "pull_policy" in w]


def test_compose_pull_policy_build_is_reported() -> None:
    [conversion] = compose_text("services:\n  web:\n    image: nginx\n    pull_policy: build\n")
    assert "imagePullPolicy" not in conversion.app["spec"]
    assert "web: pull_policy build: not translated" in conversion.warnings


def test_top_level_name_and_include_are_reported_and_skipped() -> None:
    [conversion] = compose_text(
        "name: shop\ninclude:\n  - db/compose.yaml\n  - path: cache/compose.yaml\n"
        "services:\n  web:\n    image: nginx\n")
    assert conversion.app["metadata"]["name"] == "web"
    assert "name shop: not used (each App is named after its service)" in conversion.warnings
    assert "include db/compose.yaml: not read; convert that file on its own too" in (
        conversion.warnings)
    assert "include cache/compose.yaml: not read; convert that file on its own too" in (
        conversion.warnings)
