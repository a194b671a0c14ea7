"""The command line's own options (convert, render and run have tests of their own)."""

from __future__ import annotations

import io
import json
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from app_operator import cli
from tests.kube_helpers import ROOT


def test_version_is_the_package_version_of_pyproject(capsys: pytest.CaptureFixture[str]) -> None:
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"app-operator {expected}"


# ------------------------------------------------------------ like other CLIs (issue 22, 5)

COMPOSE = "services:\n  web: {image: nginx, ports: ['8080:80']}\n  db: {image: postgres}\n"


def stdin(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_compose_from_stdin_reads_relative_paths_and_env_from_the_current_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / ".env").write_text("TAG=1.27\n")
    (tmp_path / "site.conf").write_text("server { listen 80; }\n")
    monkeypatch.chdir(tmp_path)
    stdin(monkeypatch, "services:\n  web:\n    image: nginx:${TAG}\n"
                       "    volumes: ['./site.conf:/etc/nginx/conf.d/site.conf:ro']\n")
    assert cli.main(["convert", "compose", "-"]) == 0
    out, err = capsys.readouterr()
    app = yaml.safe_load(out)
    assert app["spec"]["image"] == "nginx:1.27", err
    assert "server { listen 80; }" in json.dumps(app["spec"])


def test_docker_run_line_from_stdin_over_several_lines(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, "docker run -d \\\n  -p 8080:80 \\\n  --name web nginx:1.27\n")
    assert cli.main(["convert", "run", "-"]) == 0
    app = yaml.safe_load(capsys.readouterr().out)
    assert (app["metadata"]["name"], app["spec"]["image"]) == ("web", "nginx:1.27")


def test_render_from_stdin(monkeypatch: pytest.MonkeyPatch,
                           capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, "kind: App\nmetadata: {name: web}\nspec: {image: nginx}\n")
    assert cli.main(["render", "-"]) == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert "Deployment" in kinds


def test_convert_compose_takes_the_file_with_f_as_up_does(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text("services: {web: {image: 'nginx:1.27'}}\n")
    assert cli.main(["convert", "compose", "-f", str(compose)]) == 0
    assert yaml.safe_load(capsys.readouterr().out)["spec"]["image"] == "nginx:1.27"
    other = tmp_path / "other.yaml"
    other.write_text("services: {db: {image: 'postgres:16'}}\n")
    assert cli.main(["convert", "compose", str(other), "-f", str(compose)]) == 2
    assert "two compose files named" in capsys.readouterr().err


def test_convert_compose_reads_the_file_as_yaml_1_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`22:22` is a string to Compose (YAML 1.2), not the sexagesimal 1342 of YAML 1.1."""
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  sftp:\n    image: atmoz/sftp\n    ports:\n"
                       "      - 22:22\n")
    assert cli.main(["convert", "compose", str(compose)]) == 0
    out = capsys.readouterr().out
    ports = yaml.safe_load(out)["spec"]["ports"]
    assert [p["containerPort"] for p in ports] == [22], out


TRAEFIK_COMPOSE = """services:
  whoami:
    image: traefik/whoami
    labels:
      - traefik.http.routers.whoami.rule=Host(`whoami.example.com`)
      - traefik.http.services.whoami.loadbalancer.server.port=80
"""


@pytest.mark.parametrize("gateway", [None, "web", "infra/web"])
def test_traefik_labels_attach_to_the_gateway_named(
        gateway: str | None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(TRAEFIK_COMPOSE)
    extra = ["--gateway", gateway] if gateway else []
    assert cli.main(["convert", "compose", str(compose), *extra]) == 0
    route = yaml.safe_load(capsys.readouterr().out)["spec"]["route"]
    assert route["hosts"] == ["whoami.example.com"]
    parent = (route.get("parent") or {}).get("gateway")
    if gateway is None:
        assert parent is None
    else:
        assert [parent.get("namespace"), parent["name"]][-len(gateway.split("/")):] == (
            gateway.split("/"))


def test_render_shows_the_route_an_app_gets(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    stdin(monkeypatch, "kind: App\nmetadata: {name: web}\nspec:\n  image: nginx\n"
                       "  ports: [{name: http, containerPort: 80}]\n"
                       "  route: {hosts: [web.example.test], parent: {gateway: {name: gw}}}\n")
    assert cli.main(["render", "-"]) == 0
    kinds = [d["kind"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert "HTTPRoute" in kinds


@pytest.mark.parametrize("present", [
    ["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"],
    ["compose.yml", "docker-compose.yml", "docker-compose.yaml"],
    ["docker-compose.yml", "docker-compose.yaml"],
    ["docker-compose.yaml"],
])
def test_compose_without_a_file_takes_docker_composes_first_name(
        present: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    for name in present:  # each file names its own image: the output shows which was read
        (tmp_path / name).write_text(f"services: {{web: {{image: 'nginx:{name}'}}}}\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["convert", "compose"]) == 0
    out, err = capsys.readouterr()
    assert yaml.safe_load(out)["spec"]["image"] == f"nginx:{present[0]}"
    assert out.startswith(f"# app-operator convert compose {present[0]}\n")
    assert ("found several compose files" in err) == (len(present) > 1)


def test_compose_without_a_file_looks_in_parent_directories(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "src" / "web").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "src" / "web")
    assert cli.main(["convert", "compose"]) == 0
    names = [d["metadata"]["name"] for d in yaml.safe_load_all(capsys.readouterr().out)]
    assert names == ["web", "db"]


def test_compose_without_a_file_and_none_found_is_a_usage_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.find_compose_file(tmp_path) == (None, [])  # nor in /tmp or above
    assert cli.main(["convert", "compose"]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.startswith("error: no compose file given")


def test_json_output_one_app_alone_several_in_a_list(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    assert cli.main(["convert", "compose", "-o", "json", str(tmp_path / "compose.yaml")]) == 0
    out, err = capsys.readouterr()
    listed = json.loads(out)
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert [a["metadata"]["name"] for a in listed["items"]] == ["web", "db"]
    assert "ports 8080:80" in err  # warnings stay on stderr
    assert cli.main(["convert", "run", "-o", "json", "--", "docker", "run", "nginx"]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "App"
    app = tmp_path / "app.yaml"
    app.write_text("kind: App\nmetadata: {name: web}\n"
                   "spec: {image: nginx, ports: [{containerPort: 80}]}\n")
    assert cli.main(["render", "--output", "json", str(app)]) == 0
    assert "Deployment" in {o["kind"] for o in json.loads(capsys.readouterr().out)["items"]}


def test_exit_codes_are_distinct_and_in_the_help(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compose = tmp_path / "compose.yaml"
    compose.write_text(COMPOSE)
    refused = tmp_path / "refused.yaml"
    refused.write_text("services: {web: {image: nginx, privileged: true}}\n")
    codes = {
        "done": cli.main(["convert", "compose", str(compose)]),
        "refused": cli.main(["convert", "compose", str(refused)]),
        "unreadable": cli.main(["convert", "compose", str(tmp_path / "missing.yaml")]),
        "warnings": cli.main(["convert", "compose", "--strict", str(compose)]),
    }
    with pytest.raises(SystemExit) as usage:
        cli.main(["convert", "compose", "--no-such-option"])
    codes["usage"] = int(str(usage.value.code))
    assert codes == {"done": 0, "refused": 1, "unreadable": 1, "warnings": 3, "usage": 2}
    capsys.readouterr()
    for command in ([], ["convert"], ["convert", "compose"], ["convert", "run"], ["render"]):
        with pytest.raises(SystemExit):
            cli.main([*command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "exit codes: 0 done; 1 input refused" in text, command
        assert "2 usage error" in text and "4 internal error" in text


def test_crd_has_a_short_name_of_its_own_not_argo_cds(capsys: pytest.CaptureFixture[str]) -> None:
    """Argo CD's Application has the short names app and apps (issue 22, 6)."""
    assert cli.main(["crd"]) == 0
    names = yaml.safe_load(capsys.readouterr().out)["spec"]["names"]
    assert names["shortNames"] == ["appop"]
    assert not {"app", "apps"} & set(names["shortNames"])


def test_compose_without_a_file_says_an_override_file_is_not_merged(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    (tmp_path / "compose.override.yaml").write_text("services: {web: {image: nginx:2}}\n")
    monkeypatch.chdir(tmp_path)
    assert cli.main(["convert", "compose"]) == 0
    out, err = capsys.readouterr()
    assert f"warning: {tmp_path / 'compose.override.yaml'} is not read" in err
    assert next(yaml.safe_load_all(out))["spec"]["image"] == "nginx"
