"""examples/flask-postgres/compose.yaml, the kind tier's `app-operator up` example
(tests/kind/test_up.py), converts as its README says, without a cluster: what the kind test
relies on is checked in every unit run, and a change to the converter that alters it is
seen here first."""

from __future__ import annotations

import json
from typing import Any

import pytest

from app_operator import cli
from tests.kube_helpers import ROOT

COMPOSE = ROOT / "examples" / "flask-postgres" / "compose.yaml"


@pytest.fixture
def objects(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, Any]]:
    """`app-operator convert compose` of the example, by kind/name."""
    assert cli.main(["convert", "compose", str(COMPOSE), "-o", "json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    items = printed["items"] if printed["kind"] == "List" else [printed]
    return {f"{o['kind']}/{o['metadata']['name']}": o for o in items}


def test_the_backups_volume_is_one_claim_both_apps_mount(
        objects: dict[str, dict[str, Any]]) -> None:
    assert sorted(objects) == ["App/db", "App/web", "PersistentVolumeClaim/flask-postgres-backups"]
    mounts = {name: {v["name"]: v for v in objects[f"App/{name}"]["spec"]["volumes"]}
              for name in ("db", "web")}
    assert mounts["db"]["backups"]["claimName"] == "flask-postgres-backups"
    assert mounts["web"]["backups"] == {"name": "backups", "mountPath": "/backups",
                                        "readOnly": True, "claimName": "flask-postgres-backups"}
    # the database's own volume stays the db App's claim
    assert mounts["db"]["db-data"] == {"name": "db-data", "mountPath": "/var/lib/postgresql/data"}


def test_web_waits_for_a_healthy_database(objects: dict[str, dict[str, Any]]) -> None:
    web, db = objects["App/web"]["spec"], objects["App/db"]["spec"]
    assert web["dependsOn"] == [{"name": "db", "condition": "Ready"}]
    assert db["probes"]["readiness"]["exec"]["command"][0] == "pg_isready"
    assert db["ports"] == [{"name": "postgres", "containerPort": 5432}]
    assert db["image"] == "app-operator/postgres:15"
