"""The App builder: collects the pieces of one App (ports, volumes, files, env), the
warnings about it and every problem that refuses it, and validates the result with the model.
What a mount's source becomes is mounts.py's to say."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ParamSpec

from pydantic import ValidationError

from app_operator.convert.conversion import Conversion, Refused
from app_operator.convert.routes import is_traefik_label, route_suggestion, traefik_route
from app_operator.convert.values import env_entry, seconds
from app_operator.core import model
from app_operator.core.model import AppSpec

# Names kept on ports because they say more than the derived `tcp-<port>`.
PORT_NAMES = {80: "http", 443: "https", 5432: "postgres", 3306: "mysql", 6379: "redis",
              27017: "mongodb", 11211: "memcached", 5672: "amqp", 9200: "http", 53: "dns"}
HTTP_PORTS = {3000, 5000, 8000, 8080, 8081, 8888, 9000}
NODE_PORT_RANGE = range(30000, 32768)
FILES_MAX = 32
ENV_MAX = 256  # the variables an App's env may hold (AppSpec.env)
P = ParamSpec("P")

# Names of variables whose value is a credential: written into the App as plain text, it can
# be read by anyone who may read the App; the warning says how to keep it in a Secret.
SECRET_NAME = re.compile(r"(PASSWORD|PASSWD|PASS$|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIAL)",
                         re.IGNORECASE)
# The capabilities Docker grants every container (and so does the container runtime of a pod
# whose profile drops none, the App's default `baseline`; Pod Security baseline allows them):
# adding one of them changes nothing, so it is no host access.
DEFAULT_CAPABILITIES = {"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL",
                        "MKNOD", "NET_BIND_SERVICE", "NET_RAW", "SETFCAP", "SETGID", "SETPCAP",
                        "SETUID", "SYS_CHROOT"}



@dataclass
class PortEntry:
    container: int
    protocol: str
    preferred: str | None
    node_port: int | None = None




class Builder:
    """Collects the pieces of one App, the warnings about it and the problems that refuse
    it (all of them, not just the first)."""

    def __init__(self, name: str, image: str, *, compose: bool = False) -> None:
        self.name = name
        self.compose = compose  # hints are written in compose's syntax, else docker run's
        self.spec: dict[str, Any] = {"image": image}
        self.warnings: list[str] = []
        self.problems: list[str] = []
        self.commands: list[str] = []
        self.ports: list[PortEntry] = []
        self.published: list[tuple[int, int, str]] = []  # host, container, protocol
        self.volumes: list[dict[str, Any]] = []
        self.anonymous: set[str] = set()
        # What each volume of the App is in the project (`volume:NAME`, `bind:PATH`), so
        # that a volume that several services mount becomes one claim they share.
        self.volume_keys: dict[str, str] = {}
        self.dropped_binds: list[tuple[str, str]] = []  # (target, what was mounted)
        self.files: list[dict[str, Any]] = []
        self.env: dict[str, dict[str, Any]] = {}
        self.plain_secrets: list[str] = []  # credentials written as plain values
        # Traefik's labels (`traefik.*`), kept apart from the pod's: they become spec.route
        # (routes.py), or a warning says why not. `gateway` (NAME or NAMESPACE/NAME) is the
        # Gateway such a route attaches to; None: an Ingress of the default class.
        self.traefik: dict[str, str] = {}
        self.gateway: str | None = None

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
        if value and SECRET_NAME.search(name) and name not in self.plain_secrets:
            self.plain_secrets.append(name)

    def _plain_secrets_warning(self) -> None:
        names = [n for n in self.plain_secrets if self.env.get(n, {}).get("value")]
        if not names:
            return
        secret = f"{self.name}-secrets"
        literals = " ".join(f"--from-literal={n}=..." for n in names)
        self.warn(f"{', '.join(names)}: written into the App as plain text, readable by anyone "
                  "who may read Apps; keep it in a Secret instead (`kubectl create secret "
                  f"generic {secret} {literals}`) and replace each value by valueFrom: "
                  f"{{secretKeyRef: {{name: {secret}, key: NAME}}}}")

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
        host, container, protocol = self.published[0]
        node_port = NODE_PORT_RANGE.start + host % 1000  # 8080 -> 30080, 443 -> 30443
        mapping = f"{node_port}:{container}" + ("" if protocol == "TCP" else
                                                f"/{protocol.lower()}")
        example = f'ports: ["{mapping}"]' if self.compose else f"-p {mapping}"
        how.append(f"a nodePort (30000-32767, e.g. `{example}`) with service.type NodePort")
        suggestion = route_suggestion(self)
        if suggestion is not None:
            how.append(suggestion)
        self.warn(f"ports {mappings}: inside the cluster the Service listens on {inside} "
                  f"(other Apps reach it at {self.name}:{inside.split(', ')[0]}); nothing is "
                  "published on your machine's ports. To reach it from outside use "
                  + " or ".join(how))

    def add_claim(self, volume_name: str, target: str, read_only: bool, origin: str,
                   key: str | None) -> bool:
        if any(v["mountPath"] == target for v in self.volumes):
            self.warn(f"{origin}: {target} is mounted twice; the second mount is left out")
            return False
        if any(v["name"] == volume_name for v in self.volumes):
            self.warn(f"{origin}: volume {volume_name} is mounted twice; an App mounts each "
                      "volume once, the second mount is left out")
            return False
        volume: dict[str, Any] = {"name": volume_name, "mountPath": target.rstrip("/") or "/"}
        if read_only:
            volume["readOnly"] = True
        self.volumes.append(volume)
        if key is not None:
            self.volume_keys[volume_name] = key
        return True

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
            if is_traefik_label(key):
                self.traefik[key] = text
                continue
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
        traefik_route(self, self.gateway)  # may add the port the route sends to
        if self.env:
            self.spec["env"] = list(self.env.values())
        if self.ports:
            self.spec["ports"] = self._port_dicts()
            if any(p.node_port for p in self.ports):
                self.spec.setdefault("service", {})["type"] = "NodePort"
            self._published_warning()
        self._plain_secrets_warning()
        if self.volumes:
            self.spec["volumes"] = self.volumes
            if self.spec.get("replicas", 1) > 1:
                for volume in self.volumes:
                    if "claimName" not in volume:  # a shared claim has its own access mode
                        volume["accessMode"] = "ReadWriteMany"
                self.warn("several replicas share the volumes: they are ReadWriteMany, which "
                          "needs a StorageClass that supports it")
        if self.files:
            self._check_files()
            self.spec["files"] = self.files
        try:
            AppSpec.model_validate(self._spec_to_validate())
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

    def _spec_to_validate(self) -> dict[str, Any]:
        """The spec, less the mounts of shared claims while the model has no `claimName`
        (it is added to Volume apart from the converter); with it, the whole spec."""
        if "claim_name" in model.Volume.model_fields or not any(
                "claimName" in v for v in self.volumes):
            return self.spec
        own = [v for v in self.volumes if "claimName" not in v]
        spec = {key: value for key, value in self.spec.items() if key != "volumes"}
        return {**spec, "volumes": own} if own else spec

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



def add_capabilities(builder: Builder, what: str, values: str | list[Any]) -> None:
    """`cap_add` (a list) or `--cap-add` (a word, maybe of several): a capability Docker
    grants anyway is said and left out; any other gives host access and refuses the App."""
    names = values.split(",") if isinstance(values, str) else [str(v) for v in values]
    granted = [n for n in names if n.upper().removeprefix("CAP_") in DEFAULT_CAPABILITIES]
    if granted:
        builder.warn(f"{what} {', '.join(granted)}: not translated (Docker grants "
                     f"{'it' if len(granted) == 1 else 'them'} to every container, and so does "
                     "the container runtime under securityProfile baseline, the App's default; "
                     "securityProfile restricted drops every capability)")
    others = [n for n in names if n not in granted]
    if others:
        refuse_host_access(what, ",".join(others) if isinstance(values, str) else others)


def refuse_host_access(what: str, value: Any) -> None:
    if isinstance(value, list | tuple):
        shown = " " + ", ".join(str(v) for v in value)
    elif isinstance(value, dict):
        shown = " " + ", ".join(str(k) for k in value)
    else:
        shown = "" if value in (None, True) else "=" + str(value)
    raise Refused(f"{what}{shown} gives the container access to the host; an App can never "
                  "do that")


