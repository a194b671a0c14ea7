"""`network_mode: "service:X"`: a service that shares X's network (localhost is X's) becomes
a sidecar of X's App, a second container in X's pods (spec.sidecars: started before the main
container, stopped after it, with its security settings), which is what sharing a network
namespace is on Kubernetes.

What the sidecar keeps: image, pull policy, entrypoint and command, working_dir, environment
(and env files as ConfigMaps), resources, and its volumes: a volume X mounts too is mounted by
name; another one is added to X's App, whose main container mounts it as well (an App's
volumes are its main container's). What a sidecar has no field for is said (healthcheck,
user, labels, replicas, restart) or, for files an App would mount (bind-mounted files,
configs, secrets), refused with what to do. Its ports are X's ports: they are published by
X's Service. Other services that wait for it wait for X.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.compose_service import IMAGE_PORTS
from app_operator.convert.values import image_base

SIDECAR_KEYS = ("imagePullPolicy", "command", "args", "workingDir", "envFrom", "resources")
NOT_KEPT = {"probes": "healthcheck", "runAsUser": "user", "runAsGroup": "user",
            "podLabels": "labels", "podAnnotations": "labels", "replicas": "deploy.replicas"}


def network_owner(service: Mapping[str, Any]) -> str | None:
    """X of `network_mode: service:X`, else None."""
    mode = service.get("network_mode")
    if isinstance(mode, str) and mode.startswith("service:"):
        return mode.removeprefix("service:")
    return None


def _mount_volumes(owner: Builder, sidecar: Builder) -> list[dict[str, Any]]:
    mounts = []
    by_key = {key: name for name, key in owner.volume_keys.items()}
    for volume in sidecar.volumes:
        key = sidecar.volume_keys.get(volume["name"])
        name = by_key.get(key) if key is not None else None
        if name is None:
            name = volume["name"]
            if any(v["name"] == name for v in owner.volumes):
                name = f"{sidecar.name}-{name}"[:63].rstrip("-")
            if not owner.add_claim(name, volume["mountPath"], bool(volume.get("readOnly")),
                                   f"{sidecar.name}: volumes", key):
                owner.refuse(f"{sidecar.name}: volume {volume['name']} at "
                             f"{volume['mountPath']} cannot be added to {owner.name}'s App, "
                             "whose main container mounts another volume there")
                continue
            for field in ("size", "accessMode", "storageClassName"):
                if field in volume:
                    owner.volumes[-1][field] = volume[field]
            owner.warn(f"volume {name}: added for its sidecar {sidecar.name}; the main "
                       f"container mounts it too, at {volume['mountPath']} (an App's volumes "
                       "are its main container's)")
        mount: dict[str, Any] = {"name": name, "mountPath": volume["mountPath"]}
        if volume.get("readOnly"):
            mount["readOnly"] = True
        mounts.append(mount)
    return mounts


def _fold(owner: Builder, sidecar: Builder, service: Mapping[str, Any],
          service_name: str) -> None:
    entry: dict[str, Any] = {"name": sidecar.name, "image": sidecar.spec["image"]}
    entry.update({key: sidecar.spec[key] for key in SIDECAR_KEYS if key in sidecar.spec})
    if sidecar.env:
        entry["env"] = list(sidecar.env.values())
    mounts = _mount_volumes(owner, sidecar)
    if mounts:
        entry["volumeMounts"] = mounts
    if sidecar.files:
        sidecar.refuse(f"{', '.join(f['mountPath'] for f in sidecar.files)}: a sidecar mounts "
                       "no files (configs, secrets, single-file binds); build them into its "
                       f"image, or put them on a volume it shares with {owner.name}")
    for compose_key in dict.fromkeys(NOT_KEPT[key] for key in NOT_KEPT if key in sidecar.spec):
        sidecar.warn(f"{compose_key}: not translated for a sidecar" + (
                f" (it runs as {owner.name}'s main container does)"
                if compose_key == "user" else ""))
    restart = service.get("restart")
    if restart is not None and str(restart).split(":")[0] in ("no", "on-failure"):
        sidecar.warn(f"restart {restart}: a sidecar is started again whenever it stops")
    ports = [(p.container, p.protocol) for p in sidecar.ports]
    known = IMAGE_PORTS.get(image_base(sidecar.spec["image"]))
    if not ports and known is not None:
        ports = [(known, "TCP")]  # its image's, as a service of its own would get
    for number, protocol in ports:
        if all((p.container, p.protocol) != (number, protocol) for p in owner.ports):
            owner.add_port(number, protocol)
            sidecar.warn(f"port {number}: published by {owner.name}'s Service, which other "
                         f"services reach as {owner.name}:{number}: the sidecar listens in "
                         "its pods")
    if sidecar.traefik:
        # Under Compose, Traefik reaches the sidecar through the network it shares: its
        # routers are the pods' route, if the owner has none of its own.
        if owner.traefik:
            sidecar.warn(f"{', '.join(sidecar.traefik)}: not carried over; {owner.name} has "
                         "Traefik labels of its own, and its App has one route")
        else:
            owner.traefik.update(sidecar.traefik)
            sidecar.warn(f"traefik labels: the route is {owner.name}'s App's, whose pods the "
                         "sidecar serves from")
    sidecar._plain_secrets_warning()
    sidecar.warn(f"network_mode service:{owner.name}: runs as a sidecar of {owner.name}'s "
                 "App, in its pods: it shares their network (localhost), starts before the "
                 "main container and stops after it")
    owner.warnings.extend(sidecar.warnings)
    owner.commands.extend(c for c in sidecar.commands if c not in owner.commands)
    owner.problems.extend(f"{sidecar.name}: {p}" for p in sidecar.problems)
    owner.spec.setdefault("sidecars", []).append(entry)


def fold_sidecars(builders: dict[str, Builder], services: Mapping[str, Mapping[str, Any]],
                  every_service: Mapping[str, Any], problems: list[str]) -> dict[str, str]:
    """Moves each service with `network_mode: service:X` into X's builder as a sidecar (out
    of `builders`). Returns {sidecar service: X} for what waits on a sidecar; refusals go to
    `problems`."""
    folded: dict[str, str] = {}
    for name in list(builders):
        owner_name = network_owner(services[name])
        if owner_name is None:
            continue
        if owner_name not in every_service:
            problems.append(f"{name}: network_mode service:{owner_name}: the file has no "
                            f"service {owner_name}")
        elif network_owner(every_service[owner_name] or {}) is not None:
            problems.append(f"{name}: network_mode service:{owner_name}: {owner_name} shares "
                            "another service's network itself; name that service instead")
        elif owner_name not in services:
            problems.append(f"{name}: network_mode service:{owner_name}: {owner_name} is "
                            "left out (none of its profiles is active); add its profile")
        elif owner_name in builders:
            _fold(builders[owner_name], builders.pop(name), services[name], name)
            folded[name] = owner_name
        # else the service it joins is refused, for reasons of its own that are said
    return folded
