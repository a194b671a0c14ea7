"""One compose service as an App builder: its image, ports, volumes, environment, health
check, resources, secrets and configs. What holds between services (depends_on, and the
restart: that depends on them) is compose_starts.py's."""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import ENV_MAX, Builder
from app_operator.convert.compose_build import build_command, service_image
from app_operator.convert.compose_project import Project
from app_operator.convert.compose_secrets import compose_configs, compose_secrets
from app_operator.convert.compose_volumes import compose_volumes
from app_operator.convert.compose_warnings import (
    COMPOSE_ADVICE,
    COMPOSE_HOST_ACCESS,
    COMPOSE_TRANSLATED,
    host_access,
)
from app_operator.convert.conversion import Refused
from app_operator.convert.short_syntax import expose, publish
from app_operator.convert.values import (
    command_words,
    compose_mapping,
    cpus,
    dns_label,
    env_entry,
    image_base,
    memory,
    parse_env_file,
)

# Well-known ports of images that compose files usually reach by service name without
# listing them, so that the converted App still gets a Service other Apps can reach.
IMAGE_PORTS = {
    "postgres": 5432, "postgis/postgis": 5432, "mysql": 3306, "mariadb": 3306,
    "redis": 6379, "valkey/valkey": 6379, "mongo": 27017, "memcached": 11211,
    "rabbitmq": 5672, "elasticsearch": 9200, "nginx": 80, "httpd": 80, "wordpress": 80,
    "nextcloud": 80, "php": 80, "adminer": 8080, "phpmyadmin": 80, "minio/minio": 9000,
}


def _port_number(value: Any, what: str) -> int:
    """A port of a compose file's long syntax, which the schema lets be any string."""
    try:
        return int(str(value))
    except ValueError:
        raise Refused(f"{what} {value!r} is not a port number") from None


def _compose_ports(builder: Builder, service: Mapping[str, Any]) -> None:
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            def long_port(entry: Mapping[str, Any] = entry) -> None:
                if entry.get("target") in (None, ""):
                    raise Refused(f"ports {entry}: no target (the container's port) is given; "
                                  "add `target: PORT`")
                target = _port_number(entry["target"], f"ports {entry}: target")
                published = entry.get("published")
                host = (_port_number(str(published).split("-")[0], f"ports {entry}: published")
                        if published not in (None, "") else None)
                name = entry.get("name")
                builder.add_port(target, str(entry.get("protocol", "tcp")), host or None,
                                 entry.get("host_ip"), f"ports {entry}",
                                 name=str(name) if name else None)
            builder.attempt(long_port)
        else:
            builder.attempt(publish, builder, str(entry), "ports")
    for entry in service.get("expose") or []:
        builder.attempt(expose, builder, str(entry))



def _compose_environment(builder: Builder, service: Mapping[str, Any],
                         project: Project) -> None:
    env_files = service.get("env_file") or []
    read: list[tuple[str, list[dict[str, str]]]] = []
    for entry in [env_files] if isinstance(env_files, str | dict) else env_files:
        path = str(entry["path"]) if isinstance(entry, dict) else str(entry)
        required = entry.get("required", True) if isinstance(entry, dict) else True
        try:
            text = project.files.read_text(path)
        except (OSError, ValueError) as error:
            if not required:
                continue
            reason = error.strerror if isinstance(error, OSError) else str(error)
            builder.refuse(f"env_file {project.files.display(path)}: {reason or error}")
            continue
        read.append((path, parse_env_file(text, path, builder.warnings)))
    environment = compose_mapping(service.get("environment") or {})
    names = {item["name"] for _, items in read for item in items} | set(environment)
    if len(names) > ENV_MAX:
        _env_files_as_config_maps(builder, read, len(names), project)
    else:
        for path, items in read:
            for item in items:
                builder.env[item["name"]] = env_entry(item["name"], item["value"])
            builder.warn(f"env_file {path}: its values are written into the App; keep "
                         "passwords in a Secret and use envFrom or valueFrom.secretKeyRef "
                         "instead")
    for key, value in environment.items():
        builder.add_env(key, project.environ.get(key) if value is None else value,
                        "environment")


def _env_files_as_config_maps(builder: Builder, read: list[tuple[str, list[dict[str, str]]]],
                              count: int, project: Project) -> None:
    """More variables than an App's env may hold: each env file becomes a ConfigMap made
    from the same file, whose keys are all variables (envFrom). `environment:` stays in env,
    which wins over envFrom as it wins over env_file under Compose."""
    namespace = ["-n", project.namespace] if project.namespace else []
    for path, items in read:
        config_map = dns_label(f"{builder.name}-{posixpath.basename(path)}", "env_file")
        builder.spec.setdefault("envFrom", []).append({"configMapRef": {"name": config_map}})
        command = shlex.join(["kubectl", "create", "configmap", config_map,
                              f"--from-env-file={project.files.display(path)}", *namespace])
        project.command_once(builder, command)
        builder.warn(f"env_file {path}: the service has {count} variables, more than the "
                     f"{ENV_MAX} an App's env holds; the {len(items)} of this file come from "
                     f"the ConfigMap {config_map} (envFrom), which you create with: {command} "
                     "(keep passwords in a Secret instead: `kubectl create secret generic "
                     "... --from-env-file`, and envFrom secretRef)")


def _compose_healthcheck(builder: Builder, check: Mapping[str, Any]) -> None:
    if check.get("disable"):
        return
    test = check.get("test")
    if test is None:
        builder.warn("healthcheck without test: the image's HEALTHCHECK is not known here")
        return
    if isinstance(test, str):
        command = ["sh", "-c", test]
    elif test and test[0] == "NONE":
        return
    elif test and test[0] == "CMD":
        command = [str(t) for t in test[1:]]
    elif test and test[0] == "CMD-SHELL":
        command = ["sh", "-c", " ".join(str(t) for t in test[1:])]
    else:
        raise Refused(f"healthcheck test {test!r} must start with CMD, CMD-SHELL or NONE")
    for key in sorted(set(check) - {"test", "interval", "timeout", "retries",
                                    "start_period", "disable"}):
        builder.warn(f"healthcheck.{key} is not translated")
    builder.set_healthcheck(command, check.get("interval"), check.get("timeout"),
                            check.get("retries"), check.get("start_period"))


def _compose_deploy(builder: Builder, service: Mapping[str, Any]) -> None:
    deploy = service.get("deploy") or {}
    replicas = deploy.get("replicas", service.get("scale"))
    if replicas is not None:
        builder.spec["replicas"] = int(replicas)
    resources = deploy.get("resources") or {}
    for compose_key, app_key in (("limits", "limits"), ("reservations", "requests")):
        section = resources.get(compose_key) or {}
        target: dict[str, Any] = {}
        if "cpus" in section:
            target["cpu"] = cpus(section["cpus"], f"deploy.resources.{compose_key}.cpus")
        if "memory" in section:
            target["memory"] = memory(section["memory"],
                                      f"deploy.resources.{compose_key}.memory")
        for other in sorted(set(section) - {"cpus", "memory"}):
            builder.warn(f"deploy.resources.{compose_key}.{other} is not translated")
        if target:
            builder.spec.setdefault("resources", {})[app_key] = target
    for compose_key, app_key in (("mem_limit", "limits"), ("mem_reservation", "requests")):
        if compose_key in service:
            builder.spec.setdefault("resources", {}).setdefault(app_key, {})["memory"] = (
                memory(service[compose_key], compose_key))
    if "cpus" in service:
        builder.spec.setdefault("resources", {}).setdefault("limits", {})["cpu"] = cpus(
            service["cpus"], "cpus")
    for other in sorted(set(deploy) - {"replicas", "resources"}):
        builder.warn(f"deploy.{other} is not translated")


def resolve_extends(name: str, services: Mapping[str, Any], seen: tuple[str, ...] = ()
                     ) -> dict[str, Any]:
    """A service with `extends: {service: base}` of the same file: the base's keys, then its
    own (Compose merges lists too; here the service's own value wins)."""
    service = dict(services.get(name) or {})
    extends = service.get("extends")
    if not extends:
        return service
    base_name = extends if isinstance(extends, str) else extends.get("service")
    if isinstance(extends, dict) and extends.get("file"):
        raise Refused(f"extends: {extends['file']} is another file; copy the keys of "
                      f"{base_name} into this service")
    if base_name in seen or base_name not in services:
        raise Refused(f"extends: {base_name} is not a service of this file (or a loop)")
    base = resolve_extends(str(base_name), services, (*seen, name))
    base.update({k: v for k, v in service.items() if k != "extends"})
    return base


def compose_service(name: str, service: Mapping[str, Any], project: Project) -> Builder:
    app_name = dns_label(name, "service name")
    image, missing = service_image(app_name, service, project)
    builder = Builder(app_name, image or "unknown", compose=True)
    if missing:
        builder.refuse(missing)
    elif service.get("build"):
        if project.image_prefix is None:
            builder.warn(f"build: ignored; the App runs {image}, so push it to a registry the "
                         "cluster can pull from (or convert with --image-prefix)")
        else:
            if service.get("image"):
                builder.warn(f"image {service['image']}: the App runs {image}, built and "
                             "pushed with the commands given")
            build_command(builder, service["build"], str(image), project)
    host_access(builder, service)
    _compose_ports(builder, service)
    compose_volumes(builder, service, project)
    builder.attempt(_compose_environment, builder, service, project)
    compose_secrets(builder, service, project)
    compose_configs(builder, service, project)
    if "entrypoint" in service and service["entrypoint"] is not None:
        builder.spec["command"] = command_words(service["entrypoint"])
    if "command" in service and service["command"] is not None:
        builder.spec["args"] = command_words(service["command"])
    if "working_dir" in service:
        builder.spec["workingDir"] = service["working_dir"]
    if "user" in service:
        builder.set_user(str(service["user"]), "user")
    if "healthcheck" in service:
        builder.attempt(_compose_healthcheck, builder, service["healthcheck"])
    builder.attempt(_compose_deploy, builder, service)
    if "labels" in service:
        builder.add_labels({k: v or "" for k, v in compose_mapping(service["labels"]).items()})
    pull = service.get("pull_policy")
    if pull in ("always", "missing", "never", "if_not_present"):
        builder.spec["imagePullPolicy"] = {"always": "Always", "never": "Never"}.get(
            str(pull), "IfNotPresent")
    elif pull is not None:
        builder.warn(f"pull_policy {pull}: not translated")
    container_name = service.get("container_name")
    if container_name and container_name not in (name, app_name):
        builder.warn(f"container_name {container_name}: the App is named {app_name} after "
                     f"the service; other Apps reach it as {app_name}, not {container_name}")
    networks = service.get("networks")
    if networks:
        details = [f"{n}: {', '.join(sorted(v))}" for n, v in networks.items()
                   if isinstance(v, dict) and v] if isinstance(networks, dict) else []
        builder.warn("networks: all Apps of a namespace share one network; reach others by "
                     "their App name" + (f" ({'; '.join(details)} not translated)"
                                         if details else ""))
    for other in sorted(set(service) - COMPOSE_TRANSLATED - set(COMPOSE_HOST_ACCESS)):
        if not other.startswith("x-"):
            advice = COMPOSE_ADVICE.get(other)
            builder.warn(f"{other}: not translated" + (f" ({advice})" if advice else ""))
    sidecar = str(service.get("network_mode", "")).startswith("service:")
    if not builder.ports and image and not sidecar:  # a sidecar's: compose_sidecars.py
        known = IMAGE_PORTS.get(image_base(image))
        if known is not None:
            builder.add_port(known)
            builder.warn(f"no ports listed; added {known}, the port of the "
                         f"{image_base(image)} image, so other services reach "
                         f"{app_name}:{known} as they did under Compose")
    return builder

