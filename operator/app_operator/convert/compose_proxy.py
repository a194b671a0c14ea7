"""The reverse proxy of a compose file, left out.

Self-hosting compose files often run Traefik beside their services: it reads the Docker
socket and routes by the `traefik.*` labels of the other services. In a cluster that work is
the gateway's or the ingress controller's, and the labels become each App's `route`
(convert/routes.py); the proxy itself cannot run there (the Docker socket is the host's). So
a Traefik service with its Docker provider is left out with a warning, and so are the other
services' `depends_on` entries for it, instead of refusing the whole file for its socket.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DOCKER_SOCKET = "/var/run/docker.sock"


def _repository(image: Any) -> str:
    """`traefik` of `traefik:v3.6`, `docker.io/library/traefik@sha256:...`."""
    name = str(image or "").split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def _mounts_the_socket(service: Mapping[str, Any]) -> bool:
    for volume in service.get("volumes") or []:
        source = volume.get("source") if isinstance(volume, dict) else str(volume).split(":")[0]
        if str(source or "").rstrip("/") in (DOCKER_SOCKET, "/run/docker.sock"):
            return True
    return False


def _uses_docker_provider(service: Mapping[str, Any]) -> bool:
    command = service.get("command") or []
    words = command.split() if isinstance(command, str) else [str(w) for w in command]
    return any(w.startswith("--providers.docker") for w in words)


def is_docker_proxy(service: Any) -> bool:
    """A Traefik that routes for Docker: its image, and the socket or the Docker provider."""
    return (isinstance(service, dict) and _repository(service.get("image")) == "traefik"
            and (_mounts_the_socket(service) or _uses_docker_provider(service)))


def without_the_proxy(services: Mapping[str, Any], warnings: list[str]) -> dict[str, Any]:
    """The services without a Traefik that routes for Docker (see the module's docstring);
    the others' `depends_on` no longer name it."""
    proxies = [name for name, service in services.items() if is_docker_proxy(service)]
    if not proxies:
        return dict(services)
    for name in proxies:
        warnings.append(
            f"{name}: left out: a Traefik that routes for Docker (it reads the Docker socket); "
            "in a cluster the gateway or the ingress controller routes, and the services' "
            "traefik labels become their Apps' route (spec.route; --gateway NAME attaches "
            "them to a Gateway)")
    kept: dict[str, Any] = {}
    for name, service in services.items():
        if name in proxies:
            continue
        if isinstance(service, dict) and service.get("depends_on"):
            depends = service["depends_on"]
            if isinstance(depends, list):
                depends = [d for d in depends if str(d) not in proxies]
            elif isinstance(depends, dict):
                depends = {d: v for d, v in depends.items() if str(d) not in proxies}
            service = {**service, "depends_on": depends} if depends else {
                k: v for k, v in service.items() if k != "depends_on"}
        kept[name] = service
    return kept
