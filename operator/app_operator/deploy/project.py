"""The compose project: its name, and the label that marks every object `up` applied.

The label, not a file on this machine, is the record: `down` finds exactly what `up`
applied from any machine with access to the namespace, as `docker compose down` finds its
containers by their `com.docker.compose.project` label.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app_operator.core import model

PROJECT_LABEL = f"{model.GROUP}/project"
# Server-side apply's field manager for what the CLI writes: not the operator's own
# (`app-operator`), so that `kubectl get --show-managed-fields` tells who set what.
FIELD_MANAGER = "app-operator-cli"
# A label value: at most 63 characters, alphanumerics at both ends.
_LABEL_VALUE = re.compile(r"^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$")


class BadProjectName(ValueError):
    """A project name that cannot be a label value; the message says what to do."""


def normalize(name: str) -> str:
    """As Compose derives a project name from a directory: lowercase, only letters, digits,
    `-` and `_`, starting with a letter or digit."""
    cleaned = re.sub(r"[^a-z0-9_-]", "", name.lower())
    return cleaned.lstrip("_-")


def project_name(given: str | None, document: Any, compose_file: Path | None,
                 environ: Mapping[str, str]) -> str:
    """The name Compose would give the project, in its order: -p, else
    $COMPOSE_PROJECT_NAME, else the file's top-level `name:`, else the compose file's
    directory (the current one without a file). Raises BadProjectName when it cannot label
    objects."""
    top = document.get("name") if isinstance(document, dict) else None
    if given:
        name, source = given, "-p"
    elif environ.get("COMPOSE_PROJECT_NAME"):
        name, source = environ["COMPOSE_PROJECT_NAME"], "$COMPOSE_PROJECT_NAME"
    elif isinstance(top, str) and top:
        name, source = top, "the compose file's `name:`"
    else:
        directory = (compose_file.resolve().parent if compose_file is not None
                     else Path.cwd())
        name = normalize(directory.name)
        source = f"the directory {directory}"
        if not name:
            raise BadProjectName(f"cannot name the project after {source}: name it with "
                                 "-p NAME")
    name = name.strip()
    if not _LABEL_VALUE.match(name):
        raise BadProjectName(
            f"project name {name!r} (from {source}) is not usable: lowercase letters, digits, "
            "'-', '_' and '.', starting and ending with a letter or digit, at most 63 "
            "characters; give another with -p NAME")
    return name


def selector(project: str) -> str:
    return f"{PROJECT_LABEL}={project}"


def labelled(obj: Mapping[str, Any], project: str, namespace: str) -> dict[str, Any]:
    """A copy of `obj` in `namespace`, labelled as the project's."""
    result = copy.deepcopy(dict(obj))
    meta = result.setdefault("metadata", {})
    meta["namespace"] = namespace
    meta["labels"] = {**(meta.get("labels") or {}), PROJECT_LABEL: project}
    return result
