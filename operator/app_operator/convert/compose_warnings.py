"""Which service keys are translated, which give host access (refused), and what is said
about every other key and about the file's top level."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app_operator.convert.builder import Builder, add_capabilities, refuse_host_access
from app_operator.convert.compose_project import Project

# Service keys, each translated, accepted as meaningless on Kubernetes, or refused.
COMPOSE_TRANSLATED = {
    "image", "build", "ports", "expose", "volumes", "environment", "env_file", "command",
    "entrypoint", "working_dir", "user", "deploy", "scale", "healthcheck", "restart",
    "labels", "mem_limit", "mem_reservation", "cpus", "pull_policy", "container_name",
    "depends_on", "networks", "secrets", "configs", "stdin_open", "tty", "extends",
    "profiles",
}
COMPOSE_HOST_ACCESS = ("privileged", "cap_add", "devices", "device_cgroup_rules", "pid", "ipc",
                       "network_mode", "userns_mode", "uts", "cgroup", "volumes_from",
                       "use_api_socket")
COMPOSE_ADVICE = {
    "hostname": "pods are named by Kubernetes; other Apps reach this one by its App name",
    "init": "the image's own PID 1 is used",
    "stop_signal": "Kubernetes stops containers with SIGTERM",
    "stop_grace_period": "set terminationGracePeriodSeconds by hand if 30 s is too short",
    "links": "Apps reach each other by their App names",
    "external_links": "Apps reach each other by their App names",
    "extra_hosts": "use a Service or DNS name instead",
    "tmpfs": "an App's volumes are persistent; the image's own directory is used",
    "platform": "the nodes' architecture decides",
    "logging": "kubectl logs reads stdout and stderr",
    "security_opt": "see spec.securityProfile",
    "cap_drop": "securityProfile restricted drops every capability",
    "read_only": "the root filesystem stays writable",
    "runtime": "an App runs on the cluster's default container runtime; an image made for "
               "another runtime (such as WebAssembly) will not start there",
    "sysctls": "an App cannot set kernel parameters",
    "ulimits": "the node's limits apply",
    "dns": "pods use the cluster's DNS",
    "gpus": "an App cannot request GPUs",
    "develop": "Compose Watch is for local development",
    "post_start": "an App has no lifecycle hooks",
    "pre_stop": "an App has no lifecycle hooks",
    "annotations": "use spec.podAnnotations",
    "shm_size": "/dev/shm keeps the runtime's default size",
}


def host_access(builder: Builder, service: Mapping[str, Any]) -> None:
    for key in COMPOSE_HOST_ACCESS:
        value = service.get(key)
        if value in (None, False, [], ""):
            continue
        if key in ("pid", "ipc", "userns_mode", "uts", "cgroup") and value != "host":
            builder.warn(f"{key} {value}: not translated")
            continue
        if key == "network_mode" and str(value).startswith("service:"):
            continue  # a sidecar of that service's App: compose_sidecars.py
        if key == "network_mode" and str(value).startswith("container:"):
            builder.refuse(_shared_network(str(value)))
            continue
        if key == "network_mode" and value != "host":
            builder.warn(f"network_mode {value}: not translated (Apps share the cluster "
                         "network)")
            continue
        if key == "cap_add":
            builder.attempt(add_capabilities, builder, key,
                            value if isinstance(value, list) else [value])
            continue
        builder.attempt(refuse_host_access, key, value)



def _shared_network(value: str) -> str:
    """network_mode container:X is no host access: the container joins the network of a
    container outside the project, which an App cannot name."""
    other = value.partition(":")[2]
    return (f"network_mode {value}: the container shares the network of the container "
            f"{other}, which is not a service of this file; an App can share a network only "
            "with a service of the same file: make it one and use network_mode "
            f"\"service:NAME\" (the service becomes a sidecar of NAME's App), or remove "
            "network_mode and reach it by name")


def top_level_warnings(project: Project, warnings: list[str], shared_claims: bool) -> None:
    document = project.document
    if document.get("name"):
        warnings.append(f"name {document['name']}: not used (each App is named after its "
                        "service)" + (", but in the names of the claims services share"
                                      if shared_claims else ""))
    for entry in document.get("include") or []:
        paths = entry if isinstance(entry, str) else (entry.get("path") if isinstance(
            entry, dict) else entry)
        warnings.append(f"include {paths}: not read; convert that file on its own too")
    for name, network in (document.get("networks") or {}).items():
        if network:
            warnings.append(f"networks: {name}: {', '.join(sorted(network))} not translated "
                            "(all Apps of a namespace share one network)")
    for name, volume in (document.get("volumes") or {}).items():
        if volume:
            warnings.append(f"volumes: {name}: {', '.join(sorted(volume))} not translated "
                            "(each volume becomes a PersistentVolumeClaim of the cluster's "
                            "default StorageClass)")
    for name in document.get("secrets") or {}:
        if name not in project.used_secrets:
            warnings.append(f"secrets: {name} is used by no service; left out")
    for name in document.get("configs") or {}:
        if name not in project.used_configs:
            warnings.append(f"configs: {name} is used by no service; left out")
    for key in sorted(set(document) - {"version", "name", "include", "services", "networks",
                                       "volumes", "secrets", "configs"}):
        if not key.startswith("x-"):
            warnings.append(f"{key}: not translated")

