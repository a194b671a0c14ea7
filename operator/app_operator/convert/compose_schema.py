"""The Compose specification's JSON schema, used to validate compose files before converting.

The schema is not copied into this project: it comes with a dependency from PyPI that ships
the current specification's schema, the JSON-schema checker `check-jsonschema`, as its data
file `check_jsonschema/builtin_schemas/vendor/compose-spec.json` (draft-07, with `name`,
`include`, `develop`, `models`, `provider`, ...). pip installs it with app-operator, so
`convert compose` needs neither Node.js nor the network when it runs. The dependency is pinned
to one version in pyproject.toml, and the file's SHA-256 is pinned below: a different copy
(another version installed by hand, a file changed on disk) is refused, not silently used,
since the converter's messages are written against this schema's shape.
`python -m app_operator.convert.compose_schema` checks the installed copy (`make venv` does);
`$APP_OPERATOR_COMPOSE_SCHEMA` points at another copy, taken as it is (no pin).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGE = "check-jsonschema"
VERSION = "0.37.4"
MODULE = "check_jsonschema"
RESOURCE = "builtin_schemas/vendor/compose-spec.json"
SHA256 = "1f91e091f16b2dd50ab8860e02bb391d22df553d91c145eacedb1b6eff9c3f0e"
SOURCE = f"{PACKAGE} {VERSION} (PyPI), {MODULE}/{RESOURCE}"


class SchemaUnavailable(Exception):
    pass


def override_path() -> Path | None:
    """The copy the user chose with $APP_OPERATOR_COMPOSE_SCHEMA, if any."""
    override = os.environ.get("APP_OPERATOR_COMPOSE_SCHEMA")
    return Path(override) if override else None


def packaged_path() -> Path:
    """Where the pinned dependency installed the schema. Found through the distribution's
    metadata, not by importing the package: its CLI is not needed, only its data file."""
    try:
        distribution = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError as error:
        raise SchemaUnavailable(
            f"the Compose schema comes from the Python package {PACKAGE}=={VERSION}, which "
            f"is not installed; reinstall app-operator, or `pip install "
            f"'{PACKAGE}=={VERSION}'`") from error
    return Path(str(distribution.locate_file(f"{MODULE}/{RESOURCE}")))


def packaged() -> bytes:
    """The schema file as the pinned dependency installed it, checked against the pin."""
    path = packaged_path()
    try:
        data = path.read_bytes()
    except OSError as error:
        raise SchemaUnavailable(f"cannot read the Compose schema {path}: {error}") from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        installed = metadata.version(PACKAGE)
        raise SchemaUnavailable(
            f"{path} ({PACKAGE} {installed}) has SHA-256 {digest}, not the pinned {SHA256} "
            f"of {PACKAGE} {VERSION}; `pip install '{PACKAGE}=={VERSION}'`, or set "
            "APP_OPERATOR_COMPOSE_SCHEMA to a copy of the schema")
    return data


def load() -> dict[str, Any]:
    """The schema: the user's copy if $APP_OPERATOR_COMPOSE_SCHEMA names one, else the pinned
    packaged one. Read at each call (about a millisecond): nothing on disk goes stale."""
    path = override_path()
    try:
        data = path.read_bytes() if path is not None else packaged()
        schema: dict[str, Any] = json.loads(data)
    except (OSError, ValueError) as error:
        raise SchemaUnavailable(f"cannot read the Compose schema {path}: {error}") from error
    return schema


def main() -> int:
    try:
        schema = load()
    except SchemaUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    origin = override_path() or SOURCE
    print(f"Compose schema: {origin} ({len(json.dumps(schema))} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
