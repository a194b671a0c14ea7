"""`pip install` of the project into a clean virtual environment gives an `app-operator` that
converts a compose file with no Node.js on PATH, no network and empty caches (issue 22, 5):
the Compose schema comes with a pinned dependency, not from npm at first use.

The environment is made from a copy of what the wheel is built from (pyproject.toml, README.md,
operator/app_operator), a real `pip install` of that copy with its dependencies from the
package index, never the checkout's .venv. It is kept under
~/.cache/app-operator/pip-install/<digest of those files>: a change to any of them installs
anew (about a minute; pip's own cache keeps the dependencies' wheels), else the test takes a
second. The commands then run with PATH holding only the environment's bin/ (this machine has
node and npm in /usr/bin), HOME and the caches empty, and, where `unshare --net` works (as
root), in a network namespace of their own with no interface up; elsewhere only the proxy
variables point at a closed port.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.gitops.conftest import cache_dir
from tests.kube_helpers import ROOT

pytestmark = pytest.mark.timeout(900)

SOURCES = ("pyproject.toml", "README.md", "operator/app_operator")
COMPOSE = """\
services:
  web:
    image: nginx:1.27
    ports: ["8080:80"]
    volumes: ["./site.conf:/etc/nginx/conf.d/site.conf:ro"]
  db:
    image: postgres:16
    environment: {POSTGRES_PASSWORD: example}
    volumes: ["data:/var/lib/postgresql/data"]
volumes:
  data: {}
"""


def source_files() -> list[Path]:
    files: list[Path] = []
    for name in SOURCES:
        path = ROOT / name
        files += sorted(p for p in path.rglob("*.py")) if path.is_dir() else [path]
    return files


def digest() -> str:
    hashed = hashlib.sha256()
    for path in source_files():
        hashed.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return hashed.hexdigest()[:16]


@pytest.fixture(scope="module")
def venv() -> Iterator[Path]:
    """A clean environment with the project pip-installed from a copy of its sources."""
    home = cache_dir() / "pip-install"
    home.mkdir(parents=True, exist_ok=True)
    target = home / digest()
    done = target / "installed"
    with (home / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be installing the same
        if not done.exists():
            shutil.rmtree(target, ignore_errors=True)  # an install that was cut short
            with tempfile.TemporaryDirectory() as scratch:
                source = Path(scratch) / "app-operator"
                for path in source_files():
                    copy = source / path.relative_to(ROOT)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)
                subprocess.run([sys.executable, "-m", "venv", str(target / "venv")], check=True)
                python = str(target / "venv" / "bin" / "python")
                subprocess.run([python, "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", str(source)],
                               check=True, timeout=840)
            done.write_text("")
            # Keep the newest few: each is about 100 MB.
            kept = sorted((d for d in home.iterdir() if (d / "installed").exists()),
                          key=lambda d: (d / "installed").stat().st_mtime, reverse=True)
            for old in kept[3:]:
                shutil.rmtree(old, ignore_errors=True)
    yield target / "venv"


def isolated() -> list[str]:
    """`unshare --net` where it works: a network namespace with no interface up."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    works = subprocess.run([unshare, "--net", "true"], capture_output=True, check=False)
    return [unshare, "--net"] if works.returncode == 0 else []


def run(venv: Path, cwd: Path, *args: str, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    empty = cwd / ".empty-home"
    empty.mkdir(exist_ok=True)
    closed = "http://127.0.0.1:9"
    env = {"PATH": str(venv / "bin"), "HOME": str(empty), "XDG_CACHE_HOME": str(empty),
           "LANG": "C.UTF-8", "HTTP_PROXY": closed, "HTTPS_PROXY": closed,
           "http_proxy": closed, "https_proxy": closed}
    return subprocess.run([*isolated(), str(venv / "bin" / "app-operator"), *args], cwd=cwd,
                          env=env, input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)


def test_pip_installed_cli_converts_a_compose_file_without_node_or_network(
        venv: Path, tmp_path: Path) -> None:
    bin_dir = str(venv / "bin")
    assert shutil.which("node", path=bin_dir) is None
    assert shutil.which("npm", path=bin_dir) is None
    (tmp_path / "site.conf").write_text("server { listen 80; }\n")
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    result = run(venv, tmp_path, "convert", "compose", "compose.yaml")
    assert result.returncode == 0, result.stderr
    apps = {a["metadata"]["name"]: a["spec"] for a in yaml.safe_load_all(result.stdout)}
    assert sorted(apps) == ["db", "web"]
    assert apps["web"]["image"] == "nginx:1.27"
    assert "server { listen 80; }" in yaml.safe_dump(apps["web"])
    # The same file found as docker compose finds it, and read from standard input.
    found = run(venv, tmp_path, "convert", "compose")
    assert (found.returncode, found.stdout) == (0, result.stdout), found.stderr
    piped = run(venv, tmp_path, "convert", "compose", "-", stdin=COMPOSE)
    assert piped.returncode == 0, piped.stderr
    assert list(yaml.safe_load_all(piped.stdout)) == list(yaml.safe_load_all(result.stdout))


def test_pip_installed_cli_says_its_version_and_is_not_the_checkout(
        venv: Path, tmp_path: Path) -> None:
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    version = run(venv, tmp_path, "--version")
    assert version.stdout.strip() == f"app-operator {expected}", version.stderr
    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import app_operator; print(app_operator.__file__)"],
        cwd=tmp_path, capture_output=True, text=True, check=True,
        env={"PATH": str(venv / "bin")}).stdout.strip()
    assert Path(where).is_relative_to(venv)
    assert not Path(where).is_relative_to(ROOT / "operator")
    assert os.path.basename(where) == "__init__.py"
