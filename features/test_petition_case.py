from pytest_bdd import scenarios

from features.steps_inbox import *  # noqa: F401,F403  (the inbox)
from features.steps_petition import *  # noqa: F401,F403  (step definitions)

scenarios("petition_case.feature")
