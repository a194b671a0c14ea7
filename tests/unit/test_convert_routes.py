"""Issue 25, item 6: Traefik's labels (compose `labels:` and `docker run -l`) become the App's
spec.route, and a web service published on the host without them gets a route suggested.
The compose text is written as self-hosting files write it (whoami, Traefik's own docs'
examples, a redirect to HTTPS, a VPN sidecar)."""

from __future__ import annotations

import shlex
import textwrap
from typing import Any

import pytest

from app_operator.cli import main
from app_operator.convert import compose_schema, compose_yaml
from app_operator.convert.converter import Conversion, convert_compose, convert_run
from app_operator.convert.routes import RuleError, parse_rule
from app_operator.core import render
from app_operator.core.model import AppSpec


def convert(compose: str, **kwargs: Any) -> dict[str, Conversion]:
    """The compose text converted, by App name; every App is checked by the model."""
    conversions = convert_compose(compose_yaml.load(textwrap.dedent(compose)),
                                  schema=compose_schema.load(), **kwargs)
    for conversion in conversions:
        AppSpec.model_validate(conversion.app["spec"])
    return {c.app["metadata"]["name"]: c for c in conversions}


def run(command: str, **kwargs: Any) -> Conversion:
    conversion = convert_run(shlex.split(command), **kwargs)
    AppSpec.model_validate(conversion.app["spec"])
    return conversion


def said(conversion: Conversion, *words: str) -> list[str]:
    return [w for w in conversion.warnings if all(word in w for word in words)]


# Traefik's documented whoami example, list form, with TLS from an ACME resolver.
WHOAMI = """
services:
  whoami:
    image: traefik/whoami
    labels:
      - "traefik.enable=true"
      - "traefik.http.routers.whoami.rule=Host(`whoami.example.com`) || Host(`who.example.com`)"
      - "traefik.http.routers.whoami.entrypoints=websecure"
      - "traefik.http.routers.whoami.tls=true"
      - "traefik.http.routers.whoami.tls.certresolver=myresolver"
      - "traefik.http.services.whoami.loadbalancer.server.port=80"
      - "traefik.http.routers.whoami.middlewares=auth"
      - "traefik.http.middlewares.auth.basicauth.users=test:$$apr1$$H6u$$IgXLP6"
"""


def test_routers_rule_tls_and_service_port_become_the_route() -> None:
    whoami = convert(WHOAMI)["whoami"]
    spec = whoami.app["spec"]
    assert spec["route"] == {"hosts": ["whoami.example.com", "who.example.com"], "port": 80,
                             "tls": {}}
    # Traefik reached port 80 without it being published: the App's Service needs it
    assert spec["ports"] == [{"containerPort": 80}]
    assert said(whoami, "port 80 added", "loadbalancer.server.port")
    # the certificate: what to set with cert-manager, and the Secret it fills
    [tls] = said(whoami, "tls.certresolver=myresolver")
    assert "route.tls.issuer" in tls and "whoami-tls" in tls
    assert said(whoami, "entrypoints=websecure", "not carried over")
    # middlewares, named once, and no traefik label left on the pods
    [others] = said(whoami, "traefik.http.routers.whoami.middlewares")
    assert "traefik.http.middlewares.auth.basicauth.users" in others
    assert "not carried over" in others
    assert not any(k.startswith("traefik.") for k in spec.get("podLabels", {}))
    assert not any(k.startswith("traefik.") for k in spec.get("podAnnotations", {}))


def test_the_route_renders_an_ingress_of_the_default_class() -> None:
    spec = AppSpec.model_validate(convert(WHOAMI)["whoami"].app["spec"])
    objects = render.render_all(render.AppRef(name="whoami", namespace="web", uid="u"),
                                spec).objects()
    [ingress] = [o for o in objects if o["kind"] == "Ingress"]
    assert {r["host"] for r in ingress["spec"]["rules"]} == {"whoami.example.com",
                                                             "who.example.com"}


def test_map_form_path_prefix_and_double_quotes() -> None:
    apps = convert("""
        services:
          api:
            image: ghcr.io/example/api:2
            ports: ["8000"]
            labels:
              traefik.http.routers.api.rule: >-
                Host("shop.example.com") && (PathPrefix(`/api`) || PathPrefix(`/v2`))
              traefik.http.routers.api.tls: "true"
        """)
    api = apps["api"]
    assert api.app["spec"]["route"] == {"hosts": ["shop.example.com"],
                                        "paths": ["/api", "/v2"], "tls": {}}
    [tls] = said(api, "tls=true")
    assert "kubectl create secret tls api-tls" in tls and "route.tls.secretName" in tls


def test_docker_run_labels_become_the_route() -> None:
    conversion = run("docker run -d --name blog -p 2368:2368 "
                     "-l traefik.http.routers.blog.rule=Host(`Blog.Example.com`)&&PathPrefix(`/`) "
                     "-l traefik.http.services.blog.loadbalancer.server.port=2368 ghost:5")
    assert conversion.app["spec"]["route"] == {"hosts": ["blog.example.com"], "port": 2368}
    assert "podLabels" not in conversion.app["spec"]


def test_gateway_parameter_attaches_the_route_to_a_gateway() -> None:
    apps = convert(WHOAMI, gateway="app-operator-gateway/app-operator")
    route = apps["whoami"].app["spec"]["route"]
    assert route["parent"] == {"gateway": {"name": "app-operator",
                                           "namespace": "app-operator-gateway"}}
    assert route["tls"] == {}
    assert said(apps["whoami"], "Gateway listener", "sectionName")
    conversion = run("docker run -l traefik.http.routers.a.rule=Host(`a.example.com`) "
                     "-p 80 nginx", gateway="public")
    assert conversion.app["spec"]["route"]["parent"] == {"gateway": {"name": "public"}}


def test_several_routers_the_first_is_the_route_the_others_named() -> None:
    # the usual redirect to HTTPS: one router on web, one on websecure
    apps = convert("""
        services:
          nextcloud:
            image: nextcloud:29
            labels:
              - traefik.http.routers.nc.rule=Host(`cloud.example.com`)
              - traefik.http.routers.nc.entrypoints=web
              - traefik.http.routers.nc.middlewares=https-redirect
              - traefik.http.routers.nc-secure.rule=Host(`cloud.example.com`)
              - traefik.http.routers.nc-secure.tls=true
        """)
    nextcloud = apps["nextcloud"]
    # nextcloud's image port (80), added when no ports are listed, is the route's; the
    # secure router of the same host gives it TLS
    assert nextcloud.app["spec"]["route"] == {"hosts": ["cloud.example.com"], "tls": {}}
    [same] = said(nextcloud, "routers nc-secure")
    assert "same hosts and paths as router nc" in same and "TLS" in same
    assert said(nextcloud, "router nc-secure: tls=true", "nextcloud-tls")
    # a router of other hosts is not carried over, and named
    conversion = run("docker run -p 80 -l traefik.http.routers.a.rule=Host(`a.example.com`) "
                     "-l traefik.http.routers.b.rule=Host(`b.example.com`) "
                     "-l traefik.http.routers.c.tls=true nginx")
    assert conversion.app["spec"]["route"] == {"hosts": ["a.example.com"]}
    [others] = said(conversion, "routers b, c: not carried over")
    assert "one route, made from router a" in others


@pytest.mark.parametrize(("rule", "words"), [
    ("HostRegexp(`{sub:[a-z]+}.example.com`)", ["HostRegexp", "not patterns"]),
    ("Host(`a.example.com`) && Headers(`X-Env`, `beta`)", ["Headers", "host and path"]),
    ("!Host(`a.example.com`)", ["negation"]),
    ("Path(`/`)", ["names no host"]),  # awesome-compose's traefik-golang
    ("Host(`a.example.com`) || Host(`b.example.com`) && PathPrefix(`/x`)",
     ["do not all have the same paths"]),
    ("Host(`localhost`)", ["host `localhost`", "route.hosts"]),
    ("Host(``)", ["host ``", "unset ${VAR}"]),  # Host(`${DOMAIN}`) without DOMAIN
    ("Host(`a.example.com`) && PathPrefix(`/a%20b`)", ["path `/a%20b`"]),
    ("Host(`a.example.com`", ["expected"]),
])
def test_rules_a_route_cannot_say_are_named_with_what_to_do(rule: str,
                                                           words: list[str]) -> None:
    conversion = run(f"docker run -p 8080:80 -l traefik.http.routers.r.rule={shlex.quote(rule)} "
                     "nginx")
    assert "route" not in conversion.app["spec"]
    [warning] = said(conversion, "router r", "not carried over", *words)
    assert "route: {hosts: [nginx.example.com]}" in warning


def test_a_rule_not_carried_over_keeps_the_services_port() -> None:
    # awesome-compose's traefik-golang: the backend is built and lists no ports
    conversion = run("docker run -l traefik.enable=true -l traefik.http.routers.go.rule=Path(`/`) "
                     "-l traefik.http.services.go.loadbalancer.server.port=80 backend")
    assert conversion.app["spec"]["ports"] == [{"containerPort": 80}]
    assert said(conversion, "names no host", "route: {hosts: [backend.example.com], port: 80}")


def test_parse_rule_reads_alternatives_and_traefik_v2_lists() -> None:
    rule = parse_rule("(Host(`a.example.com`, `b.example.com`)) && Path(`/api`)")
    assert (rule.hosts, rule.paths) == (["a.example.com", "b.example.com"], ["/api"])
    assert rule.notes  # Path is exact under Traefik, a prefix in a route
    rule = parse_rule('Host("a.example.com") && PathPrefix("/x") || '
                      "Host(`a.example.com`) && PathPrefix(`/y`)")
    assert (rule.hosts, rule.paths) == (["a.example.com"], ["/x", "/y"])
    with pytest.raises(RuleError, match="never matches"):
        parse_rule("Host(`a.example.com`) && Host(`b.example.com`)")


def test_enable_false_gives_no_route() -> None:
    conversion = run("docker run -p 80 -l traefik.enable=false "
                     "-l traefik.http.routers.r.rule=Host(`a.example.com`) nginx")
    assert "route" not in conversion.app["spec"]
    assert said(conversion, "traefik.enable=false", "no route")


def test_enable_without_rule_says_the_default_rule_is_not_known() -> None:
    conversion = run("docker run -p 80 -l traefik.enable=true nginx")
    assert "route" not in conversion.app["spec"]
    [warning] = said(conversion, "default rule")
    assert "route: {hosts: [nginx.example.com]}" in warning


def test_service_port_without_label_and_no_web_port() -> None:
    # one non-web port: Traefik would use it, and so does the route
    conversion = run("docker run -p 2368 -l traefik.http.routers.g.rule=Host(`g.example.com`) "
                     "ghost:5")
    assert conversion.app["spec"]["route"] == {"hosts": ["g.example.com"], "port": 2368}
    # no port at all: Traefik used the image's, not known here
    conversion = run("docker run -l traefik.http.routers.g.rule=Host(`g.example.com`) "
                     "ghost:5")
    assert "route" not in conversion.app["spec"]
    assert said(conversion, "no route", "image's port", "spec.ports")


def test_a_sidecars_labels_make_its_owners_route() -> None:
    # qBittorrent behind a VPN client: Traefik reaches it through gluetun's network
    apps = convert("""
        services:
          gluetun:
            image: qmcgaw/gluetun
            ports: ["8080"]
          qbittorrent:
            image: lscr.io/linuxserver/qbittorrent
            network_mode: "service:gluetun"
            labels:
              - traefik.http.routers.qb.rule=Host(`qb.example.com`)
              - traefik.http.services.qb.loadbalancer.server.port=8080
        """)
    assert apps["gluetun"].app["spec"]["route"] == {"hosts": ["qb.example.com"], "port": 8080}
    assert said(apps["gluetun"], "qbittorrent: traefik labels", "gluetun's App")


def test_a_published_web_port_without_labels_suggests_a_route() -> None:
    apps = convert("""
        services:
          web:
            image: nginx:1.27
            ports: ["8080:80"]
          db:
            image: postgres:16
            ports: ["5432:5432"]
        """)
    [warning] = said(apps["web"], "ports 8080:80")
    assert "a route by host name (`route: {hosts: [web.example.com], port: 80}`" in warning
    assert not said(apps["db"], "route")
    # a reverse proxy itself: the routes go on the Apps it served
    conversion = run("docker run -p 80:80 -p 443:443 traefik:v3")
    assert said(conversion, "reverse proxy", "route: {hosts: [APP.example.com]}")
    # with Traefik labels the route (or the reason for none) is said instead
    conversion = run("docker run -p 8080:80 -l traefik.http.routers.r.rule=Host(`a.example.com`) "
                     "nginx")
    assert not said(conversion, "a route by host name")


def test_corpus_figures_in_docs(capsys: pytest.CaptureFixture[str]) -> None:
    """docs/convert.md's figures: the corpus's one file with Traefik labels (refused for
    its Docker socket; its backend's rule without the mount), and the route suggestions of
    the files that convert with both flags."""
    from tests.corpus import CORPUS

    path = CORPUS / "awesome-compose" / "traefik-golang" / "compose.yaml"
    document = compose_yaml.load(path.read_text())
    conversions = convert_compose(document, schema=compose_schema.load(),
                                  image_prefix="registry.example.com/corpus")
    backend = next(c for c in conversions if c.app["metadata"]["name"] == "backend")
    assert "route" not in backend.app["spec"]
    assert backend.app["spec"]["ports"] == [{"containerPort": 80}]
    assert said(backend, "Path(`/`)", "names no host",
                "route: {hosts: [backend.example.com], port: 80}")
    # The proxy itself (Traefik on the Docker socket) is left out: the cluster's gateway
    # does its work (compose_proxy.py).
    assert [c.app["metadata"]["name"] for c in conversions] == ["backend"]
    assert any(said(c, "frontend: left out") for c in conversions)

    suggestions = 0
    for file in sorted(p for p in CORPUS.rglob("*.y*ml") if "compose" in p.name):
        main(["convert", "compose", "--image-prefix", "registry.example.com/corpus",
              "--files-from-dirs", str(file)])
        err = capsys.readouterr().err
        suggestions += err.count("a route by host name") + err.count("reverse proxy's work")
    assert suggestions == 40
