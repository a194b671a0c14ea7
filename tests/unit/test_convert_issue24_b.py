"""Issue 24, items 4 and 5 on the converter's side: services that run once, depends_on as the
App's dependsOn, and network_mode service:X. Each case is compose text as people write it
(the issue's migration that others wait for, and services of the shared corpus)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from app_operator.convert import compose_schema, compose_yaml
from app_operator.convert.converter import Conversion, DiskFiles, Refused, convert_compose
from app_operator.core import render
from app_operator.core.model import AppSpec


def convert(compose: str, tmp_path: Path | None = None, load: Any = compose_yaml.load,
            **kwargs: Any) -> dict[str, Conversion]:
    """The compose text converted (in tmp_path when files are read), by App name; every App
    is checked by the model, and every dependsOn names an App of the same conversion."""
    conversions = convert_compose(load(textwrap.dedent(compose)), schema=compose_schema.load(),
                                  files=DiskFiles(tmp_path) if tmp_path else None, **kwargs)
    apps = {c.app["metadata"]["name"]: c for c in conversions}
    for conversion in conversions:
        spec = AppSpec.model_validate(conversion.app["spec"])
        for dependency in spec.depends_on or []:
            assert dependency.name in apps
    return apps


def spec(apps: dict[str, Conversion], name: str) -> dict[str, Any]:
    return apps[name].app["spec"]


def said(apps: dict[str, Conversion], *words: str) -> list[str]:
    return [w for c in apps.values() for w in c.warnings if all(word in w for word in words)]


def refusal(compose: str, **kwargs: Any) -> str:
    with pytest.raises(Refused) as error:
        convert(compose, **kwargs)
    return str(error.value)


# The case: a migration that the web service waits for, Postgres it waits on.
MIGRATION = """
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_HOST_AUTH_METHOD: trust
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 5s
  migrate:
    image: ghcr.io/example/shop:1.4
    command: ["flask", "db", "upgrade"]
    restart: "no"
    depends_on:
      db:
        condition: service_healthy
  web:
    image: ghcr.io/example/shop:1.4
    ports:
      - "8000:8000"
    depends_on:
      db:
        condition: service_healthy
      migrate:
        condition: service_completed_successfully
"""


def test_a_migration_that_others_wait_for_runs_once_and_the_web_waits_for_it() -> None:
    apps = convert(MIGRATION)
    assert spec(apps, "migrate")["restartPolicy"] == "Never"
    assert spec(apps, "migrate")["dependsOn"] == [{"name": "db", "condition": "Ready"}]
    assert spec(apps, "web")["dependsOn"] == [{"name": "db", "condition": "Ready"},
                                              {"name": "migrate", "condition": "Completed"}]
    assert "restartPolicy" not in spec(apps, "web") and "restartPolicy" not in spec(apps, "db")
    assert said(apps, "migrate: runs once, as a Job (restartPolicy Never): web waits for it "
                      "to complete (service_completed_successfully)")
    # what is kept is no longer said to be dropped
    assert not said(apps, "start independently")
    assert not said(apps, "always restarted")


def test_the_run_once_app_renders_a_job_and_the_others_wait() -> None:
    apps = convert(MIGRATION)
    kinds = {name: {o["kind"] for o in render.render_all(
        render.AppRef(name=name, namespace="shop", uid="u-" + name),
        AppSpec.model_validate(spec(apps, name))).objects()} for name in apps}
    assert "Job" in kinds["migrate"] and "Deployment" not in kinds["migrate"]
    assert "Deployment" in kinds["web"] and "Job" not in kinds["web"]


@pytest.mark.parametrize(("restart", "policy"), [
    (None, "Never"),  # Compose's default is "no"
    ('"no"', "Never"),
    ("no", "Never"),  # unquoted: YAML 1.2's string, as Compose reads it
    ("on-failure", "OnFailure"),
    ("on-failure:6", "OnFailure"),
    ("always", "OnFailure"),
    ("unless-stopped", "OnFailure"),
])
def test_what_others_wait_to_complete_runs_once_whatever_its_restart(
        restart: str | None, policy: str) -> None:
    line = f"    restart: {restart}\n" if restart else ""
    apps = convert(f"""
services:
  setup:
    image: alpine:3.20
    command: sh -c "chown -R 1000 /data"
{line}  app:
    image: nginx:1.27
    depends_on:
      setup:
        condition: service_completed_successfully
""")
    assert spec(apps, "setup")["restartPolicy"] == policy
    assert spec(apps, "app")["dependsOn"] == [{"name": "setup", "condition": "Completed"}]
    assert bool(said(apps, "setup: restart", "not kept; Compose would start it again")) == (
        restart in ("always", "unless-stopped"))
    assert not said(apps, "tried again up to 6 times")


def test_pyyaml_s_false_for_restart_no_is_run_once_too() -> None:
    apps = convert("""
services:
  seed:
    image: alpine:3.20
    restart: no
""", load=yaml.safe_load)
    assert spec(apps, "seed")["restartPolicy"] == "Never"


def test_the_voting_app_s_seed_service_runs_once(tmp_path: Path) -> None:
    # example-voting-app's docker-compose.yml: "this service runs once to seed the database"
    (tmp_path / "seed-data").mkdir()
    (tmp_path / "seed-data" / "Dockerfile").write_text("FROM python:3.11-slim\n")
    apps = convert("""
services:
  vote:
    image: dockersamples/examplevotingapp_vote
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost"]
      interval: 15s
    ports:
      - "8080:80"
  seed:
    build: ./seed-data
    profiles: ["seed"]
    depends_on:
      vote:
        condition: service_healthy
    networks:
      - front-tier
    restart: "no"
networks:
  front-tier:
""", tmp_path, image_prefix="registry.example.com/vote", profiles=["seed"])
    assert spec(apps, "seed")["restartPolicy"] == "Never"
    assert spec(apps, "seed")["dependsOn"] == [{"name": "vote", "condition": "Ready"}]
    assert said(apps, 'seed: restart no: runs once, as a Job (restartPolicy Never), since it '
                      "serves no port and no service waits for it to start")
    assert "restartPolicy" not in spec(apps, "vote")


def test_the_corpus_voting_app_with_profile_seed(capsys: pytest.CaptureFixture[str]) -> None:
    from app_operator.cli import main
    from tests.corpus import CORPUS

    path = CORPUS / "example-voting-app" / "docker-compose.yml"
    code = main(["convert", "compose", "--image-prefix", "registry.example.com/vote",
                 "--files-from-dirs", "--profile", "seed", str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    seed = next(d for d in yaml.safe_load_all(out) if d["metadata"]["name"] == "seed")
    assert seed["spec"]["restartPolicy"] == "Never"
    assert seed["spec"]["dependsOn"] == [{"name": "vote", "condition": "Ready"}]


def test_a_server_with_restart_no_stays_a_deployment_and_says_how_to_make_it_run_once(
        ) -> None:
    # awesome-compose's fastapi/compose.yaml (image instead of build)
    apps = convert("""
services:
  api:
    image: fastapi-application
    container_name: fastapi-application
    environment:
      PORT: 8000
    ports:
      - '8000:8000'
    restart: "no"
""")
    assert "restartPolicy" not in spec(apps, "api")
    assert said(apps, "api: restart no: kept running by a Deployment, which starts its "
                      "container again whenever it stops, since it serves port 8000; if it is "
                      "work that runs once, set restartPolicy: Never")


def test_on_failure_servers_stay_deployments() -> None:
    # awesome-compose's nginx-nodejs-redis/compose.yaml (images instead of builds)
    apps = convert("""
services:
  redis:
    image: 'redislabs/redismod'
    ports:
      - '6379:6379'
  web1:
    restart: on-failure
    image: web
    hostname: web1
    ports:
      - '81:5000'
  nginx:
    image: nginx
    ports:
    - '80:80'
    depends_on:
    - web1
""")
    assert "restartPolicy" not in spec(apps, "web1")
    assert said(apps, "web1: restart on-failure: kept running by a Deployment",
                "since it serves port 5000", "set restartPolicy: OnFailure")
    assert spec(apps, "nginx")["dependsOn"] == [{"name": "web1", "condition": "Ready"}]


@pytest.mark.parametrize(("extra", "reason"), [
    ("    image: postgres:16\n", "it serves port 5432"),  # its image's port
    ("    healthcheck: {test: [CMD, /bin/check]}\n", "it has a healthcheck"),
    ("    deploy: {replicas: 2}\n", "it runs 2 replicas"),
])
def test_what_says_a_restart_no_service_serves(extra: str, reason: str) -> None:
    image = "" if "image" in extra else "    image: worker\n"
    apps = convert(f"services:\n  job:\n{image}{extra}    restart: 'no'\n")
    assert "restartPolicy" not in spec(apps, "job")
    assert said(apps, "job: restart no: kept running", f"since {reason};")


def test_a_restart_no_service_others_wait_to_start_keeps_running() -> None:
    apps = convert("""
services:
  worker:
    image: worker
    restart: "no"
  api:
    image: api
    depends_on: [worker]
""")
    assert "restartPolicy" not in spec(apps, "worker")
    assert said(apps, "worker: restart no: kept running",
                "since api waits for it to be started or healthy")


def test_the_plain_list_and_every_condition_map_to_depends_on() -> None:
    apps = convert("""
services:
  db: {image: postgres:16, healthcheck: {test: pg_isready}}
  cache: {image: redis:7}
  api:
    image: api
    depends_on: [db, cache]
  worker:
    image: worker
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, restart: true}
""")
    ready = [{"name": "db", "condition": "Ready"}, {"name": "cache", "condition": "Ready"}]
    assert spec(apps, "api")["dependsOn"] == ready
    assert spec(apps, "worker")["dependsOn"] == ready
    assert said(apps, "worker: depends_on cache restart: true: not translated")
    assert not said(apps, "api: depends_on")


def test_service_healthy_without_a_healthcheck_says_ready_means_running() -> None:
    apps = convert("""
services:
  db: {image: postgres:16}
  api:
    image: api
    depends_on:
      db: {condition: service_healthy}
""")
    assert spec(apps, "api")["dependsOn"] == [{"name": "db", "condition": "Ready"}]
    assert said(apps, "api: depends_on db (service_healthy): db has no healthcheck in the "
                      "file", "add spec.probes.readiness to db")


def test_waiting_to_start_a_run_once_service_waits_for_it_to_complete() -> None:
    apps = convert("""
services:
  migrate:
    image: app
    restart: "no"
  web:
    image: app
    ports: ["8000:8000"]
    depends_on:
      migrate: {condition: service_completed_successfully}
  worker:
    image: app
    depends_on: [migrate]
""")
    assert spec(apps, "migrate")["restartPolicy"] == "Never"
    assert spec(apps, "worker")["dependsOn"] == [{"name": "migrate", "condition": "Completed"}]
    assert said(apps, "worker: depends_on migrate (service_started): migrate runs once")


def test_on_failure_with_a_count_says_the_job_s_tries() -> None:
    apps = convert("""
services:
  migrate:
    image: app
    restart: on-failure:3
  web:
    image: app
    depends_on: {migrate: {condition: service_completed_successfully}}
""")
    assert spec(apps, "migrate")["restartPolicy"] == "OnFailure"
    assert said(apps, "migrate: restart on-failure:3: a failed run is tried again up to 6 "
                      "times (the Job's backoffLimit), not 3")


def test_a_service_waited_to_complete_with_replicas_is_refused() -> None:
    message = refusal("""
services:
  migrate:
    image: app
    deploy: {replicas: 3}
  web:
    image: app
    depends_on: {migrate: {condition: service_completed_successfully}}
""")
    assert ("migrate: replicas 3: web wait for it to complete, so it runs once, as one pod; "
            "set replicas to 1") in message


def test_services_that_wait_for_each_other_are_refused_naming_the_cycle() -> None:
    message = refusal("""
services:
  a: {image: a, depends_on: [b]}
  b: {image: b, depends_on: {c: {condition: service_healthy}}}
  c: {image: c, depends_on: [a]}
""")
    assert "depends_on: a -> b -> c -> a wait for each other in a cycle" in message


def test_depends_on_a_service_the_file_does_not_have() -> None:
    assert "api: depends_on db: the file has no service db" in refusal("""
services:
  api: {image: api, depends_on: [db]}
""")
    apps = convert("""
services:
  api:
    image: api
    depends_on:
      db: {condition: service_started, required: false}
""")
    assert "dependsOn" not in spec(apps, "api")
    assert said(apps, "api: depends_on db (required: false): the file has no such service")


def test_a_dependency_left_out_by_its_profile_is_not_waited_for() -> None:
    apps = convert("""
services:
  api:
    image: api
    depends_on:
      debug: {condition: service_started, required: false}
      db: {condition: service_started}
  db: {image: postgres:16}
  debug: {image: busybox, profiles: [debug]}
""")
    assert spec(apps, "api")["dependsOn"] == [{"name": "db", "condition": "Ready"}]


def test_depends_on_uses_the_app_name_of_the_service() -> None:
    apps = convert("""
services:
  my_db: {image: postgres:16}
  api: {image: api, depends_on: [my_db]}
""")
    assert spec(apps, "api")["dependsOn"] == [{"name": "my-db", "condition": "Ready"}]


# ------------------------------------------------------------- network_mode service:X

VPN = """
services:
  gluetun:
    image: qmcgaw/gluetun
    ports:
      - 8080:8080
    volumes:
      - gluetun:/gluetun
  qbittorrent:
    image: lscr.io/linuxserver/qbittorrent
    network_mode: "service:gluetun"
    environment:
      WEBUI_PORT: 8080
    volumes:
      - config:/config
      - gluetun:/shared
    depends_on:
      - gluetun
      - db
    restart: unless-stopped
  db:
    image: postgres:16
  web:
    image: nginx
    depends_on: [qbittorrent]
volumes:
  gluetun:
  config:
"""


def test_network_mode_service_makes_the_service_a_sidecar_of_that_app() -> None:
    # the usual VPN sidecar: qbittorrent's traffic goes through gluetun's network
    apps = convert(VPN)
    assert "qbittorrent" not in apps
    gluetun = spec(apps, "gluetun")
    assert gluetun["sidecars"] == [{
        "name": "qbittorrent", "image": "lscr.io/linuxserver/qbittorrent",
        "env": [{"name": "WEBUI_PORT", "value": "8080"}],
        "volumeMounts": [{"name": "config", "mountPath": "/config"},
                         {"name": "gluetun", "mountPath": "/shared"}]}]
    # a volume gluetun mounts too is mounted by its name; another is added to the App
    assert gluetun["volumes"] == [{"name": "gluetun", "mountPath": "/gluetun"},
                                  {"name": "config", "mountPath": "/config"}]
    assert said(apps, "gluetun: volume config: added for its sidecar qbittorrent; the main "
                      "container mounts it too, at /config")
    assert said(apps, "qbittorrent: network_mode service:gluetun: runs as a sidecar of "
                      "gluetun's App, in its pods: it shares their network (localhost)")
    # what the sidecar waits for, the App waits for; what waits for it waits for the App
    assert gluetun["dependsOn"] == [{"name": "db", "condition": "Ready"}]
    assert spec(apps, "web")["dependsOn"] == [{"name": "gluetun", "condition": "Ready"}]
    assert not said(apps, "access to the host")


def test_a_sidecar_s_ports_are_its_app_s_and_what_it_cannot_keep_is_said() -> None:
    apps = convert("""
services:
  app:
    image: myapp
    ports: ["8000:8000"]
  cache:
    image: redis:7
    network_mode: service:app
    healthcheck: {test: [CMD, redis-cli, ping]}
    user: "999:999"
    restart: on-failure
""")
    assert spec(apps, "app")["ports"] == [{"containerPort": 8000},
                                          {"name": "redis", "containerPort": 6379}]
    assert spec(apps, "app")["sidecars"] == [{"name": "cache", "image": "redis:7"}]
    assert said(apps, "cache: port 6379: published by app's Service, which other services "
                      "reach as app:6379")
    assert not said(apps, "no ports listed")
    assert said(apps, "cache: healthcheck: not translated for a sidecar")
    assert said(apps, "cache: user: not translated for a sidecar (it runs as app's main "
                      "container does)")
    assert said(apps, "cache: restart on-failure: a sidecar is started again whenever it "
                      "stops")


def test_a_sidecar_with_files_is_refused_saying_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "proxy.conf").write_text("listen 9000\n")
    message = refusal("""
services:
  app: {image: myapp}
  proxy:
    image: envoyproxy/envoy:v1.31
    network_mode: service:app
    volumes: [./proxy.conf:/etc/proxy.conf:ro]
""", tmp_path=tmp_path)
    assert ("app: proxy: /etc/proxy.conf: a sidecar mounts no files (configs, secrets, "
            "single-file binds); build them into its image, or put them on a volume it "
            "shares with app") in message


@pytest.mark.parametrize(("compose", "words"), [
    ("services:\n  a: {image: a, network_mode: 'service:vpn'}\n",
     "a: network_mode service:vpn: the file has no service vpn"),
    ("services:\n  a: {image: a, network_mode: 'service:b'}\n"
     "  b: {image: b, network_mode: 'service:c'}\n  c: {image: c}\n",
     "a: network_mode service:b: b shares another service's network itself; name that "
     "service instead"),
    ("services:\n  a: {image: a, network_mode: 'service:b'}\n"
     "  b: {image: b, profiles: [vpn]}\n",
     "a: network_mode service:b: b is left out (none of its profiles is active); add its "
     "profile"),
    ("services:\n  a: {image: a, network_mode: 'container:web'}\n",
     "a: network_mode container:web: the container shares the network of the container web, "
     "which is not a service of this file; an App can share a network only with a service "
     'of the same file: make it one and use network_mode "service:NAME"'),
    ("services:\n  a: {image: a, network_mode: host}\n",
     "network_mode=host gives the container access to the host"),
])
def test_a_network_an_app_cannot_share_is_refused_with_what_to_do(compose: str,
                                                                  words: str) -> None:
    assert words in refusal(compose)
