from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (shared step definitions)
from features.steps_route import *  # noqa: F401,F403  (step definitions)

scenarios("triage_override.feature")
