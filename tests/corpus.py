"""Where the real compose files the converter tests read are: the project carries no copy of
them. They are provided beside the checkout, in `shared/corpus` (sources and licences in its
SOURCES.md); $COMPOSE_CORPUS names another copy."""

from __future__ import annotations

import os
from pathlib import Path

from tests.kube_helpers import ROOT


def corpus_dir() -> Path:
    candidates = [Path(os.environ["COMPOSE_CORPUS"])] if os.environ.get("COMPOSE_CORPUS") else []
    # beside this checkout (CI, the workplace's main/), else the workplace's shared/ for a
    # clone made elsewhere (a fresh clone in a temporary folder)
    candidates += [ROOT.parent / "shared" / "corpus", Path("/work/shared/corpus")]
    for candidate in candidates:
        if (candidate / "SOURCES.md").is_file():
            return candidate
    raise FileNotFoundError(
        "no compose corpus: looked in " + ", ".join(map(str, candidates))
        + "; set COMPOSE_CORPUS to the folder that holds SOURCES.md")


CORPUS = corpus_dir()
