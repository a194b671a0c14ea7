"""From `docker run` lines and compose files to App resources.

Whatever cannot be translated is reported as a warning (never silently dropped); whatever an
App must never do (host paths, privileged mode, host namespaces, devices) refuses the
conversion, and a refusal names every problem at once. Every App produced is validated by the
model (AppSpec) before it is returned.

The converter reads the project's files (single-file bind mounts, compose `configs`, env files)
only through a `SourceFiles`; `DiskFiles` is the one implementation that touches the disk.
Secret values are never read: a compose secret becomes a file taken from a Kubernetes Secret,
and the command that creates that Secret is returned beside the App.
"""

from __future__ import annotations

import os
import posixpath
import re
import shlex
import stat
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, ParamSpec, Protocol

from pydantic import ValidationError

from app_operator.core import model
from app_operator.core.model import AppSpec

# Well-known ports of images that compose files usually reach by service name without
# listing them, so that the converted App still gets a Service other Apps can reach.
IMAGE_PORTS = {
    "postgres": 5432, "postgis/postgis": 5432, "mysql": 3306, "mariadb": 3306,
    "redis": 6379, "valkey/valkey": 6379, "mongo": 27017, "memcached": 11211,
    "rabbitmq": 5672, "elasticsearch": 9200, "nginx": 80, "httpd": 80, "wordpress": 80,
    "nextcloud": 80, "php": 80, "adminer": 8080, "phpmyadmin": 80, "minio/minio": 9000,
}
# Names kept on ports because they say more than the derived `tcp-<port>`.
PORT_NAMES = {80: "http", 443: "https", 5432: "postgres", 3306: "mysql", 6379: "redis",
              27017: "mongodb", 11211: "memcached", 5672: "amqp", 9200: "http", 53: "dns"}
HTTP_PORTS = {3000, 5000, 8000, 8080, 8081, 8888, 9000}
NODE_PORT_RANGE = range(30000, 32768)
FILES_MAX = 32
P = ParamSpec("P")
TEXT = re.compile(model.TEXT_PATTERN)


class Refused(Exception):
    """The input cannot become an App; the message says why and what to do instead."""


@dataclass
class Conversion:
    """An App manifest, what could not be carried over, and the commands to run before
    applying it (building and pushing images, creating Secrets)."""

    app: dict[str, Any]
    warnings: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- project files

Kind = Literal["file", "directory", "missing", "other"]


class SourceFiles(Protocol):
    """The files of the project being converted. Paths are relative to the project's
    directory (the compose file's, or the current one for `docker run`) or absolute."""

    def kind(self, path: str) -> Kind: ...

    def read_text(self, path: str) -> str:
        """The file's text; OSError when it cannot be read, ValueError when it is not text."""
        ...

    def executable(self, path: str) -> bool: ...

    def list_files(self, path: str) -> list[str]:
        """The regular files under a directory, recursively, relative to it, sorted."""
        ...

    def relative(self, path: str) -> str | None:
        """An absolute path as a path relative to the project, or None when it is outside."""
        ...

    def display(self, path: str) -> str:
        """The path as the user names it from where they ran the command."""
        ...


class NoFiles:
    """A project whose files cannot be read: every path is missing."""

    def kind(self, path: str) -> Kind:
        return "missing"

    def read_text(self, path: str) -> str:
        raise OSError(2, "reading files is not allowed here", path)

    def executable(self, path: str) -> bool:
        return False

    def list_files(self, path: str) -> list[str]:
        return []

    def relative(self, path: str) -> str | None:
        return None

    def display(self, path: str) -> str:
        return path if path.startswith(("/", "~", ".")) else f"./{path}"


class DiskFiles:
    """The project directory `base` on disk; `shown` is how the user named it."""

    def __init__(self, base: Path, shown: str = "") -> None:
        self.base = base.resolve()
        self.shown = shown

    def _path(self, path: str) -> Path:
        return Path(os.path.expanduser(path)) if path.startswith(("/", "~")) else (
            self.base / path)

    def kind(self, path: str) -> Kind:
        try:
            mode = self._path(path).stat().st_mode
        except OSError:
            return "missing"
        if stat.S_ISREG(mode):
            return "file"
        return "directory" if stat.S_ISDIR(mode) else "other"

    def read_text(self, path: str) -> str:
        data = self._path(path).read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ValueError("it is not UTF-8 text") from error

    def executable(self, path: str) -> bool:
        try:
            return bool(self._path(path).stat().st_mode & 0o111)
        except OSError:
            return False

    def list_files(self, path: str) -> list[str]:
        root = self._path(path)
        found = []
        for directory, subdirectories, names in os.walk(root):
            subdirectories.sort()
            for name in names:
                full = Path(directory) / name
                if full.is_file():
                    found.append(full.relative_to(root).as_posix())
        return sorted(found)

    def relative(self, path: str) -> str | None:
        if path.startswith("~"):
            return None
        try:
            return Path(path).resolve().relative_to(self.base).as_posix()
        except ValueError:
            return None

    def display(self, path: str) -> str:
        if path.startswith(("/", "~")):
            return path
        joined = posixpath.normpath(posixpath.join(self.shown, path)) if self.shown else (
            posixpath.normpath(path))
        return joined if joined.startswith(("/", ".")) else f"./{joined}"


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
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([bkmgt]?)i?b?", str(text).strip().lower())
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


def env_entry(name: str, value: str) -> dict[str, str]:
    """An env entry; an empty value has no `value` key (the API server drops it anyway)."""
    return {"name": name, "value": value} if value != "" else {"name": name}


def _size(text: str) -> str:
    length = len(text.encode("utf-8"))
    return f"{length} bytes" if length < 10240 else f"{length // 1024} KiB"


HOST_PATH_ADVICE = {
    "/var/run/docker.sock": "the Docker socket gives the container control of the host",
    "/run/docker.sock": "the Docker socket gives the container control of the host",
    "/etc/localtime": "set the TZ variable instead (e.g. TZ=Europe/Berlin)",
    "/etc/timezone": "set the TZ variable instead (e.g. TZ=Europe/Berlin)",
}


@dataclass
class PortEntry:
    container: int
    protocol: str
    preferred: str | None
    node_port: int | None = None


@dataclass
class BindContext:
    """What a bind mount needs to know about its service and project."""

    files: SourceFiles
    has_build: bool = False
    dirs_as_files: bool = False


class Builder:
    """Collects the pieces of one App, the warnings about it and the problems that refuse
    it (all of them, not just the first)."""

    def __init__(self, name: str, image: str) -> None:
        self.name = name
        self.spec: dict[str, Any] = {"image": image}
        self.warnings: list[str] = []
        self.problems: list[str] = []
        self.commands: list[str] = []
        self.ports: list[PortEntry] = []
        self.published: list[tuple[int, int, str]] = []  # host, container, protocol
        self.volumes: list[dict[str, Any]] = []
        self.anonymous: set[str] = set()
        self.dropped_binds: list[tuple[str, str]] = []  # (target, what was mounted)
        self.files: list[dict[str, Any]] = []
        self.env: dict[str, dict[str, Any]] = {}

    def warn(self, message: str) -> None:
        self.warnings.append(f"{self.name}: {message}")

    def refuse(self, message: str) -> None:
        self.problems.append(message)

    def attempt(self, step: Callable[P, None], *args: P.args, **kwargs: P.kwargs) -> None:
        """Run one step of the conversion; a refusal is noted and the next step still runs,
        so that every problem is reported at once."""
        try:
            step(*args, **kwargs)
        except Refused as error:
            self.refuse(str(error))

    def add_env(self, name: str, value: str | None, source: str) -> None:
        if value is None:
            self.warn(f"{source} {name} has no value here (Docker takes it from your shell); "
                      "left out: set it in spec.env")
            return
        self.env[name] = env_entry(name, value)

    def add_port(self, container: int, protocol: str = "TCP", host: int | None = None,
                 host_ip: str | None = None, source: str = "",
                 name: str | None = None) -> None:
        protocol = protocol.upper()
        if not 1 <= container <= 65535:
            raise Refused(f"{source or 'port'}: {container} is not a port number (1-65535)")
        entry = next((p for p in self.ports
                      if p.container == container and p.protocol == protocol), None)
        if entry is None:
            entry = PortEntry(container, protocol, name or self._meaningful_name(container,
                                                                                  protocol))
            self.ports.append(entry)
        if host is not None and host in NODE_PORT_RANGE:
            if entry.node_port is None:
                entry.node_port = host
            elif entry.node_port != host:
                self.warn(f"{source}: {container}/{protocol.lower()} is already published "
                          f"on nodePort {entry.node_port}; nodePort {host} is left out")
        elif host is not None:
            self.published.append((host, container, protocol))
        if host_ip:
            self.warn(f"{source or 'port'}: host address {host_ip} is not translated")

    @staticmethod
    def _meaningful_name(number: int, protocol: str) -> str | None:
        if protocol != "TCP":
            return None
        if number in PORT_NAMES:
            return PORT_NAMES[number]
        return "http" if number in HTTP_PORTS else None

    def _port_dicts(self) -> list[dict[str, Any]]:
        """Ports with a name only where it says more than the derived one, and never a name
        that another port gets by derivation or that is taken."""
        def derived(entry: PortEntry) -> str:
            return model.derive_port_name(entry.container, entry.protocol)

        taken: set[str] = set()
        result = []
        for entry in self.ports:
            others = {derived(p) for p in self.ports if p is not entry}
            port: dict[str, Any] = {}
            name = entry.preferred
            if name and name != derived(entry) and name not in taken and name not in others:
                port["name"] = name
                taken.add(name)
            port["containerPort"] = entry.container
            if entry.protocol != "TCP":
                port["protocol"] = entry.protocol
            if entry.node_port is not None:
                port["nodePort"] = entry.node_port
            result.append(port)
        return result

    def _published_warning(self) -> None:
        if not self.published:
            return
        mappings = ", ".join(f"{h}:{c}" + ("" if p == "TCP" else f"/{p.lower()}")
                             for h, c, p in self.published)
        inside = ", ".join(sorted({str(c) for _, c, _ in self.published}, key=int))
        tcp = [f"{h}:{c}" for h, c, p in self.published if p == "TCP"]
        how = []
        if tcp:
            how.append(f"`kubectl port-forward svc/{self.name} {' '.join(tcp)}`")
        how.append("a nodePort (30000-32767, e.g. `-p 30080:80`) with service.type NodePort")
        self.warn(f"ports {mappings}: inside the cluster the Service listens on {inside} "
                  f"(other Apps reach it at {self.name}:{inside.split(', ')[0]}); nothing is "
                  "published on your machine's ports. To reach it from outside use "
                  + " or ".join(how))

    def add_volume(self, source: str | None, target: str, read_only: bool, origin: str,
                   context: BindContext | None = None) -> None:
        if not target.startswith("/"):
            raise Refused(f"{origin}: mount target {target!r} is not an absolute path")
        if source is not None and (source.startswith(("/", ".", "~")) or "/" in source
                                   or "\\" in source):
            self.add_bind(source, target, read_only, origin, context or BindContext(NoFiles()))
            return
        if source is None:
            volume_name = dns_label(target.strip("/") or "root", "mount path")
            self.anonymous.add(target.rstrip("/") or "/")
            self.warn(f"{origin}: anonymous volume at {target} becomes the persistent volume "
                      f"{volume_name!r} (a claim that outlives the pod; it starts empty, not "
                      "with the image's files)")
        else:
            volume_name = dns_label(source, "volume")
        if any(v["mountPath"] == target for v in self.volumes):
            self.warn(f"{origin}: {target} is mounted twice; the second mount is left out")
            return
        if any(v["name"] == volume_name for v in self.volumes):
            self.warn(f"{origin}: volume {volume_name} is mounted twice; an App mounts each "
                      "volume once, the second mount is left out")
            return
        volume: dict[str, Any] = {"name": volume_name, "mountPath": target.rstrip("/") or "/"}
        if read_only:
            volume["readOnly"] = True
        self.volumes.append(volume)

    def add_bind(self, source: str, target: str, read_only: bool, origin: str,
                 context: BindContext) -> None:
        """A bind mount: a file of the project becomes a file of the App; a directory of a
        service that is built is its source code, already in the image; a host path is
        refused."""
        files = context.files
        if source.startswith("~"):
            raise Refused(f"{origin}: {source} is a path in your home directory on this "
                          "machine; an App cannot mount the host's files. Use a named volume "
                          "(and copy the data into it) or build the files into the image")
        relative: str | None = source
        if source.startswith("/"):
            relative = files.relative(source)
            if relative is None:
                advice = HOST_PATH_ADVICE.get(source.rstrip("/"),
                                              "use a named volume (and copy the data into it) "
                                              "or build the files into the image")
                raise Refused(f"{origin}: {source} is a host path; an App cannot mount the "
                              f"host's files: {advice}")
        path = posixpath.normpath(relative or ".")
        shown = files.display(path)
        kind = files.kind(path)
        if kind == "missing":
            raise Refused(f"{origin}: {shown} does not exist (Docker would create an empty "
                          "directory there); create it, or use a named volume")
        if kind == "other":
            raise Refused(f"{origin}: {shown} is neither a file nor a directory (a socket or "
                          "a device); an App cannot mount it")
        if kind == "file":
            self.add_file_from(path, shown, target, read_only, origin, files)
            return
        if context.has_build:
            self.dropped_binds.append((target.rstrip("/") or "/", shown))
            self.warn(f"{origin}: left out: {shown} is a directory of source code mounted for "
                      "live reload; the image built for this service already contains it")
            return
        listing = files.list_files(path)
        if not context.dirs_as_files:
            total = sum(len(files.read_text(posixpath.join(path, name)).encode())
                        for name in listing[:FILES_MAX + 1]
                        if _readable(files, posixpath.join(path, name)))
            hint = (f"; or convert again with --files-from-dirs to mount its {len(listing)} "
                    f"file(s) ({total} bytes) read-only, one by one"
                    if 0 < len(listing) <= FILES_MAX else "")
            raise Refused(f"{origin}: {shown} is a directory; an App cannot mount a directory "
                          f"of your machine. Build its files into the image (COPY) or put "
                          f"them in a volume{hint}")
        if not listing:
            self.warn(f"{origin}: {shown} is an empty directory; left out")
            return
        for name in listing:
            self.add_file_from(posixpath.join(path, name), files.display(
                posixpath.join(path, name)), posixpath.join(target, name), True, origin, files)
        self.warn(f"{origin}: the {len(listing)} file(s) of {shown} are copied into the App "
                  f"as read-only files under {target}; files the container writes there are "
                  "not kept, and files added later to the directory do not appear")

    def add_file_from(self, path: str, shown: str, target: str, read_only: bool,
                       origin: str, files: SourceFiles) -> None:
        try:
            content = files.read_text(path)
        except OSError as error:
            raise Refused(f"{origin}: cannot read {shown}: {error.strerror or error}") from error
        except ValueError as error:
            raise Refused(f"{origin}: {shown} is not a text file ({error}); build it into the "
                          "image or put it in a volume") from error
        if not TEXT.match(content):
            raise Refused(f"{origin}: {shown} holds control characters (a binary file?); "
                          "build it into the image or put it in a volume")
        if len(content) > model.FILES_CONTENT_MAX:
            raise Refused(f"{origin}: {shown} has {_size(content)}, more than the "
                          f"{model.FILES_CONTENT_MAX // 1024} KiB an App's files may hold in "
                          "all; build it into the image or put it in a volume")
        mode = 0o755 if files.executable(path) else None
        self.add_file(target, origin, content=content, mode=mode)
        if not read_only:
            self.warn(f"{origin}: {target} is mounted read-only (from {shown}); the container "
                      "cannot change it")

    def add_file(self, target: str, origin: str, *, content: str | None = None,
                 secret: tuple[str, str] | None = None,
                 config_map: tuple[str, str] | None = None, mode: int | None = None) -> None:
        if not target.startswith("/") or target.endswith("/"):
            raise Refused(f"{origin}: {target!r} must be an absolute path to a file")
        if any(f["mountPath"] == target for f in self.files):
            self.warn(f"{origin}: {target} is mounted twice; the second mount is left out")
            return
        entry: dict[str, Any] = {"mountPath": target}
        if content is not None:
            entry["content"] = content
        if secret is not None:
            entry["secret"] = {"name": secret[0], "key": secret[1]}
        if config_map is not None:
            entry["configMap"] = {"name": config_map[0], "key": config_map[1]}
        if mode is not None:
            entry["mode"] = mode
        self.files.append(entry)

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

    def _drop_hidden_volumes(self) -> None:
        """Compose projects mount an anonymous volume inside a source directory
        (`/app/node_modules` under `./app:/app`) to keep the image's files visible there.
        With the source directory left out, an empty volume would hide them instead."""
        for target, shown in self.dropped_binds:
            for volume in list(self.volumes):
                path = volume["mountPath"]
                if path in self.anonymous and (path + "/").startswith(target.rstrip("/") + "/"):
                    self.volumes.remove(volume)
                    self.warn(f"anonymous volume {path} left out: it kept the image's files "
                              f"visible under the mount of {shown}, which is left out; an "
                              "empty volume would hide them")

    def build(self, namespace: str | None) -> Conversion:
        self._drop_hidden_volumes()
        if self.problems:
            raise Refused("\n".join(f"{self.name}: {p}" for p in self.problems))
        if self.env:
            self.spec["env"] = list(self.env.values())
        if self.ports:
            self.spec["ports"] = self._port_dicts()
            if any(p.node_port for p in self.ports):
                self.spec.setdefault("service", {})["type"] = "NodePort"
            self._published_warning()
        if self.volumes:
            self.spec["volumes"] = self.volumes
            if self.spec.get("replicas", 1) > 1:
                for volume in self.volumes:
                    volume["accessMode"] = "ReadWriteMany"
                self.warn("several replicas share the volumes: they are ReadWriteMany, which "
                          "needs a StorageClass that supports it")
        if self.files:
            self._check_files()
            self.spec["files"] = self.files
        try:
            AppSpec.model_validate(self.spec)
        except ValidationError as error:
            raise Refused(f"{self.name}: the result is not a valid App: "
                          + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
                                      for e in error.errors())) from error
        order = [info.alias or key for key, info in AppSpec.model_fields.items()]
        self.spec = {key: self.spec[key] for key in sorted(self.spec, key=order.index)}
        metadata: dict[str, Any] = {"name": self.name}
        if namespace:
            metadata["namespace"] = namespace
        app = {"apiVersion": model.API_VERSION, "kind": model.KIND, "metadata": metadata,
               "spec": self.spec}
        return Conversion(app=app, warnings=self.warnings, commands=self.commands)

    def _check_files(self) -> None:
        problems = []
        if len(self.files) > FILES_MAX:
            problems.append(f"{len(self.files)} files are mounted; an App holds at most "
                            f"{FILES_MAX}: build some of them into the image")
        total = sum(len(f.get("content", "")) for f in self.files)
        if total > model.FILES_CONTENT_MAX:
            biggest = max(self.files, key=lambda f: len(f.get("content", "")))
            problems.append(f"the files' content is {total // 1024} KiB in all, more than the "
                            f"{model.FILES_CONTENT_MAX // 1024} KiB an App may hold (the "
                            f"largest: {biggest['mountPath']}); build some into the image")
        volume_paths = {v["mountPath"] for v in self.volumes}
        for file in self.files:
            if file["mountPath"] in volume_paths:
                problems.append(f"{file['mountPath']} is both a file and a volume's mount path")
        if problems:
            raise Refused("\n".join(f"{self.name}: {p}" for p in problems))


def _readable(files: SourceFiles, path: str) -> bool:
    try:
        files.read_text(path)
    except (OSError, ValueError):
        return False
    return True


def refuse_host_access(what: str, value: Any) -> None:
    if isinstance(value, list | tuple):
        shown = " " + ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        shown = " " + ", ".join(str(k) for k in value)
    else:
        shown = "" if value in (None, True) else "=" + str(value)
    raise Refused(f"{what}{shown} gives the container access to the host; an App can never "
                  "do that")


# --------------------------------------------------------------------------- docker run

@dataclass(frozen=True)
class Flag:
    names: tuple[str, ...]
    takes_value: bool
    handle: Callable[[Builder, str, RunContext], None] | None = None
    note: str = ""  # for flags that are accepted but not translated


@dataclass
class RunContext:
    files: SourceFiles
    environ: Mapping[str, str]
    dirs_as_files: bool = False
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
    if not numbers:
        raise Refused(f"port range {text} is empty")
    return numbers


def publish(builder: Builder, value: str, origin: str) -> None:
    match = PUBLISH.match(value.strip())
    if not match:
        raise Refused(f"{origin} {value!r} is not a port mapping (examples: 8080:80, 80, "
                      "53:53/udp)")
    containers = _port_range(match["container"])
    hosts: list[int | None] = (list(_port_range(match["host"])) if match["host"]
                               else [None] * len(containers))
    if len(hosts) != len(containers):
        raise Refused(f"{origin} {value!r}: host and container ranges differ")
    for host, container in zip(hosts, containers, strict=True):
        builder.add_port(container, match["proto"] or "tcp", host or None, match["ip"],
                         f"{origin} {value}")


def _expose(builder: Builder, value: str) -> None:
    number, _, protocol = value.partition("/")
    if not re.fullmatch(r"\d+(-\d+)?", number.strip()):
        raise Refused(f"expose {value!r} is not a port (examples: 3000, 53/udp)")
    for port in _port_range(number.strip()):
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
        raise Refused(f"{origin} {value!r} is not name:/path[:options]")
    for option in sorted(options - {"ro", "rw"}):
        builder.warn(f"{origin} {value}: option {option!r} is not translated")
    source = parts[0] if len(parts) == 2 else None
    return source, parts[-1], "ro" in options


def _volume_flag(builder: Builder, value: str, context: RunContext) -> None:
    source, target, read_only = split_volume(builder, value, "-v")
    builder.add_volume(source, target, read_only, f"-v {value}",
                       BindContext(context.files, dirs_as_files=context.dirs_as_files))


def _mount_flag(builder: Builder, value: str, context: RunContext) -> None:
    fields: dict[str, str] = {}
    for item in value.split(","):
        key, sep, val = item.partition("=")
        fields[key.strip()] = val.strip() if sep else "true"
    kind = fields.get("type", "volume")
    source = fields.get("source") or fields.get("src")
    target = fields.get("target") or fields.get("destination") or fields.get("dst")
    read_only = fields.get("readonly", fields.get("ro", "false")) in ("true", "1")
    if not target:
        raise Refused(f"--mount {value!r} has no target")
    if kind == "tmpfs":
        builder.warn(f"--mount {value}: tmpfs mounts are not translated (an App's volumes "
                     "are persistent); the image's own directory is used instead")
        return
    if kind == "bind":
        if not source:
            raise Refused(f"--mount {value!r} has no source")
        builder.add_bind(source, target, read_only, f"--mount {value}",
                         BindContext(context.files, dirs_as_files=context.dirs_as_files))
        return
    if kind != "volume":
        raise Refused(f"--mount type={kind} cannot become an App volume")
    builder.add_volume(source, target, read_only, f"--mount {value}")


def _env_flag(builder: Builder, value: str, context: RunContext) -> None:
    key, sep, val = value.partition("=")
    builder.add_env(key, val if sep else context.environ.get(key), "-e")


def _env_file_flag(builder: Builder, value: str, context: RunContext) -> None:
    try:
        text = context.files.read_text(value)
    except (OSError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else str(error)
        raise Refused(f"--env-file {value}: {reason or error}") from error
    for entry in parse_env_file(text, value, builder.warnings):
        builder.env[entry["name"]] = env_entry(entry["name"], entry["value"])
    builder.warn(f"--env-file {value}: its values are written into the App; keep passwords "
                 "in a Secret and use envFrom or valueFrom.secretKeyRef instead")


def _restart_flag(builder: Builder, value: str, _: RunContext) -> None:
    if value.split(":")[0] not in ("always", "unless-stopped"):
        builder.warn(f"--restart {value}: an App's containers are always restarted")


def _pull_flag(builder: Builder, value: str, _: RunContext) -> None:
    policies = {"always": "Always", "missing": "IfNotPresent", "never": "Never"}
    if value not in policies:
        raise Refused(f"--pull {value!r} is not always, missing or never")
    builder.spec["imagePullPolicy"] = policies[value]


def _labels_flag(builder: Builder, value: str, _: RunContext) -> None:
    key, _sep, val = value.partition("=")
    builder.add_labels({key: val})


def _set(key: str, convert: Callable[[str], Any] = str) -> Callable[[Builder, str, RunContext],
                                                                     None]:
    def handle(builder: Builder, value: str, _: RunContext) -> None:
        builder.spec[key] = convert(value)
    return handle


def _resource(kind: str, key: str, convert: Callable[[str, str], Any], flag: str) -> Callable[
        [Builder, str, RunContext], None]:
    def handle(builder: Builder, value: str, _: RunContext) -> None:
        resources = builder.spec.setdefault("resources", {}).setdefault(kind, {})
        resources[key] = convert(value, flag)
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
        refuse_host_access(what, value)
    return handle


def _entrypoint(_: Builder, value: str, context: RunContext) -> None:
    context.entrypoint = value


def _name(_: Builder, value: str, context: RunContext) -> None:
    context.name = value


def _not_host(value: str) -> bool:
    return value != "host"


def _refuse(what: str) -> Callable[[Builder, str, RunContext], None]:
    def handle(_: Builder, value: str, __: RunContext) -> None:
        refuse_host_access(what, value or None)
    return handle


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
    Flag(("-m", "--memory"), True, _resource("limits", "memory", memory, "--memory")),
    Flag(("--memory-reservation",), True, _resource("requests", "memory", memory,
                                                           "--memory-reservation")),
    Flag(("--cpus",), True, _resource("limits", "cpu", cpus, "--cpus")),
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
    Flag(("--privileged",), False, _refuse("--privileged")),
    Flag(("--cap-add",), True, _refuse("--cap-add")),
    Flag(("--device",), True, _refuse("--device")),
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
                files: SourceFiles | None = None, environ: Mapping[str, str] | None = None,
                dirs_as_files: bool = False) -> Conversion:
    """`docker run [flags] IMAGE [args...]` (the words, as a shell splits them) as an App.
    Relative paths (`-v ./app.conf:/etc/app.conf`, `--env-file`) are read from `files`."""
    words = _split_docker_run(argv)
    context = RunContext(files=files or NoFiles(), environ=environ or {},
                         dirs_as_files=dirs_as_files)
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
        handle = flag.handle
        if handle is not None and handle is not _name:
            builder.attempt(handle, builder, value, context)
    args = words[index:]
    if context.entrypoint is not None:
        builder.spec["command"] = [context.entrypoint]
    if args:
        builder.spec["args"] = args
    if "cmd" in context.health:
        health = context.health
        builder.attempt(builder.set_healthcheck, ["sh", "-c", health["cmd"]],
                        health.get("interval"), health.get("timeout"), health.get("retries"),
                        health.get("start_period"))
    elif context.health:
        builder.warn("--health-* timings without --health-cmd: the image's HEALTHCHECK is "
                     "not known here; not translated")
    return builder.build(namespace)


# --------------------------------------------------------------------------- compose

INTERPOLATION = re.compile(r"\$(?:(?P<escaped>\$)|\{(?P<braced>[^}]*)\}|(?P<named>[A-Za-z_]"
                           r"[A-Za-z0-9_]*))")
BRACED = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<operator>:?[-?+])(?P<rest>.*))?",
                    re.S)


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
        # The operator is what follows the variable's name: `${DEBUG:+--verbose}`.
        parts = BRACED.fullmatch(expression)
        if parts is None:
            name, operator, default = expression, "", ""
        else:
            name, operator, default = parts["name"], parts["operator"] or "", parts["rest"]
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
            message = f"variable {name} is not set; an empty string is used"
            if message not in warnings:
                warnings.append(message)
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

    validator_class = jsonschema.validators.validator_for(schema,
                                                          jsonschema.Draft7Validator)
    validator = validator_class(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        lines = [f"  {_describe_schema_error(error)}" for error in errors[:10]]
        more = f"\n  ... and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise Refused("the file does not follow the Compose specification:\n"
                      + "\n".join(lines) + more)


def _command(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def _mapping(value: Any) -> dict[str, str | None]:
    """Compose's list-or-dict (`environment`, `labels`, `args`): a dict, None for a name
    without a value."""
    if isinstance(value, dict):
        return {str(k): None if v is None else (str(v).lower() if isinstance(v, bool)
                                                 else str(v)) for k, v in value.items()}
    result: dict[str, str | None] = {}
    for item in value or []:
        key, sep, text = str(item).partition("=")
        result[key] = text if sep else None
    return result


@dataclass
class Project:
    """What every service of one compose file shares."""

    document: Mapping[str, Any]
    files: SourceFiles
    environ: Mapping[str, str]
    namespace: str | None
    image_prefix: str | None
    image_tag: str
    dirs_as_files: bool
    used_secrets: set[str] = field(default_factory=set)
    used_configs: set[str] = field(default_factory=set)
    emitted: set[str] = field(default_factory=set)  # commands already given once

    def command_once(self, builder: Builder, command: str) -> None:
        if command not in self.emitted:
            self.emitted.add(command)
            builder.commands.append(command)


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
        builder.attempt(_expose, builder, str(entry))


def _compose_volumes(builder: Builder, service: Mapping[str, Any], project: Project) -> None:
    declared = project.document.get("volumes") or {}
    context = BindContext(project.files, has_build=bool(service.get("build")),
                          dirs_as_files=project.dirs_as_files)
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            builder.attempt(_compose_long_volume, builder, entry, context)
            continue
        text = str(entry)

        def short(text: str = text) -> None:
            source, target, read_only = split_volume(builder, text, "volumes:")
            if source is not None and not source.startswith((".", "/", "~")) and (
                    "/" not in source and source not in declared):
                builder.warn(f"volumes: {source} is not declared under the top-level volumes:")
            builder.add_volume(source, target, read_only, f"volumes: {text}", context)
        builder.attempt(short)


def _compose_long_volume(builder: Builder, entry: Mapping[str, Any],
                         context: BindContext) -> None:
    kind = entry.get("type", "volume")
    source = entry.get("source")
    target = str(entry.get("target", ""))
    origin = f"volumes: {source or ''}:{target}".replace("volumes: :", "volumes: ")
    if kind == "tmpfs":
        builder.warn(f"volumes: tmpfs at {target} is not translated (an App's volumes are "
                     "persistent); the image's own directory is used instead")
        return
    if kind not in ("volume", "bind"):
        raise Refused(f"volumes: type {kind} at {target} cannot become an App volume")
    for key in sorted(set(entry) - {"type", "source", "target", "read_only", "bind",
                                    "volume", "consistency"}):
        builder.warn(f"{origin}: {key} is not translated")
    if (entry.get("volume") or {}).get("subpath"):
        builder.warn(f"{origin}: volume.subpath is not translated (the whole volume is "
                     "mounted)")
    read_only = bool(entry.get("read_only"))
    if kind == "bind":
        if not source:
            raise Refused(f"{origin}: a bind mount needs a source")
        builder.add_bind(str(source), target, read_only, origin, context)
        return
    builder.add_volume(str(source) if source else None, target, read_only, origin, context)


def _compose_environment(builder: Builder, service: Mapping[str, Any],
                         project: Project) -> None:
    env_files = service.get("env_file") or []
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
        for item in parse_env_file(text, path, builder.warnings):
            builder.env[item["name"]] = env_entry(item["name"], item["value"])
        builder.warn(f"env_file {path}: its values are written into the App; keep passwords "
                     "in a Secret and use envFrom or valueFrom.secretKeyRef instead")
    for key, value in _mapping(service.get("environment") or {}).items():
        builder.add_env(key, project.environ.get(key) if value is None else value,
                        "environment")


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


def _mode(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int):
        return value
    return int(str(value), 8)


def _secret_and_config_refs(value: Any) -> Iterator[dict[str, Any]]:
    for entry in value or []:
        yield {"source": entry} if isinstance(entry, str) else dict(entry)


def _compose_secrets(builder: Builder, service: Mapping[str, Any], project: Project) -> None:
    """Each secret a service uses becomes a file taken from a Kubernetes Secret, at
    /run/secrets/<name> like under Compose. The value is never read: the command that
    creates the Secret from the same source is given instead."""
    declared = project.document.get("secrets") or {}
    for ref in _secret_and_config_refs(service.get("secrets")):
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


def _compose_configs(builder: Builder, service: Mapping[str, Any], project: Project) -> None:
    """Each config a service uses becomes a file with its content inline (read from the
    project's file, or the config's `content` or variable)."""
    declared = project.document.get("configs") or {}
    for ref in _secret_and_config_refs(service.get("configs")):
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
            builder.attempt(builder.add_file_from, path, shown, target, True, origin,
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


def _build_command(builder: Builder, build: Any, image: str,
                   project: Project) -> None:
    """The `docker build` and `docker push` of a service's image, from its `build:`."""
    spec = {"context": build} if isinstance(build, str) else dict(build or {})
    context = str(spec.get("context", "."))
    remote = re.match(r"^(https?://|git@|git://|github\.com/)", context) is not None
    shown_context = context if remote else project.files.display(context)
    words = ["docker", "build", "-t", image]
    if "dockerfile" in spec:
        dockerfile = str(spec["dockerfile"])
        words += ["-f", dockerfile if remote or dockerfile.startswith("/") else
                  project.files.display(posixpath.join(context, dockerfile))]
    if "target" in spec:
        words += ["--target", str(spec["target"])]
    for key, value in _mapping(spec.get("args") or {}).items():
        words += ["--build-arg", key if value is None else f"{key}={value}"]
    for key, value in _mapping(spec.get("labels") or {}).items():
        words += ["--label", key if value is None else f"{key}={value}"]
    for item in spec.get("cache_from") or []:
        words += ["--cache-from", str(item)]
    if "network" in spec:
        words += ["--network", str(spec["network"])]
    for host in spec.get("extra_hosts") or []:
        words += ["--add-host", str(host)]
    if spec.get("no_cache") in (True, "true"):
        words.append("--no-cache")
    if spec.get("pull") in (True, "true"):
        words.append("--pull")
    if "shm_size" in spec:
        words += ["--shm-size", str(spec["shm_size"])]
    if spec.get("platforms"):
        words += ["--platform", ",".join(str(p) for p in spec["platforms"])]
    for item in spec.get("ssh") or []:
        words += ["--ssh", str(item)]
    words += _build_secrets(builder, spec.get("secrets"), project)
    handled = {"context", "dockerfile", "target", "args", "labels", "cache_from", "network",
               "extra_hosts", "no_cache", "pull", "shm_size", "platforms", "ssh",
               "dockerfile_inline", "secrets"}
    for other in sorted(set(spec) - handled):
        builder.warn(f"build.{other} is not in the `docker build` command below; add it by "
                     "hand")
    if "dockerfile_inline" in spec:
        words += ["-f", "-"]
    words.append(shown_context)
    command = shlex.join(words)
    if "dockerfile_inline" in spec:
        command += " <<'EOF'\n" + str(spec["dockerfile_inline"]).rstrip("\n") + "\nEOF"
    project.command_once(builder, command)
    project.command_once(builder, shlex.join(["docker", "push", image]))


def _build_secrets(builder: Builder, refs: Any, project: Project) -> list[str]:
    """`build.secrets` as `docker build --secret id=NAME,src=FILE` (or `env=VAR`): the secret
    reaches the build only, like under Compose."""
    declared = project.document.get("secrets") or {}
    words: list[str] = []
    for ref in _secret_and_config_refs(refs):
        name = str(ref.get("source", ""))
        definition = declared.get(name)
        if definition is None:
            builder.warn(f"build.secrets: {name} is not declared under the top-level "
                         "secrets:; left out of the `docker build` command")
            continue
        project.used_secrets.add(name)
        secret_id = str(ref.get("target") or name)
        if definition.get("file"):
            source = project.files.display(str(definition["file"]))
            words += ["--secret", f"id={secret_id},src={source}"]
        elif definition.get("environment"):
            words += ["--secret", f"id={secret_id},env={definition['environment']}"]
        else:
            builder.warn(f"build.secrets: {name} has neither file nor environment; left out "
                         "of the `docker build` command")
    return words


IMAGE_REFERENCE = re.compile(
    r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-]+[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def _service_image(app_name: str, service: Mapping[str, Any],
                   project: Project) -> tuple[str | None, str | None]:
    """The image the App runs and, when there is none, why."""
    image = service.get("image")
    build = service.get("build")
    if not build:
        return (str(image), None) if image else (None, "has neither image nor build")
    if project.image_prefix is None:
        if image:
            return str(image), None
        spec = {"context": build} if isinstance(build, str) else dict(build)
        context = str(spec.get("context", "."))
        dockerfile = str(spec.get("dockerfile", "Dockerfile"))
        return None, (f"has only `build:` ({project.files.display(context)}, {dockerfile}); "
                      "an App runs an image from a registry. Convert again with "
                      "--image-prefix REGISTRY/PATH (e.g. --image-prefix "
                      "registry.example.com/team) to name it REGISTRY/PATH/"
                      f"{app_name}:TAG and get the `docker build` and `docker push` commands")
    tag = project.image_tag
    if image and ":" in str(image).rsplit("/", 1)[-1]:
        tag = str(image).rsplit(":", 1)[-1]
    return f"{project.image_prefix}/{app_name}:{tag}", None


# Service keys, each translated, accepted as meaningless on Kubernetes, or refused.
COMPOSE_TRANSLATED = {
    "image", "build", "ports", "expose", "volumes", "environment", "env_file", "command",
    "entrypoint", "working_dir", "user", "deploy", "scale", "healthcheck", "restart",
    "labels", "mem_limit", "mem_reservation", "cpus", "pull_policy", "container_name",
    "depends_on", "networks", "secrets", "configs", "stdin_open", "tty", "extends",
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
    "profiles": "the service is converted whatever profiles are active",
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


def _host_access(builder: Builder, service: Mapping[str, Any]) -> None:
    for key in COMPOSE_HOST_ACCESS:
        value = service.get(key)
        if value in (None, False, [], ""):
            continue
        if key in ("pid", "ipc", "userns_mode", "uts", "cgroup") and value != "host":
            builder.warn(f"{key} {value}: not translated")
            continue
        if key == "network_mode" and not (value == "host" or str(value).startswith(
                ("service:", "container:"))):
            builder.warn(f"network_mode {value}: not translated (Apps share the cluster "
                         "network)")
            continue
        builder.attempt(refuse_host_access, key, value)


def _resolve_extends(name: str, services: Mapping[str, Any], seen: tuple[str, ...] = ()
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
    base = _resolve_extends(str(base_name), services, (*seen, name))
    base.update({k: v for k, v in service.items() if k != "extends"})
    return base


def _compose_service(name: str, service: Mapping[str, Any], project: Project) -> Builder:
    app_name = dns_label(name, "service name")
    image, missing = _service_image(app_name, service, project)
    builder = Builder(app_name, image or "unknown")
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
            _build_command(builder, service["build"], str(image), project)
    _host_access(builder, service)
    _compose_ports(builder, service)
    _compose_volumes(builder, service, project)
    builder.attempt(_compose_environment, builder, service, project)
    _compose_secrets(builder, service, project)
    _compose_configs(builder, service, project)
    if "entrypoint" in service and service["entrypoint"] is not None:
        builder.spec["command"] = _command(service["entrypoint"])
    if "command" in service and service["command"] is not None:
        builder.spec["args"] = _command(service["command"])
    if "working_dir" in service:
        builder.spec["workingDir"] = service["working_dir"]
    if "user" in service:
        builder.set_user(str(service["user"]), "user")
    if "healthcheck" in service:
        builder.attempt(_compose_healthcheck, builder, service["healthcheck"])
    builder.attempt(_compose_deploy, builder, service)
    if "labels" in service:
        builder.add_labels({k: v or "" for k, v in _mapping(service["labels"]).items()})
    restart = service.get("restart")
    if restart is not None and str(restart).split(":")[0] not in ("always", "unless-stopped"):
        builder.warn(f"restart {restart}: an App's containers are always restarted")
    pull = service.get("pull_policy")
    if pull in ("always", "missing", "never", "if_not_present"):
        builder.spec["imagePullPolicy"] = {"always": "Always", "never": "Never"}.get(
            str(pull), "IfNotPresent")
    elif pull is not None:
        builder.warn(f"pull_policy {pull}: not translated")
    _depends_on(builder, service)
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
    if not builder.ports and image:
        known = IMAGE_PORTS.get(image_base(image))
        if known is not None:
            builder.add_port(known)
            builder.warn(f"no ports listed; added {known}, the port of the "
                         f"{image_base(image)} image, so other services reach "
                         f"{app_name}:{known} as they did under Compose")
    return builder


def _depends_on(builder: Builder, service: Mapping[str, Any]) -> None:
    depends = service.get("depends_on")
    if not depends:
        return
    if isinstance(depends, dict):
        names = [f"{n} ({v['condition']})" if isinstance(v, dict) and v.get("condition")
                 else n for n, v in depends.items()]
    else:
        names = [str(n) for n in depends]
    builder.warn(f"depends_on {', '.join(names)}: Apps start independently and in any order; "
                 "make the app retry its connections (a readiness probe on what it depends on "
                 "keeps traffic away until it is ready)")


def _references(text: str, name: str) -> list[int | None]:
    """Where `text` reaches a host called `name`: its port, or None when none is given."""
    pattern = (r"(?<![A-Za-z0-9_.-])" + re.escape(name) +
               r"(?::(\d{1,5}))?(?![A-Za-z0-9_-])(?!\.[A-Za-z0-9])(?!://)")
    return [int(m[1]) if m[1] else None for m in re.finditer(pattern, text)]


def _texts(builder: Builder) -> Iterator[tuple[str, str]]:
    """The strings of an App that may name other services: (where, text)."""
    spec = builder.spec
    for entry in builder.env.values():
        yield f"environment {entry['name']}", str(entry.get("value", ""))
    for key in ("command", "args"):
        if spec.get(key):
            yield key, " ".join(spec[key])
    for file in builder.files:
        if "content" in file:
            yield f"file {file['mountPath']}", file["content"]


def _reach_by_name(builders: dict[str, Builder]) -> None:
    """Under Compose every port of a service is reachable by its name; an App is reachable
    only on the ports it lists. Ports that others reach are added; a service reached by name
    but without ports is reported, with who reaches it."""
    for target_service, target in builders.items():
        callers: dict[int | None, list[str]] = {}
        for source in builders.values():
            if source is target:
                continue
            for where, text in _texts(source):
                for name in {target_service, target.name}:
                    for port in _references(text, name):
                        callers.setdefault(port, []).append(f"{source.name} ({where})")
        if not callers:
            continue
        if target.name != target_service:
            target.warn(f"other services reach it as {target_service}, but its App (and "
                        f"Service) is named {target.name}: change their references")
        listed = {p.container for p in target.ports if p.protocol == "TCP"}
        for port in sorted(p for p in callers if p is not None):
            if port not in listed and 1 <= port <= 65535:
                target.add_port(port)
                listed.add(port)
                target.warn(f"port {port} added: {', '.join(sorted(set(callers[port])))} "
                            f"reach {target.name}:{port}, and an App's Service publishes only "
                            "the ports it lists")
        if not target.ports:
            who = ", ".join(sorted(set(callers.get(None, []))))
            target.warn(f"it has no ports, but {who} reach it by name; an App without ports "
                        "gets no Service, so the name does not resolve: add the port it "
                        "listens on to spec.ports")


def _top_level_warnings(project: Project, warnings: list[str]) -> None:
    document = project.document
    if document.get("name"):
        warnings.append(f"name {document['name']}: not used (each App is named after its "
                        "service)")
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


def check_image_prefix(prefix: str, tag: str) -> None:
    if not IMAGE_REFERENCE.match(prefix.rstrip("/")):
        raise Refused(f"--image-prefix {prefix!r} is not a registry path (lowercase, e.g. "
                      "registry.example.com/team or localhost:5000)")
    if not TAG.match(tag):
        raise Refused(f"--image-tag {tag!r} is not an image tag (e.g. v1, latest)")


def convert_compose(document: Any, *, schema: Mapping[str, Any] | None,
                    namespace: str | None = None, files: SourceFiles | None = None,
                    environ: Mapping[str, str] | None = None, image_prefix: str | None = None,
                    image_tag: str = "latest", dirs_as_files: bool = False) -> list[Conversion]:
    """Every service of a compose file as an App. Problems in any service refuse the file,
    listing them all. Paths in the file are read from `files` (the compose file's
    directory); `image_prefix` names the images of services that are built."""
    if not isinstance(document, dict):
        raise Refused("the file is not a compose file: its top level must be a mapping")
    if image_prefix is not None:
        check_image_prefix(image_prefix, image_tag)
        image_prefix = image_prefix.rstrip("/")
    warnings: list[str] = []
    document = interpolate(document, environ or {}, warnings)
    if schema is not None:
        _validate_compose(document, schema)
    services = document.get("services") or {}
    if not services:
        raise Refused("the file has no services")
    project = Project(document=document, files=files or NoFiles(), environ=environ or {},
                      namespace=namespace, image_prefix=image_prefix, image_tag=image_tag,
                      dirs_as_files=dirs_as_files)
    builders: dict[str, Builder] = {}
    problems: list[str] = []
    names: dict[str, str] = {}
    for name in services:
        try:
            service = _resolve_extends(name, services)
            builder = _compose_service(name, service, project)
        except Refused as error:
            problems.append(f"{name}: {error}")
            continue
        if builder.name in names:
            problems.append(f"{name}: becomes App {builder.name}, like service "
                            f"{names[builder.name]}")
        names[builder.name] = name
        builders[name] = builder
    _reach_by_name(builders)
    conversions: list[Conversion] = []
    for builder in builders.values():
        try:
            conversions.append(builder.build(namespace))
        except Refused as error:
            problems.append(str(error))
    if problems:
        raise Refused("\n".join(problems))
    _top_level_warnings(project, warnings)
    conversions[0].warnings[:0] = warnings
    return conversions
