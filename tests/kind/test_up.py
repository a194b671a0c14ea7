"""`app-operator up` and `down` on real pods (issue 24's "done when"): the tutorial's Flask app
and PostgreSQL from examples/flask-postgres/compose.yaml, with a volume both mount, brought to
Ready in the kind tier's cluster by the command a user types, then taken down again.

The images are pylounge_flask_app:v1 and app-operator/postgres:15 (hack/images/build.sh), both
loaded into the tier's node: the tier's `load` step must load the postgres image too.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from typing import Any

import pytest

from tests.kind.helpers import TIMEOUT, exec_in, ready_pods, wait_ready_pods
from tests.kube_helpers import ROOT, Kubectl, condition, wait_for

# up's own --timeout bounds each wait; this only catches a hang outside them.
pytestmark = [pytest.mark.kind, pytest.mark.timeout(900)]

COMPOSE = ROOT / "examples" / "flask-postgres" / "compose.yaml"
PROJECT = "flask-postgres"  # the file's top-level name:
SHARED_CLAIM = f"{PROJECT}-backups"  # the volume both services mount, named as Compose would
DB_CLAIM = "db-db-data"  # the database's own volume: the db App's claim <app>-<volume>
UP_TIMEOUT = int(TIMEOUT) + 120  # pulls nothing, but a slow node starts two pods and a database


def app_operator(kubectl: Kubectl, *args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    """The CLI as a user runs it, against the tier's kubeconfig and this test's namespace."""
    assert kubectl.namespace
    return subprocess.run(
        [sys.executable, "-m", "app_operator", *args, "--kubeconfig", kubectl.kubeconfig,
         "-n", kubectl.namespace], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def up(kubectl: Kubectl) -> subprocess.CompletedProcess[str]:
    result = app_operator(kubectl, "up", "-f", str(COMPOSE), "--timeout", str(UP_TIMEOUT),
                          timeout=UP_TIMEOUT + 60)
    assert result.returncode == 0, (
        f"up exited {result.returncode}\n--- stdout\n{result.stdout}\n--- stderr\n"
        f"{result.stderr}\n(is app-operator/postgres:15 loaded into the node? "
        "`kind load docker-image app-operator/postgres:15 --name <cluster>`)")
    return result


def psql(kubectl: Kubectl, pod: str, sql: str) -> str:
    """`sql` run by psql in the db pod, over TCP through the db Service with the password:
    what the web service would do, not the local socket's trust."""
    return exec_in(kubectl, pod, "PGPASSWORD=change-me psql --host=db --username=flask "
                                 f"--dbname=flask -v ON_ERROR_STOP=1 -tA -c \"{sql}\"")


def claims_of(pod: dict[str, Any]) -> set[str]:
    return {v["persistentVolumeClaim"]["claimName"] for v in pod["spec"].get("volumes") or []
            if "persistentVolumeClaim" in v}


def test_up_brings_flask_and_postgres_with_a_shared_volume_to_ready_and_down_keeps_it(
        kubectl: Kubectl) -> None:
    result = up(kubectl)
    # every App Ready for its current spec when up exits 0, each with a real running pod
    for name in ("web", "db"):
        current = kubectl.get("app", name)
        assert condition(current, "Ready").get("status") == "True", current
        assert current and current["status"]["observedGeneration"] == \
            current["metadata"]["generation"]
    [db] = ready_pods(kubectl, "db")
    [web] = ready_pods(kubectl, "web")
    assert f"web  http://web.{kubectl.namespace}.svc:5000" in result.stdout, result.stdout

    # PostgreSQL accepts connections: the readiness check, then a password login over TCP
    exec_in(kubectl, db["metadata"]["name"], "pg_isready --host=db --port=5432")
    token = uuid.uuid4().hex
    psql(kubectl, db["metadata"]["name"],
         f"CREATE TABLE notes (body text); INSERT INTO notes VALUES ('{token}')")
    assert psql(kubectl, db["metadata"]["name"], "SELECT body FROM notes").strip() == token

    # one claim, mounted by both pods (web read-only), owned by neither App
    assert claims_of(db) == {DB_CLAIM, SHARED_CLAIM}
    assert claims_of(web) == {SHARED_CLAIM}
    assert f"applied PersistentVolumeClaim {SHARED_CLAIM}" in result.stderr, result.stderr
    shared = kubectl.get("pvc", SHARED_CLAIM)
    assert shared and shared["status"]["phase"] == "Bound"
    assert not shared["metadata"].get("ownerReferences"), shared["metadata"]
    # ... and the same data: the database's dump, written in db, read in web
    exec_in(kubectl, db["metadata"]["name"],
            "pg_dump --username=flask --dbname=flask --file=/backups/flask.sql")
    assert token in exec_in(kubectl, web["metadata"]["name"], "cat /backups/flask.sql")

    # down deletes the Apps and their pods, keeps both claims and says so
    result = app_operator(kubectl, "down", "-f", str(COMPOSE), timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"kept claims (with their data): {DB_CLAIM}, {SHARED_CLAIM}" in result.stdout + \
        result.stderr, result
    wait_for("the Apps to be gone", lambda: kubectl.items("apps") == [], timeout=TIMEOUT)
    wait_for("the project's pods to be gone",
             lambda: not kubectl.items("pods", "app.kubernetes.io/instance in (web,db)"),
             timeout=TIMEOUT, interval=1)
    for name, before in ((SHARED_CLAIM, shared), (DB_CLAIM, None)):
        kept = kubectl.get("pvc", name)
        assert kept and not kept["metadata"].get("deletionTimestamp"), name
        if before:
            assert kept["metadata"]["uid"] == before["metadata"]["uid"]

    # a later up mounts them again: the database and the dump are still there
    up(kubectl)
    [db] = wait_ready_pods(kubectl, "db", 1)
    [web] = wait_ready_pods(kubectl, "web", 1)
    assert psql(kubectl, db["metadata"]["name"], "SELECT body FROM notes").strip() == token
    assert token in exec_in(kubectl, web["metadata"]["name"], "cat /backups/flask.sql")
