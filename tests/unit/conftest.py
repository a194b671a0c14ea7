import os
from typing import Any

import pytest
from hypothesis import settings

from app_operator.model import AppSpec
from app_operator.render import AppRef

# `make mutation` runs the property tests derandomized: every mutant meets the same examples.
settings.register_profile("mutation", derandomize=True, database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def app() -> AppRef:
    return AppRef(name="flask", namespace="demo", uid="0000-1111")


def make_spec(**fields: Any) -> AppSpec:
    return AppSpec.model_validate({"image": "pylounge_flask_app:v1", **fields})
