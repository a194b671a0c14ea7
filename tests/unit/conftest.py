import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from app_operator.core.model import AppSpec
from app_operator.core.render import AppRef

# No deadline: the machine may be busy (the tests judge results, not speed). `make mutation`
# runs the property tests derandomized: every mutant meets the same examples.
settings.register_profile("unit", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("mutation", parent=settings.get_profile("unit"), derandomize=True,
                          database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "unit"))


@pytest.fixture
def app() -> AppRef:
    return AppRef(name="flask", namespace="demo", uid="0000-1111")


def make_spec(**fields: Any) -> AppSpec:
    return AppSpec.model_validate({"image": "pylounge_flask_app:v1", **fields})
