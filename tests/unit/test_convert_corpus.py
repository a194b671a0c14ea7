"""Real compose files (shared/corpus, see tests/corpus.py; sources in SOURCES.md there) through
`app-operator convert compose` and `app-operator render`, as a new user would run them: none
crashes, each either converts into Apps that render or is refused with its reason. The
expected outcome of every file is written down, so a change in what converts shows here (and
in docs/convert.md, whose counts come from the same table)."""

from pathlib import Path

import pytest
import yaml

from app_operator.cli import main
from tests.corpus import CORPUS

FILES = sorted(p for p in CORPUS.rglob("*.y*ml") if "compose" in p.name)
PREFIX = "registry.example.com/corpus"
AWESOME = "awesome-compose"
VOTING = "example-voting-app"

# Each refused file, with the words its refusal must hold: the cause a user reads.
HOST_PATH = "is a host path; an App cannot mount the host's files"
REFUSED = {
    f"{AWESOME}/elasticsearch-logstash-kibana/compose.yaml": [
        "nginx.log has 1867 KiB, more than the 256 KiB"],
    f"{AWESOME}/minecraft/compose.yaml": ["~/minecraft_data is a path in your home directory"],
    f"{AWESOME}/pihole-cloudflared-DoH/compose.yaml": [
        "cap_add NET_ADMIN gives the container access to the host",
        f"/etc/pihole/ {HOST_PATH}", f"/etc/dnsmasq.d/ {HOST_PATH}"],
    f"{AWESOME}/plex/compose.yaml": [
        "network_mode=host gives the container access to the host", HOST_PATH],
    f"{AWESOME}/portainer/compose.yaml": [
        "the Docker socket gives the container control of the host"],
    f"{AWESOME}/prometheus-grafana/compose.yaml": [
        "/prometheus is a directory", "/grafana is a directory", "--files-from-dirs"],
    f"{AWESOME}/wasmedge-kafka-mysql/compose.yml": ["/kafka is a directory", "--files-from-dirs"],
    f"{AWESOME}/wasmedge-mysql-nginx/compose.yml": [
        "/frontend is a directory", "--files-from-dirs"],
    f"{AWESOME}/wireguard/compose.yaml": [
        "cap_add NET_ADMIN, SYS_MODULE gives the container access to the host",
        f"/lib/modules {HOST_PATH}", f"/usr/src {HOST_PATH}"],
    f"{VOTING}/docker-compose.yml": ["redis: volumes: ./healthchecks:/healthchecks",
                                     "db: volumes: ./healthchecks:/healthchecks",
                                     "/healthchecks is a directory", "--files-from-dirs"],
    f"{VOTING}/docker-compose.images.yml": ["/healthchecks is a directory", "--files-from-dirs"],
}
# What --files-from-dirs converts besides.
DIRECTORIES = {f"{AWESOME}/prometheus-grafana/compose.yaml",
               f"{AWESOME}/wasmedge-kafka-mysql/compose.yml",
               f"{AWESOME}/wasmedge-mysql-nginx/compose.yml",
               f"{VOTING}/docker-compose.yml", f"{VOTING}/docker-compose.images.yml"}


def name(path: Path) -> str:
    return path.relative_to(CORPUS).as_posix()


def test_the_corpus_is_the_whole_collections() -> None:
    assert sum(name(p).startswith(AWESOME) for p in FILES) == 39
    assert sum(name(p).startswith(VOTING) for p in FILES) == 3
    assert set(REFUSED) <= {name(p) for p in FILES}
    assert set(REFUSED) >= DIRECTORIES


def convert(path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str,
                                                                                    str]:
    code = main(["convert", "compose", "--image-prefix", PREFIX, *flags, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", FILES, ids=name)
def test_corpus_file_converts_and_renders_or_is_refused_with_its_reason(
        path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = convert(path, capsys)
    assert "Traceback" not in err and "internal error" not in err
    if name(path) in REFUSED:
        assert code == 1, err
        assert out == ""
        assert err.startswith("error: ")
        for words in REFUSED[name(path)]:
            assert words in err
        return
    assert code == 0, err
    documents = [d for d in yaml.safe_load_all(out) if d]
    # Apps, and the claims that several of them share (issue 24)
    assert {d["kind"] for d in documents} <= {"App", "PersistentVolumeClaim"}
    apps = [d for d in documents if d["kind"] == "App"]
    assert apps
    assert all(not line or line.startswith("warning: ") or line.startswith("  ")
               or line == "before `kubectl apply`, run:" for line in err.splitlines())
    manifest = tmp_path / "apps.yaml"
    manifest.write_text(out)
    assert main(["render", str(manifest)]) == 0, capsys.readouterr().err
    rendered = [d for d in yaml.safe_load_all(capsys.readouterr().out) if d]
    assert sum(d["kind"] == "Deployment" for d in rendered) == len(apps)
    for app in apps:  # images that are built are named with the prefix, with their commands
        if app["spec"]["image"].startswith(PREFIX):
            assert f"docker push {app['spec']['image']}" in out


@pytest.mark.parametrize("path", [p for p in FILES if name(p) in DIRECTORIES], ids=name)
def test_directories_convert_with_files_from_dirs(path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = convert(path, capsys, "--files-from-dirs")
    assert code == 0, err
    assert any("files" in d["spec"] for d in yaml.safe_load_all(out) if d)


def test_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """The counts docs/convert.md reports, per collection: converted with --image-prefix, and
    with --files-from-dirs too."""
    counts = {}
    for collection in (AWESOME, VOTING):
        paths = [p for p in FILES if name(p).startswith(collection)]
        plain = sum(convert(p, capsys)[0] == 0 for p in paths)
        dirs = sum(convert(p, capsys, "--files-from-dirs")[0] == 0 for p in paths)
        counts[collection] = (len(paths), plain, dirs)
    assert counts == {AWESOME: (39, 30, 33), VOTING: (3, 1, 3)}
    docs = (Path(__file__).resolve().parents[2] / "docs" / "convert.md").read_text()
    assert "| docker/awesome-compose | 39 | 30 | 33 |" in docs
    assert "| dockersamples/example-voting-app | 3 | 1 | 3 |" in docs
