from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (step definitions)
from features.steps_stats import *  # noqa: F401,F403  (step definitions)
from features.steps_urgent import *  # noqa: F401,F403  (step definitions)

scenarios("urgent_matters.feature")
