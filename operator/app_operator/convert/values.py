"""Docker's ways of writing names, durations, sizes, CPU counts and env files, as the
Kubernetes values an App takes; and Compose's list-or-dict and command shapes."""

from __future__ import annotations

import re
import shlex
from typing import Any

from app_operator.convert.conversion import Refused


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


def size_text(text: str) -> str:
    length = len(text.encode("utf-8"))
    return f"{length} bytes" if length < 10240 else f"{length // 1024} KiB"


def command_words(value: Any) -> list[str]:
    return shlex.split(value) if isinstance(value, str) else [str(v) for v in value]


def compose_mapping(value: Any) -> dict[str, str | None]:
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

