"""Real compose files (tests/data/compose/corpus, sources in SOURCES.md there) through
`app-operator convert compose` and `app-operator render`, as a new user would run them: none
crashes, each either converts into Apps that render or is refused with its reason. The
expected outcome of every file is written down, so a change in what converts shows here (and
in docs/convert.md, whose counts come from the same table)."""

from pathlib import Path

import pytest
import yaml

from app_operator.cli import main

CORPUS = Path(__file__).resolve().parents[1] / "data" / "compose" / "corpus"
FILES = sorted(p for p in CORPUS.rglob("*") if p.name in ("compose.yaml", "compose.yml"))
PREFIX = "registry.example.com/corpus"

# Each refused file, with the words its refusal must hold: the cause a user reads.
HOST_PATH = "is a host path; an App cannot mount the host's files"
REFUSED = {
    "elasticsearch-logstash-kibana": ["nginx.log has 1867 KiB, more than the 256 KiB"],
    "minecraft": ["~/minecraft_data is a path in your home directory"],
    "pihole-cloudflared-DoH": ["cap_add NET_ADMIN gives the container access to the host",
                               f"/etc/pihole/ {HOST_PATH}", f"/etc/dnsmasq.d/ {HOST_PATH}"],
    "plex": ["network_mode=host gives the container access to the host", HOST_PATH],
    "portainer": ["the Docker socket gives the container control of the host"],
    "prometheus-grafana": ["/prometheus is a directory", "/grafana is a directory",
                           "--files-from-dirs"],
    "traefik-golang": ["the Docker socket gives the container control of the host"],
    "wasmedge-kafka-mysql": ["/kafka is a directory", "--files-from-dirs"],
    "wasmedge-mysql-nginx": ["/frontend is a directory", "--files-from-dirs"],
    "wireguard": ["cap_add NET_ADMIN, SYS_MODULE gives the container access to the host",
                  f"/lib/modules {HOST_PATH}", f"/usr/src {HOST_PATH}"],
}
# What --files-from-dirs converts besides.
DIRECTORIES = {"prometheus-grafana", "wasmedge-kafka-mysql", "wasmedge-mysql-nginx"}


def project(path: Path) -> str:
    return path.parent.name


def test_the_corpus_is_the_whole_collection() -> None:
    assert len(FILES) == 39
    assert set(REFUSED) <= {project(p) for p in FILES}


def convert(path: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> tuple[int, str,
                                                                                    str]:
    code = main(["convert", "compose", "--image-prefix", PREFIX, *flags, str(path)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("path", FILES, ids=project)
def test_corpus_file_converts_and_renders_or_is_refused_with_its_reason(
        path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = convert(path, capsys)
    assert "Traceback" not in err and "internal error" not in err
    if project(path) in REFUSED:
        assert code == 2, err
        assert out == ""
        assert err.startswith("error: ")
        for words in REFUSED[project(path)]:
            assert words in err
        return
    assert code == 0, err
    apps = [d for d in yaml.safe_load_all(out) if d]
    assert apps and all(a["kind"] == "App" for a in apps)
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


@pytest.mark.parametrize("path", [p for p in FILES if project(p) in DIRECTORIES], ids=project)
def test_directories_convert_with_files_from_dirs(path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = convert(path, capsys, "--files-from-dirs")
    assert code == 0, err
    assert any("files" in d["spec"] for d in yaml.safe_load_all(out) if d)


def test_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """The counts docs/convert.md reports."""
    converted = 0
    for path in FILES:
        code, _, _ = convert(path, capsys)
        assert code in (0, 2)
        converted += code == 0
    assert (converted, len(FILES) - converted) == (29, 10)
    docs = (Path(__file__).resolve().parents[2] / "docs" / "convert.md").read_text()
    assert "| converted | 29 | 32 |" in docs
