"""From `docker run` lines and compose files to App resources.

Pure: the caller passes file contents and the environment in. Whatever cannot be translated
is reported as a warning (never silently dropped); whatever an App must never do (bind mounts,
host paths, privileged mode, host namespaces, devices) refuses the conversion. Every App
produced is validated by the model (AppSpec) before it is returned.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from app_operator import model
from app_operator.model import AppSpec

# Well-known ports of images that compose files usually reach by service name without
# listing them, so that the converted App still gets a Service other Apps can reach.
IMAGE_PORTS = {
    "postgres": 5432, "postgis/postgis": 5432, "mysql": 3306, "mariadb": 3306,
    "redis": 6379, "valkey/valkey": 6379, "mongo": 27017, "memcached": 11211,
    "rabbitmq": 5672, "elasticsearch": 9200, "nginx": 80, "httpd": 80, "wordpress": 80,
    "nextcloud": 80, "php": 80, "adminer": 8080, "phpmyadmin": 80, "minio/minio": 9000,
}
PORT_NAMES = {80: "http", 443: "https", 5432: "postgres", 3306: "mysql", 6379: "redis",
              27017: "mongodb", 11211: "memcached", 5672: "amqp", 9200: "http", 53: "dns"}
HTTP_PORTS = {3000, 5000, 8000, 8080, 8081, 8888, 9000}
NODE_PORT_RANGE = range(30000, 32768)


class Refused(Exception):
    """The input cannot become an App; the message says why and what to do instead."""


@dataclass
class Conversion:
    """An App manifest and what could not be carried over."""

    app: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers

def dns_label(text: str, what: str) -> str:
    """A name Kubernetes accepts (lowercase letters, digits, '-'; starts with a letter)."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    name = re.sub(r"-{2,}", "-", name)
    if name and not name[0].isalpha():
        name = f"app-{name}"
    name = name[:63].rstrip("-")
    if not name:
        raise Refused(f"cannot make a Kubernetes name out of {what} {text!r}")
    return name


def name_from_image(image: str) -> str:
    repository = image.split("@", 1)[0]
    last = repository.rsplit("/", 1)[-1]
    return dns_label(last.split(":", 1)[0], "image")


def image_base(image: str) -> str:
    """`docker.io/library/postgres:16` -> `postgres`; `minio/minio:latest` -> `minio/minio`."""
    parts = image.split("@", 1)[0].split("/")
    parts[-1] = parts[-1].split(":", 1)[0]
    if len(parts) > 1 and ("." in parts[0] or ":" in parts[0] or parts[0] == "localhost"):
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "library":
        parts = parts[1:]
    return "/".join(parts)


DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|m|s|us|ns)")


def seconds(text: str | int | float, what: str) -> int:
    """Docker durations ("1m30s", "10s", "500ms") in whole seconds, at least 1."""
    if isinstance(text, int | float):
        return max(1, int(text))
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001, "us": 1e-6, "ns": 1e-9}
    parts = DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise Refused(f"{what}: {text!r} is not a duration (examples: 30s, 1m30s)")
    return max(1, round(sum(float(n) * units[u] for n, u in parts)))


def memory(text: str | int, what: str) -> str | int:
    """Docker memory sizes (b, k, m, g; binary) as Kubernetes quantities."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?", text.strip().lower())
    if not match:
        raise Refused(f"{what}: {text!r} is not a memory size (examples: 512m, 1g)")
    number, unit = match.groups()
    suffix = {"": "", "b": "", "k": "Ki", "m": "Mi", "g": "Gi", "t": "Ti"}[unit]
    return f"{number}{suffix}"


def cpus(text: str | int | float, what: str) -> str:
    try:
        value = float(text)
    except ValueError as error:
        raise Refused(f"{what}: {text!r} is not a number of CPUs (example: 1.5)") from error
    return f"{round(value * 1000)}m"


def parse_env_file(text: str, source: str, warnings: list[str]) -> list[dict[str, str]]:
    env = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].strip()
        key, sep, value = line.partition("=")
        if not sep:
            warnings.append(f"{source}:{number}: {key!r} has no value; left out")
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        env.append({"name": key.strip(), "value": value})
    return env


class Builder:
    """Collects the pieces of one App and the warnings about it."""

    def __init__(self, name: str, image: str) -> None:
        self.name = name
        self.spec: dict[str, Any] = {"image": image}
        self.warnings: list[str] = []
        self.ports: list[dict[str, Any]] = []
        self.volumes: list[dict[str, Any]] = []
        self.env: dict[str, dict[str, Any]] = {}
        self.node_ports = False

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.name}: {message}")

    def add_env(self, name: str, value: str | None, source: str) -> None:
        if value is None:
            self.warn(f"{source} {name} has no value here (Docker takes it from your shell); "
                      "left out: set it in spec.env")
            return
        self.env[name] = {"name": name, "value": value}

    def add_port(self, container: int, protocol: str = "TCP", host: int | None = None,
                 host_ip: str | None = None, source: str = "") -> None:
        protocol = protocol.upper()
        if any(p["containerPort"] == container and p["protocol"] == protocol
               for p in self.ports):
            return
        port: dict[str, Any] = {"name": self._port_name(container, protocol),
                                "containerPort": container}
        if protocol != "TCP":
            port["protocol"] = protocol
        if host is not None and host in NODE_PORT_RANGE:
            port["nodePort"] = host
            self.node_ports = True
        elif host is not None and host != container:
            self.warn(f"{source or 'port'}: host port {host} has no in-cluster equivalent; "
                      f"the Service listens on {container}. From outside the cluster use "
                      f"`kubectl port-forward svc/{self.name} {host}:{container}`, or a "
                      "nodePort (30000-32767) with service.type NodePort")
        if host_ip:
            self.warn(f"{source or 'port'}: host address {host_ip} is not translated")
        self.ports.append(port)

    def _port_name(self, number: int, protocol: str) -> str:
        taken = {p["name"] for p in self.ports}
        candidates = []
        if protocol == "TCP":
            if number in PORT_NAMES:
                candidates.append(PORT_NAMES[number])
            if number in HTTP_PORTS:
                candidates.append("http")
        candidates.append(f"{protocol.lower()}-{number}")
        for candidate in candidates:
            if candidate not in taken:
                return candidate
        return f"{protocol.lower()}-{number}-{len(self.ports)}"

    def add_volume(self, source: str | None, target: str, read_only: bool, origin: str) -> None:
        if not target.startswith("/"):
            raise Refused(f"{self.name}: {origin}: mount target {target!r} is not an absolute "
                          "path")
        if source is None:
            volume_name = dns_label(target.strip("/") or "root", "mount path")
            self.warn(f"{origin}: anonymous volume at {target} becomes the persistent "
                      f"volume {volume_name!r}")
        elif source.startswith(("/", ".", "~")) or "/" in source or "\\" in source:
            raise Refused(
                f"{self.name}: {origin}: {source!r} is a bind mount of a host path; an App "
                "cannot mount the host's files. Use a named volume (and copy the data into "
                "it) or build the files into the image")
        else:
            volume_name = dns_label(source, "volume")
        if any(v["mountPath"] == target for v in self.volumes):
            self.warn(f"{origin}: {target} is mounted twice; the second mount is left out")
            return
        volume: dict[str, Any] = {"name": volume_name, "mountPath": target}
        if read_only:
            volume["readOnly"] = True
        self.volumes.append(volume)

    def set_healthcheck(self, command: list[str], interval: Any = None, timeout: Any = None,
                        retries: Any = None, start_period: Any = None) -> None:
        probe: dict[str, Any] = {"exec": {"command": command}}
        if interval is not None:
            probe["periodSeconds"] = seconds(interval, "health interval")
        if timeout is not None:
            probe["timeoutSeconds"] = seconds(timeout, "health timeout")
        if retries is not None:
            probe["failureThreshold"] = max(1, int(retries))
        if start_period is not None:
            probe["initialDelaySeconds"] = seconds(start_period, "health start period")
        # Docker marks an unhealthy container and takes it out of service; it restarts it
        # only under Swarm. The closest App equivalent is a readiness check.
        self.spec.setdefault("probes", {})["readiness"] = probe

    def set_user(self, user: str, origin: str) -> None:
        uid, _, gid = str(user).partition(":")
        if uid.isdigit():
            self.spec["runAsUser"] = int(uid)
        else:
            self.warn(f"{origin} {user!r}: Kubernetes needs numeric IDs; set spec.runAsUser to "
                      f"the UID of {uid!r} in the image")
        if gid.isdigit():
            self.spec["runAsGroup"] = int(gid)
        elif gid:
            self.warn(f"{origin} {user!r}: group {gid!r} is not numeric; left out")

    def add_labels(self, labels: Mapping[str, Any]) -> None:
        for key, value in labels.items():
            text = "" if value is None else str(value)
            valid_key = re.fullmatch(r"([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}"
                                     r"[A-Za-z0-9])?", key)
            valid_value = re.fullmatch(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?",
                                       text)
            if valid_key and valid_value and key not in model.SELECTOR_LABELS:
                self.spec.setdefault("podLabels", {})[key] = text
            else:
                self.spec.setdefault("podAnnotations", {})[key] = text

    def build(self, namespace: str | None) -> Conversion:
        if self.env:
            self.spec["env"] = list(self.env.values())
        if self.ports:
            self.spec["ports"] = self.ports
            if self.node_ports:
                self.spec["service"] = {"type": "NodePort"}
        if self.volumes:
            self.spec["volumes"] = self.volumes
            if self.spec.get("replicas", 1) > 1:
                for volume in self.volumes:
                    volume["accessMode"] = "ReadWriteMany"
                self.warn("several replicas share the volumes: they are ReadWriteMany, which "
                          "needs a StorageClass that supports it")
        try:
            AppSpec.model_validate(self.spec)
        except ValidationError as error:
            raise Refused(f"{self.name}: the result is not a valid App: {error}") from error
        order = [info.alias or key for key, info in AppSpec.model_fields.items()]
        self.spec = {key: self.spec[key] for key in sorted(self.spec, key=order.index)}
        metadata: dict[str, Any] = {"name": self.name}
        if namespace:
            metadata["namespace"] = namespace
        app = {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": metadata,
               "spec": self.spec}
        return Conversion(app=app, warnings=self.warnings)


def refuse_host_access(name: str, what: str, value: Any) -> None:
    raise Refused(f"{name}: {what}{'' if value in (None, True) else '=' + str(value)} gives the "
                  "container access to the host; an App can never do that")


# --------------------------------------------------------------------------- docker run

@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]
    takes_value: bool
    handle: Callable[[Builder, str, RunContext], None] | None = None
    note: str = ""  # for flags that are accepted but not translated


@dataclass
class RunContext:
    read_file: Callable[[str], str]
    environ: Mapping[str, str]
    health: dict[str, str] = field(default_factory=dict)
    entrypoint: str | None = None
    name: str | None = None


PUBLISH = re.compile(r"^(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+):)?(?P<host>\d+(?:-\d+)?)?:)?"
                     r"(?P<container>\d+(?:-\d+)?)(?:/(?P<proto>tcp|udp|sctp))?$")


def _port_range(text: str) -> list[int]:
    start, _, end = text.partition("-")
    numbers = list(range(int(start), int(end or start) + 1))
    if len(numbers) > 16:
        raise Refused(f"port range {text} has {len(numbers)} ports; list at most 16")
    return numbers


def publish(builder: Builder, value: str, origin: str) -> None:
    match = PUBLISH.match(value)
    if not match:
        raise Refused(f"{builder.name}: {origin} {value!r} is not a port mapping "
                      "(examples: 8080:80, 80, 53:53/udp)")
    containers = _port_range(match["container"])
    hosts = _port_range(match["host"]) if match["host"] else [None] * len(containers)
    if len(hosts) != len(containers):
        raise Refused(f"{builder.name}: {origin} {value!r}: host and container ranges differ")
    for host, container in zip(hosts, containers, strict=True):
        if host == 0:
            host = None
        builder.add_port(container, match["proto"] or "tcp", host, match["ip"],
                         f"{origin} {value}")


def _expose(builder: Builder, value: str) -> None:
    number, _, protocol = value.partition("/")
    for port in _port_range(number):
        builder.add_port(port, protocol or "tcp")


def split_volume(builder: Builder, value: str, origin: str) -> tuple[str | None, str, bool]:
    """`[source:]target[:options]`, the short volume syntax of `docker run -v` and of
    compose: (source or None for an anonymous volume, target, read-only)."""
    parts = value.split(":")
    options: set[str] = set()
    if len(parts) >= 2 and "/" not in parts[-1] and parts[-1]:
        options = set(parts[-1].split(","))
        parts = parts[:-1]
    if len(parts) > 2:
        raise Refused(f"{builder.name}: {origin} {value!r} is not name:/path[:options]")
    for option in options - {"ro", "rw"}:
        builder.warn(f"{origin} {value}: option {option!r} is not translated")
    source = parts[0] if len(parts) == 2 else None
    return source, parts[-1], "ro" in options


def _volume_flag(builder: Builder, value: str, _: RunContext) -> None:
    source, target, read_only = split_volume(builder, value, "-v")
    builder.add_volume(source, target, read_only, f"-v {value}")


def _mount_flag(builder: Builder, value: str, _: RunContext) -> None:
    fields: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        fields[key.strip()] = val.strip() if sep else "true"
    kind = fields.get("type", "volume")
    source = fields.get("source") or fields.get("src")
    target = fields.get("target") or fields.get("destination") or fields.get("dst")
    read_only = fields.get("readonly", fields.get("ro", "false")) in ("true", "1")
    if kind == "bind":
        raise Refused(f"{builder.name}: --mount {value}: a bind mount of a host path; an App "
                      "cannot mount the host's files. Use a named volume or build the files "
                      "into the image")
    if kind == "tmpfs":
        builder.warn(f"--mount {value}: tmpfs mounts are not translated (an App's volumes "
                     "are persistent); the image's own directory is used instead")
        return
    if kind != "volume":
        raise Refused(f"{builder.name}: --mount type={kind} cannot become an App volume")
    if not target:
        raise Refused(f"{builder.name}: --mount {value!r} has no target")
    builder.add_volume(source, target, read_only, f"--mount {value}")


def _env_flag(builder: Builder, value: str, context: RunContext) -> None:
    key, sep, val = value.partition("=")
    builder.add_env(key, val if sep else context.environ.get(key), "-e")


def _env_file_flag(builder: Builder, value: str, context: RunContext) -> None:
    try:
        text = context.read_file(value)
    except OSError as error:
        raise Refused(f"{builder.name}: --env-file {value}: {error.strerror or error}") from error
    for entry in parse_env_file(text, value, builder.warnings):
        builder.env[entry["name"]] = entry
    builder.warn(f"--env-file {value}: its values are written into the App; keep passwords "
                 "in a Secret and use envFrom or valueFrom.secretKeyRef instead")


def _restart_flag(builder: Builder, value: str, _: RunContext) -> None:
    if value.split(":")[0] not in ("always", "unless-stopped"):
        builder.warn(f"--restart {value}: an App's containers are always restarted")


def _pull_flag(builder: Builder, value: str, _: RunContext) -> None:
    policies = {"always": "Always", "missing": "IfNotPresent", "never": "Never"}
    if value not in policies:
        raise Refused(f"{builder.name}: --pull {value!r} is not always, missing or never")
    builder.spec["imagePullPolicy"] = policies[value]


def _labels_flag(builder: Builder, value: str, _: RunContext) -> None:
    key, _sep, val = value.partition("=")
    builder.add_labels({key: val})


def _set(key: str, convert: Callable[[str], Any] = str) -> Callable[[Builder, str, RunContext],
                                                                     None]:
    def handle(builder: Builder, value: str, _: RunContext) -> None:
        builder.spec[key] = convert(value)
    return handle


def _resource(kind: str, key: str, convert: Callable[[str, str], Any]) -> Callable[
        [Builder, str, RunContext], None]:
    def handle(builder: Builder, value: str, _: RunContext) -> None:
        resources = builder.spec.setdefault("resources", {}).setdefault(kind, {})
        resources[key] = convert(value, f"--{key}")
    return handle


def _health(key: str) -> Callable[[Builder, str, RunContext], None]:
    def handle(_: Builder, value: str, context: RunContext) -> None:
        context.health[key] = value
    return handle


def _host_flag(what: str, allowed: Callable[[str], bool] | None = None) -> Callable[
        [Builder, str, RunContext], None]:
    def handle(builder: Builder, value: str, _: RunContext) -> None:
        if allowed is not None and allowed(value):
            builder.warn(f"{what} {value}: not translated (Apps share the cluster network)")
            return
        refuse_host_access(builder.name, what, value)
    return handle


def _entrypoint(_: Builder, value: str, context: RunContext) -> None:
    context.entrypoint = value


def _name(_: Builder, value: str, context: RunContext) -> None:
    context.name = value


def _not_host(value: str) -> bool:
    return value != "host"


RUN_FLAGS = [
    Flag(("-p", "--publish"), True, lambda b, v, _: publish(b, v, "-p")),
    Flag(("--expose",), True, lambda b, v, _: _expose(b, v)),
    Flag(("-v", "--volume"), True, _volume_flag),
    Flag(("--mount",), True, _mount_flag),
    Flag(("-e", "--env"), True, _env_flag),
    Flag(("--env-file",), True, _env_file_flag),
    Flag(("--name",), True, _name),
    Flag(("--entrypoint",), True, _entrypoint),
    Flag(("-w", "--workdir"), True, _set("workingDir")),
    Flag(("-u", "--user"), True, lambda b, v, _: b.set_user(v, "--user")),
    Flag(("--restart",), True, _restart_flag),
    Flag(("-m", "--memory"), True, _resource("limits", "memory", memory)),
    Flag(("--memory-reservation",), True, _resource("requests", "memory", memory)),
    Flag(("--cpus",), True, _resource("limits", "cpu", cpus)),
    Flag(("--health-cmd",), True, _health("cmd")),
    Flag(("--health-interval",), True, _health("interval")),
    Flag(("--health-timeout",), True, _health("timeout")),
    Flag(("--health-retries",), True, _health("retries")),
    Flag(("--health-start-period",), True, _health("start_period")),
    Flag(("--no-healthcheck",), False, note="accepted"),
    Flag(("--pull",), True, _pull_flag),
    Flag(("-l", "--label"), True, _labels_flag),
    Flag(("-d", "--detach"), False, note="accepted"),
    Flag(("-i", "--interactive"), False, note="accepted"),
    Flag(("-t", "--tty"), False, note="accepted"),
    Flag(("--rm",), False, note="accepted"),
    Flag(("--init",), False, note="not translated (the image's own PID 1 is used)"),
    Flag(("--read-only",), False, note="not translated (the root filesystem stays writable)"),
    Flag(("--privileged",), False, lambda b, v, _: refuse_host_access(b.name, "--privileged",
                                                                      None)),
    Flag(("--cap-add",), True, lambda b, v, _: refuse_host_access(b.name, "--cap-add", v)),
    Flag(("--device",), True, lambda b, v, _: refuse_host_access(b.name, "--device", v)),
    Flag(("--pid",), True, _host_flag("--pid", _not_host)),
    Flag(("--ipc",), True, _host_flag("--ipc", _not_host)),
    Flag(("--uts",), True, _host_flag("--uts", _not_host)),
    Flag(("--userns",), True, _host_flag("--userns", _not_host)),
    Flag(("--net", "--network"), True, _host_flag("--network", _not_host)),
    Flag(("--cap-drop",), True, note="not translated (securityProfile restricted drops all)"),
    Flag(("-h", "--hostname"), True, note="not translated (pods are named by Kubernetes)"),
    Flag(("--add-host",), True, note="not translated"),
    Flag(("--dns",), True, note="not translated"),
    Flag(("--log-driver",), True, note="not translated (kubectl logs reads stdout)"),
    Flag(("--log-opt",), True, note="not translated"),
    Flag(("--platform",), True, note="not translated"),
    Flag(("--shm-size",), True, note="not translated"),
    Flag(("--ulimit",), True, note="not translated"),
    Flag(("--stop-signal",), True, note="not translated"),
    Flag(("--stop-timeout",), True, note="not translated"),
    Flag(("--security-opt",), True, note="not translated (see securityProfile)"),
    Flag(("--sysctl",), True, note="not translated"),
    Flag(("--tmpfs",), True, note="not translated (an App's volumes are persistent)"),
    Flag(("--link",), True, note="not translated (Apps reach each other by Service name)"),
    Flag(("--gpus",), True, note="not translated"),
]
FLAGS = {name: flag for flag in RUN_FLAGS for name in flag.names}


def _split_docker_run(argv: list[str]) -> list[str]:
    words = list(argv)
    if words and words[0] in ("docker", "podman", "sudo"):
        while words and words[0] in ("sudo", "docker", "podman"):
            words.pop(0)
        if words[:2] == ["container", "run"]:
            words = words[1:]
        if not words or words[0] != "run":
            raise Refused("expected a `docker run ...` command")
        words.pop(0)
    elif words and words[0] == "run":
        words.pop(0)
    return words


def convert_run(argv: list[str], *, namespace: str | None = None,
                read_file: Callable[[str], str] | None = None,
                environ: Mapping[str, str] | None = None) -> Conversion:
    """`docker run [flags] IMAGE [args...]` (the words, as a shell splits them) as an App."""
    words = _split_docker_run(argv)
    context = RunContext(read_file=read_file or _no_files, environ=environ or {})
    pending: list[tuple[Flag, str, str]] = []
    notes: list[str] = []
    index = 0
    image: str | None = None
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            continue
        if not word.startswith("-") or word == "-":
            image = word
            break
        name, value = word, None
        if word.startswith("--") and "=" in word:
            name, value = word.split("=", 1)
        elif not word.startswith("--") and len(word) > 2:
            # -it, -dit, or -p8080:80: a run of boolean flags, maybe ending in a valued one
            for position, letter in enumerate(word[1:], 1):
                flag = FLAGS.get(f"-{letter}")
                if flag is None:
                    notes.append(f"-{letter}: unknown flag, not translated")
                    continue
                if flag.takes_value:
                    rest = word[position + 1:]
                    if not rest:
                        if index >= len(words):
                            raise Refused(f"-{letter} needs a value")
                        rest = words[index]
                        index += 1
                    pending.append((flag, f"-{letter}", rest))
                    break
                pending.append((flag, f"-{letter}", ""))
            continue
        flag = FLAGS.get(name)
        if flag is None:
            notes.append(f"{name}: unknown flag, not translated"
                         + (f" (its value {value!r} too)" if value else ""))
            continue
        if flag.takes_value and value is None:
            if index >= len(words):
                raise Refused(f"{name} needs a value")
            value = words[index]
            index += 1
        pending.append((flag, name, value or ""))
    if image is None:
        raise Refused("no image: `docker run [options] IMAGE [command...]`")
    for flag, name, value in pending:
        if flag.handle is None and flag.note != "accepted":
            notes.append(f"{name}{' ' + value if value else ''}: {flag.note}")
        if flag.handle is _name:
            context.name = value
    app_name = dns_label(context.name, "--name") if context.name else name_from_image(image)
    builder = Builder(app_name, image)
    builder.warnings.extend(f"{app_name}: {note}" for note in notes)
    for flag, _, value in pending:
        if flag.handle is not None and flag.handle is not _name:
            flag.handle(builder, value, context)
    args = words[index:]
    if context.entrypoint is not None:
        builder.spec["command"] = [context.entrypoint]
    if args:
        builder.spec["args"] = args
    if "cmd" in context.health:
        builder.set_healthcheck(["sh", "-c", context.health["cmd"]],
                                context.health.get("interval"), context.health.get("timeout"),
                                context.health.get("retries"),
                                context.health.get("start_period"))
    elif context.health:
        builder.warn("--health-* timings without --health-cmd: the image's HEALTHCHECK is "
                     "not known here; not translated")
    return builder.build(namespace)


def _no_files(path: str) -> str:
    raise OSError(2, "reading files is not allowed here", path)


# --------------------------------------------------------------------------- compose

INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_]"
                           r"[A-Za-z0-9_]*))")


def interpolate(value: Any, environ: Mapping[str, str], warnings: list[str]) -> Any:
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error} and $$ in strings."""
    if isinstance(value, dict):
        return {k: interpolate(v, environ, warnings) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, environ, warnings) for v in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        expression = match["braced"] if match["braced"] is not None else match["named"]
        for operator in (":-", "-", ":?", "?", ":+", "+"):
            if operator in expression:
                name, default = expression.split(operator, 1)
                break
        else:
            name, operator, default = expression, "", ""
        current = environ.get(name)
        empty = current is None or (current == "" and operator.startswith(":"))
        if operator in (":-", "-"):
            return default if empty else str(current)
        if operator in (":?", "?"):
            if empty:
                raise Refused(f"variable {name} is required: {default or 'not set'}")
            return str(current)
        if operator in (":+", "+"):
            return "" if empty else default
        if current is None:
            warnings.append(f"variable {name} is not set; an empty string is used")
            return ""
        return current

    return INTERPOLATION.sub(replace, value)


def _describe_schema_error(error: Any) -> str:
    """jsonschema's message, made precise: the deepest failing alternative of an anyOf, and
    the unknown keys themselves for additionalProperties."""
    import jsonschema

    if error.context:
        error = jsonschema.exceptions.best_match(error.context)
    where = ".".join(str(p) for p in error.absolute_path) or "(top level)"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = error.schema.get("properties", {})
        patterns = error.schema.get("patternProperties", {})
        unknown = [key for key in error.instance if key not in known
                   and not any(re.search(p, key) for p in patterns)]
        return f"{where}: unknown key {', '.join(map(repr, unknown))} (a typo?)"
    return f"{where}: {error.message}"


def _validate_compose(document: Any, schema: Mapping[str, Any]) -> None:
    import jsonschema  # only the compose converter needs it

    validator = jsonschema.Draft201909Validator(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_describe_schema_error(error)}" for error in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise Refused("the file does not follow the Compose specification:\n"
                      + "\n".join(lines) + more)


def _command(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _compose_ports(builder: Builder, service: Mapping[str, Any]) -> None:
    for entry in service.get("ports") or []:
        if isinstance(entry, dict):
            target = int(entry["target"])
            published = entry.get("published")
            host = int(str(published).split("-")[0]) if published not in (None, "") else None
            builder.add_port(target, entry.get("protocol", "tcp"), host, entry.get("host_ip"),
                             f"ports {entry}")
        else:
            publish(builder, str(entry), "ports")
    for entry in service.get("expose") or []:
        _expose(builder, str(entry))


def _compose_volumes(builder: Builder, service: Mapping[str, Any],
                     declared: Mapping[str, Any]) -> None:
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            kind = entry.get("type", "volume")
            source = entry.get("source")
            if kind == "tmpfs":
                builder.warn(f"volumes: tmpfs at {entry.get('target')} is not translated")
                continue
            if kind not in ("volume", "bind"):
                raise Refused(f"{builder.name}: volumes: type {kind} cannot become an App volume")
            if kind == "bind":
                raise Refused(f"{builder.name}: volumes: {source} is a bind mount of a host "
                              "path; an App cannot mount the host's files. Use a named volume "
                              "or build the files into the image")
            builder.add_volume(source, entry["target"], bool(entry.get("read_only")),
                               f"volumes: {entry}")
            continue
        text = str(entry)
        source, target, read_only = split_volume(builder, text, "volumes:")
        if source is not None and not source.startswith((".", "/", "~")) and (
                source not in declared):
            builder.warn(f"volumes: {source} is not declared under the top-level volumes:")
        builder.add_volume(source, target, read_only, f"volumes: {text}")


def _compose_environment(builder: Builder, service: Mapping[str, Any],
                         environ: Mapping[str, str], read_file: Callable[[str], str]) -> None:
    env_files = service.get("env_file") or []
    for entry in [env_files] if isinstance(env_files, str | dict) else env_files:
        path = entry["path"] if isinstance(entry, dict) else str(entry)
        required = entry.get("required", True) if isinstance(entry, dict) else True
        try:
            text = read_file(path)
        except OSError as error:
            if not required:
                continue
            raise Refused(f"{builder.name}: env_file {path}: {error.strerror or error}") from error
        for item in parse_env_file(text, path, builder.warnings):
            builder.env[item["name"]] = item
        builder.warn(f"env_file {path}: its values are written into the App; keep passwords "
                     "in a Secret and use envFrom or valueFrom.secretKeyRef instead")
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        for item in environment:
            key, sep, value = str(item).partition("=")
            builder.add_env(key, value if sep else environ.get(key), "environment")
    else:
        for key, value in environment.items():
            if value is None:
                builder.add_env(key, environ.get(key), "environment")
            else:
                builder.add_env(key, str(value).lower() if isinstance(value, bool)
                                else str(value), "environment")


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
        raise Refused(f"{builder.name}: healthcheck test {test!r} must start with CMD, "
                      "CMD-SHELL or NONE")
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
        for other in set(section) - {"cpus", "memory"}:
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
    for other in set(deploy) - {"replicas", "resources"}:
        builder.warn(f"deploy.{other} is not translated")


COMPOSE_HANDLED = {
    "image", "build", "ports", "expose", "volumes", "environment", "env_file", "command",
    "entrypoint", "working_dir", "user", "deploy", "scale", "healthcheck", "restart",
    "labels", "mem_limit", "mem_reservation", "cpus", "pull_policy", "container_name",
    "depends_on", "networks", "stdin_open", "tty", "init", "hostname",
}
COMPOSE_HOST_ACCESS = ("privileged", "cap_add", "devices", "pid", "ipc", "network_mode",
                       "userns_mode", "volumes_from")


def _compose_service(name: str, service: Mapping[str, Any], declared: Mapping[str, Any],
                     environ: Mapping[str, str], read_file: Callable[[str], str],
                     namespace: str | None) -> Conversion:
    app_name = dns_label(name, "service name")
    image = service.get("image")
    if not image:
        build = service.get("build")
        context = build if isinstance(build, str) else (build or {}).get("context", ".")
        dockerfile = "Dockerfile" if isinstance(build, str) else (build or {}).get(
            "dockerfile", "Dockerfile")
        raise Refused(
            f"{name}: has only `build:` ({context}/{dockerfile}); an App runs an image from a "
            f"registry. Build and push it first, e.g. `docker build -t REGISTRY/{app_name}:v1 "
            f"-f {context}/{dockerfile} {context} && docker push REGISTRY/{app_name}:v1`, then "
            "add `image: REGISTRY/...` to the service")
    builder = Builder(app_name, str(image))
    for key in COMPOSE_HOST_ACCESS:
        value = service.get(key)
        if value in (None, False, [], "") or (key in ("pid", "ipc", "network_mode",
                                                        "userns_mode") and value != "host"
                                              and not str(value).startswith("service:")):
            if key == "network_mode" and value not in (None, ""):
                builder.warn(f"network_mode {value}: not translated")
            continue
        refuse_host_access(app_name, key, value)
    if service.get("build"):
        builder.warn(f"build: ignored; the App runs {image}, so push it to a registry the "
                     "cluster can pull from")
    _compose_ports(builder, service)
    _compose_volumes(builder, service, declared)
    _compose_environment(builder, service, environ, read_file)
    if "entrypoint" in service:
        builder.spec["command"] = _command(service["entrypoint"])
    if "command" in service:
        builder.spec["args"] = _command(service["command"])
    if "working_dir" in service:
        builder.spec["workingDir"] = service["working_dir"]
    if "user" in service:
        builder.set_user(str(service["user"]), "user")
    if "healthcheck" in service:
        _compose_healthcheck(builder, service["healthcheck"])
    _compose_deploy(builder, service)
    if "labels" in service:
        labels = service["labels"]
        builder.add_labels(labels if isinstance(labels, dict) else dict(
            str(item).partition("=")[::2] for item in labels))
    restart = service.get("restart")
    if restart is not None and str(restart).split(":")[0] not in ("always", "unless-stopped"):
        builder.warn(f"restart {restart}: an App's containers are always restarted")
    pull = service.get("pull_policy")
    if pull in ("always", "missing", "never", "if_not_present"):
        builder.spec["imagePullPolicy"] = {"always": "Always", "never": "Never"}.get(
            pull, "IfNotPresent")
    if service.get("depends_on"):
        builder.warn("depends_on: Apps start independently; make the app retry its "
                     "connections (or add a readiness probe to what it depends on)")
    if service.get("container_name"):
        builder.warn(f"container_name {service['container_name']}: the App is named "
                     f"{app_name} after the service")
    networks = service.get("networks")
    if networks:
        builder.warn("networks: all Apps of a namespace share one network; reach others by "
                     "their service name")
    for other in sorted(set(service) - COMPOSE_HANDLED - set(COMPOSE_HOST_ACCESS)):
        if not other.startswith("x-"):
            builder.warn(f"{other}: not translated")
    if not builder.ports:
        known = IMAGE_PORTS.get(image_base(str(image)).split(":")[0])
        if known is not None:
            builder.add_port(known)
            builder.warn(f"no ports listed; added {known}, the port of the "
                         f"{image_base(str(image))} image, so other services reach "
                         f"{app_name}:{known} as they did under Compose")
    return builder.build(namespace)


def convert_compose(document: Any, *, schema: Mapping[str, Any] | None,
                    namespace: str | None = None,
                    read_file: Callable[[str], str] | None = None,
                    environ: Mapping[str, str] | None = None) -> list[Conversion]:
    """Every service of a compose file as an App. Problems in any service refuse the file,
    listing them all."""
    if not isinstance(document, dict):
        raise Refused("the file is not a compose file: its top level must be a mapping")
    warnings: list[str] = []
    document = interpolate(document, environ or {}, warnings)
    document = dict(document)
    for key in ("name", "include"):
        # Newer than the schema this validates against; not needed for the conversion.
        if key in document:
            warnings.append(f"top-level {key}: not translated")
            document.pop(key)
    if schema is not None:
        _validate_compose(document, schema)
    services = document.get("services") or {}
    if not services:
        raise Refused("the file has no services")
    conversions: list[Conversion] = []
    problems: list[str] = []
    names: dict[str, str] = {}
    for name, service in services.items():
        try:
            conversion = _compose_service(name, service or {}, document.get("volumes") or {},
                                          environ or {}, read_file or _no_files, namespace)
        except Refused as error:
            problems.append(str(error))
            continue
        app_name = conversion.app["metadata"]["name"]
        if app_name in names:
            problems.append(f"{name}: becomes App {app_name}, like service {names[app_name]}")
        names[app_name] = name
        conversions.append(conversion)
    if problems:
        raise Refused("\n".join(problems))
    if conversions:
        conversions[0].warnings[:0] = warnings
    return conversions
