"""Compose files that run their own reverse proxy (Traefik on the Docker socket), and files
in the Compose file format 1: written as self-hosting guides write them."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from app_operator.convert import compose_schema
from app_operator.convert.converter import Refused, convert_compose

TRAEFIK_GUIDE = """
services:
  traefik:
    image: "traefik:v3.6"
    container_name: "traefik"
    command:
      - "--providers.docker=true"
      - "--providers.docker.exposedbydefault=false"
      - "--entryPoints.web.address=:80"
    ports:
      - "80:80"
      - "8080:8080"
    volumes:
      - "/var/run/docker.sock:/var/run/docker.sock:ro"
  whoami:
    image: "traefik/whoami"
    container_name: "simple-service"
    depends_on: [traefik]
    labels:
      - "traefik.enable=true"
      - "traefik.http.routers.whoami.rule=Host(`whoami.localhost.example`)"
      - "traefik.http.routers.whoami.entrypoints=web"
      - "traefik.http.services.whoami.loadbalancer.server.port=80"
"""


def convert(text: str) -> list[Any]:
    return convert_compose(yaml.safe_load(text), schema=compose_schema.load())


def test_the_proxy_is_left_out_and_the_labels_become_the_route() -> None:
    conversions = convert(TRAEFIK_GUIDE)
    apps = {c.app["metadata"]["name"]: c.app for c in conversions}
    assert list(apps) == ["whoami"]
    spec = apps["whoami"]["spec"]
    assert spec["route"]["hosts"] == ["whoami.localhost.example"]
    assert "dependsOn" not in spec
    warnings = [w for c in conversions for w in c.warnings]
    assert any(w.startswith("traefik: left out: a Traefik that routes for Docker")
               for w in warnings), warnings


@pytest.mark.parametrize("proxy", [
    {"image": "traefik:v3.6", "ports": ["80:80"]},  # no Docker provider: a proxy of its own
    {"image": "traefik/whoami", "volumes": ["/var/run/docker.sock:/var/run/docker.sock"]},
])
def test_only_a_traefik_that_routes_for_docker_is_left_out(proxy: dict[str, Any]) -> None:
    text = yaml.safe_dump({"services": {"edge": proxy}})
    try:
        names = [c.app["metadata"]["name"] for c in convert(text)]
    except Refused as error:  # the socket of a service that is not the proxy is refused
        assert "docker.sock" in str(error)
        return
    assert names == ["edge"]


def test_a_file_of_the_compose_format_1_says_so() -> None:
    with pytest.raises(Refused) as refused:
        convert("registry:\n  image: registry:2\nnginx:\n  build: nginx\n")
    assert "Compose file format 1" in str(refused.value)
    assert "registry, nginx" in str(refused.value)
    assert "under `services:`" in str(refused.value)
