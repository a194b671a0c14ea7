"""Every App the converter produces is accepted by the real API server (the CRD's schema and
CEL rules), and so are the example Apps."""

import shlex
from pathlib import Path

import pytest
import yaml

from app_operator import compose_schema, yamlout
from app_operator.convert import convert_compose, convert_run
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
]
GOOD_COMPOSE = ["lamp.yml", "webapp-postgres-redis.yml", "wordpress-mysql.yml",
                "health-and-resources.yml"]


def dry_run(kubectl: Kubectl, documents: list[dict]) -> None:  # type: ignore[type-arg]
    text = yamlout.dump_all(documents)
    result = kubectl.run("apply", "--dry-run=server", "-f", "-", stdin=text, check=False)
    assert result.returncode == 0, f"{result.stderr}\n{text}"


@pytest.mark.parametrize("command", RUN_COMMANDS)
def test_docker_run_conversions_are_accepted(kubectl: Kubectl, command: str) -> None:
    dry_run(kubectl, [convert_run(shlex.split(command)).app])


@pytest.mark.parametrize("name", GOOD_COMPOSE)
def test_compose_conversions_are_accepted(kubectl: Kubectl, name: str) -> None:
    document = yaml.safe_load((COMPOSE / name).read_text())
    conversions = convert_compose(document, schema=compose_schema.load(),
                                  read_file=lambda path: (COMPOSE / path).read_text(),
                                  environ={"DB_ROOT_PASSWORD": "x"})
    dry_run(kubectl, [c.app for c in conversions])


@pytest.mark.parametrize("path", sorted((ROOT / "examples" / "apps").glob("*.yaml")),
                         ids=lambda p: Path(p).name)
def test_examples_are_accepted(kubectl: Kubectl, path: Path) -> None:
    dry_run(kubectl, list(yaml.safe_load_all(path.read_text())))
