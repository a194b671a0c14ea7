"""The Compose specification's JSON schema, used to validate compose files before converting.

The schema is not copied into this project: it is taken from a package in the npm registry
that ships the current specification's schema (the linter `dclint` carries it as
`schemas/compose.schema.json`, with `name`, `include`, `develop`, `models`, `provider`, ...),
fetched with `npm pack` (which checks the registry's integrity hash), checked against the
SHA-256 pinned below and cached outside the checkout.
`python -m app_operator.convert.compose_schema` fetches it ahead of time (`make venv` does);
`$APP_OPERATOR_COMPOSE_SCHEMA` points at another copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

PACKAGE = "dclint"
VERSION = "3.1.0"
MEMBER = "package/schemas/compose.schema.json"
SHA256 = "46b7d35f19dd93a05f8fea530291bf84d881c1791ec167ecf0e6fb94e639d496"
SOURCE = f"{PACKAGE}@{VERSION} (npm), {MEMBER.removeprefix('package/')}"


class SchemaUnavailable(Exception):
    pass


def cache_path() -> Path:
    override = os.environ.get("APP_OPERATOR_COMPOSE_SCHEMA")
    if override:
        return Path(override)
    base = os.environ.get("APP_OPERATOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "app-operator")
    # The version is in the name: a cache of an older schema is never taken for this one.
    return Path(base) / "compose-spec" / f"compose-spec-{PACKAGE}-{VERSION}.json"


def fetch(target: Path) -> None:
    """Download the package that ships the schema and keep just the schema."""
    npm = shutil.which("npm")
    if npm is None:
        raise SchemaUnavailable(
            f"npm is not installed; it fetches the Compose schema ({SOURCE}). Install Node.js "
            "and npm, or set APP_OPERATOR_COMPOSE_SCHEMA to a copy of the schema")
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [npm, "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", scratch],
            capture_output=True, text=True, check=False, cwd=scratch, timeout=300)
        tarballs = list(Path(scratch).glob("*.tgz"))
        if result.returncode != 0 or not tarballs:
            raise SchemaUnavailable(
                f"could not download {PACKAGE}@{VERSION} from the npm registry to get the "
                f"Compose schema: {result.stderr.strip()[-500:]}")
        with tarfile.open(tarballs[0]) as archive:
            member = archive.extractfile(MEMBER)
            if member is None:
                raise SchemaUnavailable(f"{PACKAGE}@{VERSION} has no {MEMBER}")
            data = member.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != SHA256:
        raise SchemaUnavailable(f"{SOURCE} has SHA-256 {digest}, not the pinned {SHA256}")
    json.loads(data)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)


def load() -> dict[str, Any]:
    path = cache_path()
    if not path.exists():
        fetch(path)
    try:
        schema: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SchemaUnavailable(f"cannot read the Compose schema {path}: {error}") from error
    return schema


def main() -> int:
    try:
        schema = load()
    except SchemaUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"Compose schema: {cache_path()} ({SOURCE}, {len(json.dumps(schema))} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
