"""spec.files: files mounted read-only into the container (model, rendering, reconcile)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from app_operator.core import render
from app_operator.core.render import AppRef

from .conftest import make_spec
from .fake_api import FakeApi, app_body, reconciler

NGINX_CONF = {"mountPath": "/etc/nginx/nginx.conf", "content": "events {}\n"}
DB_PASSWORD = {"mountPath": "/run/secrets/db_password",
               "secret": {"name": "db", "key": "password"}, "mode": 0o400}
SETTINGS = {"mountPath": "/app/settings.ini", "configMap": {"name": "settings", "key": "ini"}}


def pod(app: AppRef, **fields: Any) -> dict[str, Any]:
    result: dict[str, Any] = render.render_deployment(app, make_spec(**fields))["spec"][
        "template"]
    return result


@pytest.mark.parametrize(("files", "message"), [
    ([{"mountPath": "/a", "content": "x", "secret": {"name": "s", "key": "k"}}],
     "exactly one of content, configMap or secret"),
    ([{"mountPath": "/a"}], "exactly one of content, configMap or secret"),
    ([{"mountPath": "relative", "content": "x"}], "mount_path|mountPath"),
    ([{"mountPath": "/dir/", "content": "x"}], "mount_path|mountPath"),
    ([NGINX_CONF, {**NGINX_CONF, "content": "other"}], "is used twice"),
    ([{"mountPath": "/a", "content": "x" * 200_000}, {"mountPath": "/b", "content": "y" * 70_000}],
     "bytes in all"),
    ([{"mountPath": "/a", "content": "x", "mode": 0o1777}], "mode"),
])
def test_invalid_files_are_refused(files: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        make_spec(files=files)


def test_a_file_may_not_sit_on_a_volumes_path() -> None:
    with pytest.raises(ValidationError, match="is a volume's mountPath too"):
        make_spec(files=[{"mountPath": "/data", "content": "x"}],
                  volumes=[{"name": "data", "mountPath": "/data"}])
    with pytest.raises(ValidationError, match="reserved"):
        make_spec(volumes=[{"name": "app-operator-files", "mountPath": "/data"}])


def test_each_file_is_mounted_on_its_own_path_from_one_volume(app: AppRef) -> None:
    template = pod(app, files=[NGINX_CONF, DB_PASSWORD, SETTINGS])
    mounts = template["spec"]["containers"][0]["volumeMounts"]
    assert [(m["mountPath"], m["subPath"], m["readOnly"]) for m in mounts] == [
        ("/etc/nginx/nginx.conf", "0-nginx.conf", True),
        ("/run/secrets/db_password", "1-db_password", True),
        ("/app/settings.ini", "2-settings.ini", True)]
    (volume,) = template["spec"]["volumes"]
    assert volume["name"] == "app-operator-files"
    assert volume["projected"]["sources"] == [
        {"configMap": {"name": "flask-files",
                       "items": [{"key": "0-nginx.conf", "path": "0-nginx.conf"}]}},
        {"secret": {"name": "db",
                    "items": [{"key": "password", "path": "1-db_password", "mode": 0o400}]}},
        {"configMap": {"name": "settings", "items": [{"key": "ini", "path": "2-settings.ini"}]}},
    ]


def test_inline_content_lives_in_a_config_map_the_app_owns(app: AppRef) -> None:
    desired = render.render_all(app, make_spec(files=[NGINX_CONF, DB_PASSWORD]))
    config_map = desired.config_map
    assert config_map is not None
    assert config_map["metadata"]["name"] == "flask-files"
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == app.uid
    assert config_map["data"] == {"0-nginx.conf": "events {}\n"}
    assert desired.objects().index(config_map) < desired.objects().index(desired.deployment)
    # An empty file is a file: the key stays.
    empty = render.render_config_map(app, make_spec(files=[{"mountPath": "/e", "content": ""}]))
    assert empty is not None and empty["data"] == {"0-e": ""}


def test_no_config_map_without_inline_content(app: AppRef) -> None:
    assert render.render_all(app, make_spec(files=[DB_PASSWORD])).config_map is None
    assert render.render_all(app, make_spec()).config_map is None


def test_new_inline_content_restarts_the_pods(app: AppRef) -> None:
    """The pod template changes with the content, so the Deployment rolls its pods."""
    one = pod(app, files=[NGINX_CONF])["metadata"]["annotations"][
        render.FILES_HASH_ANNOTATION]
    two = pod(app, files=[{**NGINX_CONF, "content": "events { worker_connections 64; }\n"}])[
        "metadata"]["annotations"][render.FILES_HASH_ANNOTATION]
    assert one != two
    assert render.FILES_HASH_ANNOTATION not in (
        pod(app, files=[DB_PASSWORD])["metadata"].get("annotations") or {})


def test_the_config_map_goes_when_the_inline_files_go() -> None:
    api = FakeApi()
    reconciler(api).reconcile(app_body(files=[NGINX_CONF]))
    assert api.find("ConfigMap", "demo", "flask-files") is not None
    reconciler(api).reconcile(app_body(generation=2, files=[DB_PASSWORD]))
    assert api.find("ConfigMap", "demo", "flask-files") is None
    assert ("delete", "ConfigMap", "flask-files") in api.writes


def test_a_foreign_config_map_of_that_name_is_a_conflict() -> None:
    api = FakeApi()
    api.create({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "flask-files", "namespace": "demo"}, "data": {}})
    outcome = reconciler(api).reconcile(app_body(files=[NGINX_CONF]))
    assert outcome.problem is not None and outcome.problem.reason == "NameConflict"
    assert "ConfigMap flask-files" in outcome.problem.message
