import pytest
from pytest_bdd import scenarios

from features.steps_sms import *  # noqa: F401,F403  (step definitions)
from features.steps_sms import make_sms_office


@pytest.fixture
def office(database_url, tmp_path):
    """This feature's office has an SMS gateway configured (the webhook needs its secret)."""
    office = make_sms_office(database_url, tmp_path)
    yield office
    office.c.engine.dispose()


scenarios("sms.feature")
