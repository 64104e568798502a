import pytest
from pytest_bdd import scenarios

from features.steps_exchange import *  # noqa: F401,F403  (step definitions)
from features.steps_exchange import make_exchange_office


@pytest.fixture
def office(database_url, tmp_path):
    """This feature's office has the exchange's shared key configured (the push needs it)."""
    office = make_exchange_office(database_url, tmp_path)
    yield office
    office.c.engine.dispose()


scenarios("upstream_exchange.feature")
