import pytest
from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (the office's steps)
from features.steps_petitioner_rights import *  # noqa: F401,F403  (复查)
from features.steps_portal import *  # noqa: F401,F403  (step definitions)
from features.steps_portal import make_portal_office


@pytest.fixture
def office(database_url, tmp_path, sms_gateway):
    """This feature's office has an SMS gateway the petitioner's phone reads (sign-in codes, receipts, notices)."""
    office = make_portal_office(database_url, tmp_path, sms_gateway)
    yield office
    office.c.engine.dispose()


scenarios("portal.feature")
