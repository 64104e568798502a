from pytest_bdd import scenarios

from features.steps_settings import *  # noqa: F403  (step definitions)

scenarios("settings.feature")
