from pytest_bdd import scenarios

from features.steps_incidents import *  # noqa: F401,F403  (step definitions)

scenarios("incident_repair.feature")
