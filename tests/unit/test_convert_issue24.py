"""Issue 24: compose files as people write them. Each small case uses the compose text (or
`docker run` line) that failed, word for word where the issue quotes it."""

from __future__ import annotations

import shlex
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from app_operator.convert import compose_schema
from app_operator.convert.converter import (
    Conversion,
    DiskFiles,
    Refused,
    convert_compose,
    convert_run,
)
from app_operator.core.model import AppSpec


def convert(tmp_path: Path, compose: str, files: dict[str, str] | None = None,
            load: Any = yaml.safe_load, **kwargs: Any) -> dict[str, Conversion]:
    """The compose text converted in the directory tmp_path holding `files`, by App name."""
    for name, content in (files or {}).items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    conversions = convert_compose(load(textwrap.dedent(compose)), schema=compose_schema.load(),
                                  files=DiskFiles(tmp_path), **kwargs)
    for conversion in conversions:
        if conversion.app["kind"] == "App":
            spec = conversion.app["spec"]
            own = [v for v in spec.get("volumes", []) if "claimName" not in v]
            # the model's Volume gets claimName apart from the converter
            AppSpec.model_validate({**spec, "volumes": own} if own else {
                key: value for key, value in spec.items() if key != "volumes"})
    return {c.app["metadata"]["name"]: c for c in conversions}


def said(conversion: Conversion, *words: str) -> list[str]:
    return [w for w in conversion.warnings if all(word in w for word in words)]


# --------------------------------------------------------------------- YAML 1.2 like Compose

RESTART_NO = """
services:
  migrate:
    image: alpine
    restart: no
"""


def test_unquoted_restart_no_is_the_word_no_not_false(tmp_path: Path) -> None:
    from app_operator.convert import compose_yaml

    for load in (compose_yaml.load, yaml.safe_load):  # the loader, and PyYAML's 1.1 reading
        app = convert(tmp_path, RESTART_NO, load=load)["migrate"]
        assert said(app, "restart no:")


def test_compose_yaml_reads_scalars_as_yaml_1_2_does() -> None:
    from app_operator.convert import compose_yaml

    document = compose_yaml.load(textwrap.dedent("""
        services:
          sftp:
            image: atmoz/sftp
            ports:
              - 22:22
            environment:
              DEBUG: on
              VERBOSE: yes
              UMASK: 0022
              RATIO: 1.5
              ENABLED: true
              NOTHING: ~
            x-anchors: &base {a: 1}
            x-merged:
              <<: *base
              b: 2
        """))
    sftp = document["services"]["sftp"]
    assert sftp["ports"] == ["22:22"]  # YAML 1.1 reads the sexagesimal number 1342
    assert sftp["environment"] == {"DEBUG": "on", "VERBOSE": "yes", "UMASK": 22,
                                   "RATIO": 1.5, "ENABLED": True, "NOTHING": None}
    assert sftp["x-merged"] == {"a": 1, "b": 2}


# --------------------------------------------------------------------- small ones

def test_an_empty_host_address_publishes_on_all_addresses(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          proxy:
            image: caddy
            ports:
              - ${BIND:-}:443:443
        """)["proxy"]
    assert app.app["spec"]["ports"] == [{"containerPort": 443}]
    assert not said(app, "host address")


def test_an_empty_environment_is_no_environment(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          db:
            image: postgres:16
            environment:
        """)["db"]
    assert "env" not in app.app["spec"]


def test_an_env_file_too_big_for_an_app_becomes_a_config_map(tmp_path: Path) -> None:
    variables = "".join(f"SETTING_{n}=value {n}\n" for n in range(335))
    conversions = convert(tmp_path, """
        services:
          zabbix:
            image: zabbix/zabbix-server-pgsql
            env_file: .env_srv
            environment:
              ZBX_DEBUGLEVEL: "3"
        """, files={".env_srv": variables}, namespace="monitoring")
    app = conversions["zabbix"]
    spec = app.app["spec"]
    assert spec["envFrom"] == [{"configMapRef": {"name": "zabbix-env-srv"}}]
    assert spec["env"] == [{"name": "ZBX_DEBUGLEVEL", "value": "3"}]
    assert app.commands == ["kubectl create configmap zabbix-env-srv "
                            "--from-env-file=.env_srv -n monitoring"]
    assert said(app, "336 variables, more than the 256", "the 335 of this file")


def test_an_env_file_that_fits_is_still_written_into_the_app(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          web:
            image: nginx
            env_file: web.env
        """, files={"web.env": "A=1\nB=2\n"})["web"]
    assert app.app["spec"]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    assert "envFrom" not in app.app["spec"] and app.commands == []


def test_cap_add_net_bind_service_is_what_docker_grants_anyway(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          proxy:
            image: traefik:v3
            cap_add:
              - NET_BIND_SERVICE
        """)
    assert said(app["proxy"], "cap_add NET_BIND_SERVICE: not translated (Docker grants it")
    run = convert_run(shlex.split("docker run --cap-add NET_BIND_SERVICE -p 80:80 traefik"))
    assert said(run, "--cap-add NET_BIND_SERVICE: not translated")


def test_cap_add_beyond_dockers_defaults_is_still_refused(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="cap_add NET_ADMIN gives the container access"):
        convert(tmp_path, """
            services:
              vpn:
                image: wireguard
                cap_add: [NET_BIND_SERVICE, NET_ADMIN]
            """)
    with pytest.raises(Refused, match="--cap-add=SYS_ADMIN gives the container access"):
        convert_run(shlex.split("docker run --cap-add CHOWN,SYS_ADMIN busybox"))


def test_passwords_in_environment_are_pointed_at_a_secret(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          db:
            image: mariadb:11
            environment:
              MYSQL_ROOT_PASSWORD: example
              MYSQL_DATABASE: nextcloud
              API_TOKEN: ""
        """)["db"]
    [warning] = said(app, "plain text")
    assert warning.startswith("db: MYSQL_ROOT_PASSWORD: written into the App as plain text")
    assert ("kubectl create secret generic db-secrets --from-literal=MYSQL_ROOT_PASSWORD=..."
            in warning)
    assert "MYSQL_DATABASE" not in warning and "API_TOKEN" not in warning  # empty: nothing
    run = convert_run(shlex.split("docker run -e POSTGRES_PASSWORD=secret postgres"))
    assert said(run, "POSTGRES_PASSWORD: written into the App as plain text")


@pytest.mark.parametrize("command", [
    "docker run -it --rm ubuntu bash",
    "docker run -it ubuntu",
    "docker run --rm -i --entrypoint /bin/sh alpine",
])
def test_an_interactive_shell_is_said_to_crash_loop(command: str) -> None:
    [warning] = said(convert_run(shlex.split(command)), "CrashLoopBackOff")
    assert "reads commands from a terminal" in warning and "kubectl run -it --rm" in warning


@pytest.mark.parametrize("command", [
    "sudo docker run -it -p 5000:5000 pylounge_flask_app:v1",  # the tutorial's server
    "docker run -it --rm python python app.py",
    "docker run --rm ubuntu bash -c 'sleep infinity'",
])
def test_interactive_flags_on_a_server_say_nothing(command: str) -> None:
    assert not said(convert_run(shlex.split(command)), "CrashLoopBackOff")


@pytest.mark.parametrize(("command", "hint"), [
    ("docker run -p 8443:443 nginx", "`-p 30443:443`"),
    ("docker run -p 5353:53/udp coredns", "`-p 30353:53/udp`"),
    ("docker run -p 3000:3000 grafana", "`-p 30000:3000`"),
])
def test_the_node_port_hint_is_made_of_the_published_ports(command: str, hint: str) -> None:
    [warning] = said(convert_run(shlex.split(command)), "nodePort")
    assert f"e.g. {hint}" in warning


def test_the_node_port_hint_of_a_compose_file_is_in_compose_syntax(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          grafana:
            image: grafana/grafana
            ports: ["3001:3000"]
        """)["grafana"]
    assert said(app, 'e.g. `ports: ["30001:3000"]`')


# --------------------------------------------------------------------- profiles (item 3)

PROFILED = """
services:
  app:
    image: ghcr.io/example/app:1
    depends_on: [db]
  db:
    image: postgres:16
  adminer:
    image: adminer
    profiles: [debug]
    depends_on:
      db: {condition: service_started}
  backup:
    image: example/backup
    profiles: [ops, nightly]
    depends_on:
      db: {condition: service_healthy}
      mailer: {condition: service_started, required: false}
  mailer:
    image: example/mailer
    profiles: [mail]
"""


def apps_of(tmp_path: Path, **kwargs: Any) -> list[str]:
    return list(convert(tmp_path, PROFILED, **kwargs))


def test_services_with_profiles_are_left_out_unless_one_is_active(tmp_path: Path) -> None:
    conversions = convert(tmp_path, PROFILED)
    assert list(conversions) == ["app", "db"]
    assert ("profiles: left out, since none of their profiles is active: adminer (debug), "
            "backup (ops, nightly), mailer (mail); convert with --profile NAME to include a "
            "profile's services") in conversions["app"].warnings


def test_a_named_profile_includes_its_services(tmp_path: Path) -> None:
    assert apps_of(tmp_path, profiles=["debug"]) == ["app", "db", "adminer"]
    assert apps_of(tmp_path, profiles=["nightly"]) == ["app", "db", "backup"]
    assert apps_of(tmp_path, profiles=["debug", "mail"]) == ["app", "db", "adminer", "mailer"]
    assert apps_of(tmp_path, profiles=["*"]) == ["app", "db", "adminer", "backup", "mailer"]


def test_compose_profiles_from_the_environment_unless_profiles_are_named(
        tmp_path: Path) -> None:
    environ = {"COMPOSE_PROFILES": "debug, ops"}
    assert apps_of(tmp_path, environ=environ) == ["app", "db", "adminer", "backup"]
    assert apps_of(tmp_path, environ=environ, profiles=["mail"]) == ["app", "db", "mailer"]


def test_an_active_service_that_needs_a_left_out_one_is_refused(tmp_path: Path) -> None:
    text = PROFILED + """
  worker:
    image: example/worker
    profiles: [debug]
    depends_on: [mailer]
"""
    with pytest.raises(Refused, match=r"worker: depends on mailer, which is left out: none of "
                                      r"its profiles \(mail\) is active; add --profile mail"):
        convert(tmp_path, text, profiles=["debug"])
    assert "worker" in list(convert(tmp_path, text, profiles=["debug", "mail"]))


def test_profile_names_are_checked_and_unknown_ones_said(tmp_path: Path) -> None:
    with pytest.raises(Refused, match="--profile 'de bug' is not a profile name"):
        convert(tmp_path, PROFILED, profiles=["de bug"])
    conversions = convert(tmp_path, PROFILED, profiles=["debgu"])
    assert "profile debgu: no service has it" in conversions["app"].warnings


def test_a_file_of_profiled_services_only_needs_a_profile(tmp_path: Path) -> None:
    with pytest.raises(Refused, match=r"every service has profiles and none is active: name "
                                      r"one with --profile \(tools\)"):
        convert(tmp_path, "services:\n  t:\n    image: busybox\n    profiles: [tools]\n")


# ----------------------------------------------------- missing data directories (item 2)

def test_a_missing_data_directory_becomes_a_claim(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          db:
            image: postgres:16
            volumes:
              - ./data:/var/lib/postgresql/data
        """)["db"]
    assert app.app["spec"]["volumes"] == [{"name": "data",
                                           "mountPath": "/var/lib/postgresql/data"}]
    [warning] = said(app, "does not exist yet")
    assert warning == (
        "db: volumes: ./data:/var/lib/postgresql/data: ./data does not exist yet; Docker would "
        "create it empty and keep the container's data there, so it becomes the persistent "
        "volume 'data' mounted at /var/lib/postgresql/data (a claim of 1Gi, the default size: "
        "set spec.volumes[].size for more)")
    run = convert_run(shlex.split("docker run -v ./volumes/pg:/var/lib/postgresql/data postgres"),
                      files=DiskFiles(tmp_path))
    assert run.app["spec"]["volumes"] == [{"name": "volumes-pg",
                                           "mountPath": "/var/lib/postgresql/data"}]


def test_a_present_directory_keeps_todays_choices(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    with pytest.raises(Refused, match=r"\./data is a directory; an App cannot mount a directory"):
        convert(tmp_path, """
            services:
              db:
                image: postgres:16
                volumes: ["./data:/var/lib/postgresql/data"]
            """)
    app = convert(tmp_path, """
        services:
          db:
            image: postgres:16
            volumes: ["./data:/var/lib/postgresql/data"]
        """, dirs_as_files=True)["db"]
    assert "volumes" not in app.app["spec"] and said(app, "./data is an empty directory")


@pytest.mark.parametrize(("volume", "message"), [
    ('"./nginx.conf:/etc/nginx/nginx.conf"', r"\./nginx.conf does not exist, and its name is a "
                                              r"file's: create the file"),
    ('"./conf:/etc/app/settings.yml"', r"\./conf does not exist, and its name is a file's"),
    ('"./html:/usr/share/nginx/html:ro"', r"\./html does not exist, and is mounted read-only"),
    ("{type: bind, source: ./data, target: /data, bind: {create_host_path: false}}",
     r"\./data does not exist \(Docker refuses a missing bind source here too\)"),
    ('"../shared:/data"', r"\.\./shared does not exist and is outside the project"),
])
def test_a_missing_source_that_is_no_data_directory_is_refused(tmp_path: Path, volume: str,
                                                               message: str) -> None:
    with pytest.raises(Refused, match=message):
        convert(tmp_path, f"""
            services:
              web:
                image: nginx
                volumes: [{volume}]
            """)


# ----------------------------------------------------------------- shared volumes (item 1)

NEXTCLOUD_LIKE = """
name: cloud
services:
  app:
    image: nextcloud:fpm
    volumes:
      - nextcloud:/var/www/html
      - ./data:/var/www/html/data
  web:
    image: nginx
    ports: ["8080:80"]
    volumes:
      - nextcloud:/var/www/html:ro
      - ./data:/srv/data
  cron:
    image: nextcloud:fpm
    entrypoint: /cron.sh
    volumes:
      - type: volume
        source: nextcloud
        target: /var/www/html
  db:
    image: mariadb:11
    volumes:
      - db:/var/lib/mysql
volumes:
  nextcloud:
  db:
"""


def objects(conversions: dict[str, Conversion]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the claims by name, the App specs by name)."""
    claims = {n: c.app for n, c in conversions.items() if c.app["kind"] == "PersistentVolumeClaim"}
    apps = {n: c.app["spec"] for n, c in conversions.items() if c.app["kind"] == "App"}
    return claims, apps


def test_a_volume_of_several_services_is_one_claim_they_all_mount(tmp_path: Path) -> None:
    conversions = convert(tmp_path, NEXTCLOUD_LIKE, namespace="cloud")
    claims, apps = objects(conversions)
    assert list(conversions)[:2] == ["cloud-nextcloud", "cloud-data"]  # before the Apps
    assert claims["cloud-nextcloud"] == {
        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": "cloud-nextcloud", "namespace": "cloud",
                     "labels": {"app.kubernetes.io/managed-by": "app-operator",
                                "appoperator.dev/volume": "nextcloud",
                                "app.kubernetes.io/part-of": "cloud"},
                     "annotations": {"appoperator.dev/kept": "true"}},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    assert apps["app"]["volumes"] == [
        {"name": "nextcloud", "mountPath": "/var/www/html", "claimName": "cloud-nextcloud"},
        {"name": "data", "mountPath": "/var/www/html/data", "claimName": "cloud-data"}]
    assert apps["web"]["volumes"] == [
        {"name": "nextcloud", "mountPath": "/var/www/html", "readOnly": True,
         "claimName": "cloud-nextcloud"},
        {"name": "data", "mountPath": "/srv/data", "claimName": "cloud-data"}]
    assert apps["cron"]["volumes"] == [
        {"name": "nextcloud", "mountPath": "/var/www/html", "claimName": "cloud-nextcloud"}]
    assert apps["db"]["volumes"] == [{"name": "db", "mountPath": "/var/lib/mysql"}]  # its own
    warnings = [w for c in conversions.values() for w in c.warnings]
    assert ("volume nextcloud is mounted by app, cron, web: they share one claim, "
            "cloud-nextcloud (1Gi, ReadWriteOnce), written beside the Apps; no App owns it, so "
            "deleting the Apps keeps the data. ReadWriteOnce: their pods must run on one node, "
            "as they do on a one-node cluster or with node-bound storage such as local-path; "
            "across nodes, set its accessModes to [ReadWriteMany] with a StorageClass that "
            "supports it") in warnings
    assert any(w.startswith("directory ./data is mounted by app, web: they share one claim, "
                            "cloud-data") for w in warnings)
    assert ("name cloud: not used (each App is named after its service), but in the names of "
            "the claims services share") in warnings


def test_no_volume_is_split_between_apps(tmp_path: Path) -> None:
    """Every named volume mounted by several services: each of them mounts the same claim."""
    conversions = convert(tmp_path, NEXTCLOUD_LIKE)
    _, apps = objects(conversions)
    by_path = {(name, v["mountPath"]): v for name, spec in apps.items()
               for v in spec.get("volumes", [])}
    assert {by_path[("app", "/var/www/html")]["claimName"],
            by_path[("web", "/var/www/html")]["claimName"],
            by_path[("cron", "/var/www/html")]["claimName"]} == {"cloud-nextcloud"}


def test_shared_claims_are_named_as_compose_names_volumes(tmp_path: Path) -> None:
    text = """
        services:
          api: {image: saleor/saleor, volumes: ["media:/app/media"]}
          worker: {image: saleor/saleor, volumes: ["media:/app/media"]}
          other: {image: busybox, volumes: ["exists:/x"]}
          more: {image: busybox, volumes: ["exists:/y"]}
        volumes:
          media: {name: saleor-media}
          exists: {external: true}
        """
    conversions = convert(tmp_path / "shop", text)  # the project is the directory's name
    claims, apps = objects(conversions)
    assert list(claims) == ["saleor-media"]  # an external volume exists already
    assert apps["other"]["volumes"][0]["claimName"] == "shop-exists"
    assert any(w.startswith("volume exists is external and mounted by more, other: each "
                            "mounts the claim shop-exists, which must exist")
               for c in conversions.values() for w in c.warnings)
    assert list(objects(convert(tmp_path / "shop", text.replace(
        "{name: saleor-media}", "{}"), environ={"COMPOSE_PROJECT_NAME": "saleor"}))[0]) == [
        "saleor-media"]


def test_a_volume_of_one_service_stays_its_own(tmp_path: Path) -> None:
    conversions = convert(tmp_path, """
        services:
          db: {image: postgres:16, deploy: {replicas: 2}, volumes: ["pg:/var/lib/postgresql/data"]}
          web: {image: nginx}
        """)
    claims, apps = objects(conversions)
    assert claims == {}
    assert apps["db"]["volumes"] == [{"name": "pg", "mountPath": "/var/lib/postgresql/data",
                                      "accessMode": "ReadWriteMany"}]


def test_the_hosts_time_zone_is_left_out_with_the_tz_hint(tmp_path: Path) -> None:
    app = convert(tmp_path, """
        services:
          server:
            image: ghcr.io/immich-app/immich-server:release
            volumes:
              - /etc/localtime:/etc/localtime:ro
              - /etc/timezone:/etc/timezone:ro
        """)["server"]
    assert "volumes" not in app.app["spec"] and "files" not in app.app["spec"]
    assert len(said(app, "left out: the container cannot read the host's time zone",
                    "TZ=Europe/Berlin")) == 2
