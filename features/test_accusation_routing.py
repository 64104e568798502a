from pytest_bdd import scenarios

from features.steps_accusation import *  # noqa: F401,F403
from features.steps_petition import *  # noqa: F401,F403  (registration, work items, notices)

scenarios("accusation_routing.feature")
