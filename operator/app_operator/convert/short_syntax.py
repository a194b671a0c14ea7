"""The short syntax that `docker run` and compose share: `-p`/`ports:` mappings,
`--expose`/`expose:` and `-v`/`volumes:` entries."""

from __future__ import annotations

import re

from app_operator.convert.builder import Builder
from app_operator.convert.conversion import Refused

# The host address may be empty (`${BIND:-}:443:443` with BIND unset): all addresses, as in
# Docker.
PUBLISH = re.compile(r"^(?:(?:(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]*):)?(?P<host>\d+(?:-\d+)?)?:)?"
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


def expose(builder: Builder, value: str) -> None:
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

