"""Compose reaches every port of a service by its name; an App only the ports it lists.
The ports other services reach are found in their env, commands and files, and added."""

from __future__ import annotations

import re
from collections.abc import Iterator

from app_operator.convert.builder import Builder


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


def reach_by_name(builders: dict[str, Builder]) -> None:
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

