from typing import Any

import pytest

from app_operator.model import AppSpec
from app_operator.render import AppRef


@pytest.fixture
def app() -> AppRef:
    return AppRef(name="flask", namespace="demo", uid="0000-1111")


def make_spec(**fields: Any) -> AppSpec:
    return AppSpec.model_validate({"image": "pylounge_flask_app:v1", **fields})
