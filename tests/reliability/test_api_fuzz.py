"""API fuzzing with schemathesis against /api/openapi.json: every operation, inputs generated from the schema
(valid ones and deliberately invalid ones), no server errors. In process on SQLite with the demo data, as an
administrator with an API token (so every operation is reached past its role check); derandomised so that a
run is repeatable. (schemathesis' pytest plugin does not run under pytest 9, so the operations are walked here
with hypothesis directly.)"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import select

from infra.accounts import User, create_token
from tests.support.db import demo_office

pytestmark = pytest.mark.slow
EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzzed_office(sqlite_template, tmp_path_factory):
    from tests.support.db import START
    from web.app import create_app

    c = demo_office(sqlite_template, tmp_path_factory.mktemp("fuzz"))
    with c.session_factory() as s, s.begin():
        token = create_token(s, s.scalar(select(User).where(User.username == "admin")), "fuzz", START)
    yield create_app(c), token
    c.engine.dispose()


def server_errors(operation, mode: GenerationMode, token: str) -> str | None:
    """The smallest request hypothesis finds that gets a 5xx from `operation`, or None."""
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def fuzz(case):
        response = case.call(headers={"Authorization": f"Bearer {token}"})
        assert response.status_code < 500, (f"{case.method} {case.formatted_path} query={case.query} "
                                            f"body={case.body!r:.300} -> {response.status_code} "
                                            f"{response.text[:300]}")

    try:
        fuzz()
    except Exception as err:  # an assertion above, or an exception the app let escape
        return f"{operation.method.upper()} {operation.path}: {err.__class__.__name__}: {str(err)[:800]}"
    return None


def test_no_operation_answers_with_a_server_error(fuzzed_office):
    app, token = fuzzed_office
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 40  # every documented operation is fuzzed
    failures = [found for op in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                if (found := server_errors(op, mode, token))]
    assert failures == []
