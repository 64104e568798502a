from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (registration, work items, the clock)
from features.steps_stats import *  # noqa: F401,F403

scenarios("stats.feature")
