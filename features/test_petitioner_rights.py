from pytest_bdd import scenarios

from features.steps_petitioner_rights import *  # noqa: F401,F403  (step definitions)

scenarios("petitioner_rights.feature")
