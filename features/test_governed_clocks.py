from pytest_bdd import scenarios

from features.steps_governed_clocks import *  # noqa: F401,F403  (step definitions)
from features.steps_petition import *  # noqa: F401,F403  (step definitions)

scenarios("governed_clocks.feature")
