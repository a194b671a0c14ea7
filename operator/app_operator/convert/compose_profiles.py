"""Compose profiles: which services a conversion includes.

As Docker Compose does (the Compose specification's "Profiles"): a service without
`profiles:` is always included; a service with profiles only when one of them is active.
Profiles are made active by name (`--profile NAME`, repeatable; `*` makes every profile
active) or, when none is named, by the variable COMPOSE_PROFILES (comma-separated), from the
shell or the `.env` file. A service that is left out is not enabled by an included service
that depends on it (`depends_on` without `required: false`, `links`): Compose refuses that
model, and so does the conversion, saying which profile to add.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from app_operator.convert.conversion import Refused

PROFILE_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]*$")


def active_profiles(named: Sequence[str], environ: Mapping[str, str]) -> set[str]:
    """The profiles named on the command line, else those of COMPOSE_PROFILES (as
    `docker compose` takes them: the flag wins over the variable); a bad name refuses."""
    if not named:
        named = [p.strip() for p in environ.get("COMPOSE_PROFILES", "").split(",")
                 if p.strip()]
    active: set[str] = set()
    for name in named:
        if name != "*" and not PROFILE_NAME.match(name):
            raise Refused(f"--profile {name!r} is not a profile name (letters, digits, and "
                          "'_', '.', '-' after the first)")
        active.add(name)
    return active


def _profiles_of(service: Any) -> list[str]:
    profiles = service.get("profiles") if isinstance(service, dict) else None
    return [str(p) for p in profiles or []]


def enabled_services(services: Mapping[str, Any], active: set[str],
                     warnings: list[str]) -> dict[str, Any]:
    """The services the active profiles include, in the file's order. What is left out, and
    a profile named that no service has, is said in `warnings`."""
    every = "*" in active
    enabled = {name: service for name, service in services.items()
               if not _profiles_of(service) or every or set(_profiles_of(service)) & active}
    left_out = [name for name in services if name not in enabled]
    if left_out:
        listed = ", ".join(f"{name} ({', '.join(_profiles_of(services[name]))})"
                           for name in left_out)
        warnings.append(f"profiles: left out, since none of their profiles is active: {listed}; "
                        "convert with --profile NAME to include a profile's services")
    known = {p for service in services.values() for p in _profiles_of(service)}
    for name in sorted(active - known - {"*"}):
        warnings.append(f"profile {name}: no service has it")
    if not enabled:
        raise Refused(f"every service has profiles and none is active: name one with --profile "
                      f"({', '.join(sorted(known))})")
    _check_references(services, enabled)
    return enabled


def _check_references(services: Mapping[str, Any], enabled: Mapping[str, Any]) -> None:
    """An included service may not need one that is left out (Compose refuses it too)."""
    problems = []
    for name, service in enabled.items():
        if not isinstance(service, dict):
            continue
        depends = service.get("depends_on") or {}
        needed = [str(n) for n in depends] if isinstance(depends, list) else [
            str(n) for n, v in depends.items()
            if not (isinstance(v, dict) and v.get("required") is False)]
        needed += [str(link).split(":", 1)[0] for link in service.get("links") or []]
        for other in dict.fromkeys(needed):
            if other in services and other not in enabled:
                profiles = ", ".join(_profiles_of(services[other]))
                problems.append(f"{name}: depends on {other}, which is left out: none of its "
                                f"profiles ({profiles}) is active; add --profile "
                                f"{_profiles_of(services[other])[0]}")
    if problems:
        raise Refused("\n".join(problems))
