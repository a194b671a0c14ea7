"""`docker run` flags as an App: each flag translated, accepted as meaningless on
Kubernetes, or refused (host access)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app_operator.convert.builder import Builder, add_capabilities, refuse_host_access
from app_operator.convert.conversion import Conversion, Refused
from app_operator.convert.files import NoFiles, SourceFiles
from app_operator.convert.mounts import BindContext, add_bind, add_volume
from app_operator.convert.short_syntax import expose, publish, split_volume
from app_operator.convert.values import (
    cpus,
    dns_label,
    env_entry,
    image_base,
    memory,
    name_from_image,
    parse_env_file,
)


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


def _volume_flag(builder: Builder, value: str, context: RunContext) -> None:
    source, target, read_only = split_volume(builder, value, "-v")
    add_volume(builder, source, target, read_only, f"-v {value}",
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
        add_bind(builder, source, target, read_only, f"--mount {value}",
                         BindContext(context.files, dirs_as_files=context.dirs_as_files,
                                     create_missing=False))
        return
    if kind != "volume":
        raise Refused(f"--mount type={kind} cannot become an App volume")
    add_volume(builder, source, target, read_only, f"--mount {value}")


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
    Flag(("--expose",), True, lambda b, v, _: expose(b, v)),
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
    Flag(("--cap-add",), True, lambda b, v, _: add_capabilities(b, "--cap-add", v)),
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


# Programs that read commands from a terminal, and images whose default command is a shell.
SHELLS = {"sh", "bash", "ash", "dash", "zsh", "fish", "ksh", "python", "python3", "node",
          "irb", "ipython", "psql", "mysql", "mariadb", "mongosh", "redis-cli", "sqlite3"}
OS_IMAGES = {"alpine", "busybox", "ubuntu", "debian", "fedora", "centos", "rockylinux",
             "almalinux", "archlinux", "opensuse/leap", "amazonlinux", "python", "node", "ruby"}


def _interactive_warning(builder: Builder, flags: list[str], entrypoint: str | None,
                         args: list[str], image: str) -> None:
    """`docker run -it --rm ubuntu bash` is a shell for a person at a terminal. An App has
    neither terminal nor input: the shell exits at once and is started again and again
    (CrashLoopBackOff), so this is said rather than accepted in silence."""
    if not flags:
        return
    program = entrypoint or (args[0] if args else None)
    if program is not None:
        given = args if entrypoint is not None else args[1:]
        if program.rsplit("/", 1)[-1] not in SHELLS or given:
            return  # a command of its own (`bash -c ...`, `python app.py`): it may keep running
        what = program
    elif image_base(image) in OS_IMAGES:
        what = f"the {image_base(image)} image's default command (a shell)"
    else:
        return
    builder.warn(f"{' '.join(flags)}: {what} reads commands from a terminal; an App has none, "
                 "so it exits at once and is restarted again and again (CrashLoopBackOff). "
                 "An App runs a server; for a one-off shell in the cluster use `kubectl run "
                 f"-it --rm NAME --image={image} --restart=Never`")


def convert_run(argv: list[str], *, namespace: str | None = None,
                files: SourceFiles | None = None, environ: Mapping[str, str] | None = None,
                dirs_as_files: bool = False, gateway: str | None = None) -> Conversion:
    """`docker run [flags] IMAGE [args...]` (the words, as a shell splits them) as an App.
    Relative paths (`-v ./app.conf:/etc/app.conf`, `--env-file`) are read from `files`;
    a route made from Traefik labels (`-l traefik.http.routers...`) attaches to `gateway`
    (NAME or NAMESPACE/NAME), else it is an Ingress of the cluster's default class."""
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
    builder.gateway = gateway
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
    _interactive_warning(builder, [name for flag, name, _ in pending
                                   if flag.names[0] in ("-i", "-t", "--rm")],
                         context.entrypoint, args, image)
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
