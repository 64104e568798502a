from pytest_bdd import scenarios

from features.steps_suggestions import *  # noqa: F401,F403  (step definitions)

scenarios("suggestions.feature")
