"""Every App the converter produces is accepted by the real API server (the CRD's schema and
CEL rules), those with `files` included, and so are the example Apps."""

import json
import shlex
from pathlib import Path

import pytest
import yaml

from app_operator.convert import compose_schema
from app_operator.convert.converter import DiskFiles, convert_compose, convert_run
from app_operator.core import yamlout
from tests.corpus import CORPUS
from tests.kube_helpers import ROOT, Kubectl

COMPOSE = ROOT / "tests" / "data" / "compose"
RUN_COMMANDS = [
    "docker run -d -p 8080:80 nextcloud",
    "docker run -d -p 5000:5000 pylounge_flask_app:v1",
    "docker run -it -p 5000:5000 pylounge_flask_app:v1",
    "docker run -d -p 8080:80 -v nc:/var/www/html -e KEY=value --name cloud nextcloud",
    "docker run -d -p 30080:80 -p 53:53/udp --memory 512m --cpus 1.5 -u 33:33 -w /srv "
    "--health-cmd 'curl -f localhost' --health-interval 30s --restart always "
    "--mount source=cfg,target=/etc/app,readonly -l team=web nginx:1.27 nginx -g 'daemon off;'",
    # issue 15: one port published twice, an empty value, a file of the project
    "docker run -p 53:53 -p 53:53/udp -p 80:80 -p 8080:80 -e FOO= pihole/pihole",
    "docker run -p 8080:80 -v ./nginx.conf:/etc/nginx/conf.d/default.conf:ro nginx",
]
GOOD_COMPOSE = ["lamp.yml", "webapp-postgres-redis.yml", "wordpress-mysql.yml",
                "health-and-resources.yml"]
CORPUS_FILES = sorted(p for p in CORPUS.rglob("*.y*ml") if "compose" in p.name)
# What the corpus test (tests/unit/test_convert_corpus.py) expects to be refused even with
# --files-from-dirs.
REFUSED = {"elasticsearch-logstash-kibana", "minecraft", "pihole-cloudflared-DoH", "plex",
           "portainer", "traefik-golang", "wireguard"}


def corpus_name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def dry_run(kubectl: Kubectl, documents: list[dict]) -> None:  # type: ignore[type-arg]
    # JSON: what is tested here is whether the API server accepts the Apps. (kubectl reads
    # YAML's y/Y/n/N as booleans, which yamlout does not quote yet: an env value "Y" such as
    # aspnet-mssql's ACCEPT_EULA would fail as YAML; see the report of branch convert.)
    text = json.dumps({"apiVersion": "v1", "kind": "List", "items": documents})
    result = kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=text, check=False)
    assert result.returncode == 0, f"{result.stderr}\n{yamlout.dump_all(documents)}"


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_docker_run_conversions_are_accepted(kubectl: Kubectl, command: str,
                                             tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text("server {\n  listen 80;\n}\n")
    dry_run(kubectl, [convert_run(shlex.split(command), files=DiskFiles(tmp_path)).app])


@pytest.mark.parametrize("name", GOOD_COMPOSE)
def test_compose_conversions_are_accepted(kubectl: Kubectl, name: str) -> None:
    document = yaml.safe_load((COMPOSE / name).read_text())
    conversions = convert_compose(document, schema=compose_schema.load(),
                                  files=DiskFiles(COMPOSE), environ={"DB_ROOT_PASSWORD": "x"})
    dry_run(kubectl, [c.app for c in conversions])


@pytest.mark.parametrize("path", [p for p in CORPUS_FILES if p.parent.name not in REFUSED],
                         ids=corpus_name)
def test_corpus_conversions_are_accepted(kubectl: Kubectl, path: Path) -> None:
    document = yaml.safe_load(path.read_text())
    environ = {}
    if (path.parent / ".env").exists():
        environ = dict(line.split("=", 1) for line in (path.parent / ".env").read_text(
        ).splitlines() if "=" in line and not line.startswith("#"))
    conversions = convert_compose(document, schema=compose_schema.load(),
                                  files=DiskFiles(path.parent), environ=environ,
                                  image_prefix="registry.example.com/corpus",
                                  dirs_as_files=True)
    dry_run(kubectl, [c.app for c in conversions])


def test_the_corpus_has_apps_with_every_kind_of_file() -> None:
    """The dry runs above cover inline content, Secret keys and modes."""
    kinds: set[str] = set()
    for path in CORPUS_FILES:
        if path.parent.name in REFUSED:
            continue
        conversions = convert_compose(yaml.safe_load(path.read_text()),
                                      schema=compose_schema.load(),
                                      files=DiskFiles(path.parent),
                                      image_prefix="registry.example.com/corpus",
                                      dirs_as_files=True)
        for conversion in conversions:
            for file in conversion.app["spec"].get("files", []):
                kinds.update(key for key in ("content", "secret", "mode") if key in file)
    assert kinds == {"content", "secret", "mode"}


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "apps").glob("*.yaml")),
                         ids=lambda p: Path(p).name)
def test_examples_are_accepted(kubectl: Kubectl, path: Path) -> None:
    dry_run(kubectl, list(yaml.safe_load_all(path.read_text())))
