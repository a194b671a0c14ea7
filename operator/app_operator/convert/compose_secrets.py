"""A service's `secrets:` and `configs:`: files of the App, from a Kubernetes Secret whose
value is never read, or with the config's content inline."""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from typing import Any

from app_operator.convert.builder import Builder
from app_operator.convert.compose_project import Project
from app_operator.convert.mounts import add_file_from
from app_operator.convert.values import dns_label
from app_operator.core import model


def _mode(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def secret_and_config_refs(value: Any) -> Iterator[dict[str, Any]]:
    for entry in value or []:
        yield {"source": entry} if isinstance(entry, str) else dict(entry)


def compose_secrets(builder: Builder, service: Mapping[str, Any], project: Project) -> None:
    """Each secret a service uses becomes a file taken from a Kubernetes Secret, at
    /run/secrets/<name> like under Compose. The value is never read: the command that
    creates the Secret from the same source is given instead."""
    declared = project.document.get("secrets") or {}
    for ref in secret_and_config_refs(service.get("secrets")):
        name = str(ref.get("source", ""))
        definition = declared.get(name)
        if definition is None:
            builder.refuse(f"secrets: {name} is not declared under the top-level secrets:")
            continue
        project.used_secrets.add(name)
        target = str(ref.get("target") or name)
        target = target if target.startswith("/") else f"/run/secrets/{target}"
        secret_name = dns_label(str(definition.get("name") or name), "secret")
        key = name if re.fullmatch(model.CONFIG_KEY_PATTERN, name) else secret_name
        for other in sorted(set(ref) - {"source", "target", "mode"}):
            builder.warn(f"secrets: {name}: {other} is not translated (the file belongs to "
                         "root, readable by the App's user through its mode)")
        builder.attempt(builder.add_file, target, f"secrets: {name}", secret=(secret_name, key),
                        mode=_mode(ref.get("mode")))
        _secret_command(builder, project, name, secret_name, key, definition)


def _secret_command(builder: Builder, project: Project, name: str, secret_name: str, key: str,
                    definition: Mapping[str, Any]) -> None:
    namespace = ["-n", project.namespace] if project.namespace else []
    if definition.get("external"):
        if f"external {secret_name}" not in project.emitted:
            project.emitted.add(f"external {secret_name}")
            builder.warn(f"secret {name} is external: the Secret {secret_name} with the key "
                         f"{key} must exist in the App's namespace")
        return
    if "file" in definition:
        path = str(definition["file"])
        shown = project.files.display(path)
        source = f"--from-file={key}={shown}"
        if project.files.kind(path) != "file":
            builder.warn(f"secret {name}: {shown} does not exist; create it before creating "
                         "the Secret")
    elif "environment" in definition:
        source = f"--from-literal={key}=${definition['environment']}"
    else:
        builder.refuse(f"secret {name} has neither file, environment nor external")
        return
    command = shlex.join(["kubectl", "create", "secret", "generic", secret_name, source,
                          *namespace])
    if "environment" in definition:  # leave the variable to the shell
        command = command.replace(f"'{source}'", f'"{source}"')
    if command not in project.emitted:
        builder.warn(f"secret {name}: its value is not written into the App; the file "
                     f"comes from the Secret {secret_name}, which you create with: {command}")
    project.command_once(builder, command)


def compose_configs(builder: Builder, service: Mapping[str, Any], project: Project) -> None:
    """Each config a service uses becomes a file with its content inline (read from the
    project's file, or the config's `content` or variable)."""
    declared = project.document.get("configs") or {}
    for ref in secret_and_config_refs(service.get("configs")):
        name = str(ref.get("source", ""))
        definition = declared.get(name)
        origin = f"configs: {name}"
        if definition is None:
            builder.refuse(f"{origin} is not declared under the top-level configs:")
            continue
        project.used_configs.add(name)
        target = str(ref.get("target") or f"/{name}")
        target = target if target.startswith("/") else f"/{target}"
        for other in sorted(set(ref) - {"source", "target", "mode"}):
            builder.warn(f"{origin}: {other} is not translated")
        mode = _mode(ref.get("mode"))
        if definition.get("external"):
            config_map = dns_label(str(definition.get("name") or name), "config")
            builder.warn(f"{origin} is external: the ConfigMap {config_map} with the key "
                         f"{name} must exist in the App's namespace")
            builder.attempt(builder.add_file, target, origin, config_map=(config_map, name),
                            mode=mode)
        elif "file" in definition:
            path = posixpath.normpath(str(definition["file"]))
            shown = project.files.display(path)
            if project.files.kind(path) != "file":
                builder.refuse(f"{origin}: {shown} is not a file (Compose reads the config "
                               "from it)")
                continue
            builder.attempt(add_file_from, builder, path, shown, target, True, origin,
                            project.files)
            if mode is not None and builder.files and builder.files[-1]["mountPath"] == target:
                builder.files[-1]["mode"] = mode
        elif "content" in definition:
            builder.attempt(builder.add_file, target, origin,
                            content=str(definition["content"]), mode=mode)
        elif "environment" in definition:
            variable = str(definition["environment"])
            value = project.environ.get(variable)
            if value is None:
                builder.refuse(f"{origin}: variable {variable} is not set")
                continue
            builder.attempt(builder.add_file, target, origin, content=value, mode=mode)
        else:
            builder.refuse(f"{origin} has neither file, content, environment nor external")

