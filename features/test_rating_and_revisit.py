from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (step definitions)
from features.steps_rating import *  # noqa: F401,F403  (step definitions)

scenarios("rating_and_revisit.feature")
