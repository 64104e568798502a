from pytest_bdd import scenarios

from features.steps_deadlines import *  # noqa: F401,F403  (step definitions)

scenarios("deadlines.feature")
