"""Schemathesis fuzzes every operation of the live API from its OpenAPI spec.

Requests carry the write token, so ``POST /events`` is exercised with generated
events (most of them off the grid city, some valid), not only refused at the
door. Checks: no server errors, documented status codes and content types,
responses matching their schemas, auth enforced where declared, bad data
rejected.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from twin.live.api import ServeSettings, create_app
from twin.live.forecast import Forecast

with warnings.catch_warnings():
    # Starlette 1.x asks for httpx2 behind its test client (which schemathesis uses for
    # ASGI apps); the project installs httpx, with which it works the same.
    warnings.simplefilter("ignore", UserWarning)
    import schemathesis
    from fastapi.testclient import TestClient  # noqa: F401  (imported here, warning-free)
    from schemathesis.specs.openapi.checks import positive_data_acceptance

SCENARIO = Path(__file__).resolve().parents[2] / "scenarios" / "small_grid.yaml"
TOKEN = "fuzz-token"


class _EmptyForecaster:
    def predict(self, state: Any) -> Forecast:
        return Forecast(state.now_s, 0.0, 1, {}, {})


# The schema is loaded when the module is collected (schemathesis's lazy fixture
# loader does not work with this pytest), so the app and its data folder are too;
# the module fixture below closes and removes them.
_DATA = tempfile.TemporaryDirectory(prefix="twin-fuzz-")
APP = create_app(
    ServeSettings(scenario=SCENARIO, data_dir=Path(_DATA.name), token=TOKEN),
    forecaster=_EmptyForecaster(),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


@pytest.fixture(scope="module", autouse=True)
def _close_app() -> Iterator[None]:
    yield
    APP.state.live.close()
    _DATA.cleanup()


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_errors_and_conforming_responses(case: Any) -> None:
    # Schema-valid events can still be refused with a 422: a point more than 1 km
    # from the map's roads, which the spec cannot express. Every other operation
    # must accept every request its spec allows.
    events = case.method.upper() == "POST" and case.path == "/events"
    case.call_and_validate(
        headers={"Authorization": f"Bearer {TOKEN}"},
        excluded_checks=[positive_data_acceptance] if events else [],
    )
