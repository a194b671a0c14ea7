"""The command line's own options (convert, render and run have tests of their own)."""

from __future__ import annotations

import tomllib

import pytest

from app_operator import cli
from tests.kube_helpers import ROOT


def test_version_is_the_package_version_of_pyproject(capsys: pytest.CaptureFixture[str]) -> None:
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    with pytest.raises(SystemExit) as exited:
        cli.main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.strip() == f"app-operator {expected}"
