from pytest_bdd import scenarios

from features.steps_accusation import *  # noqa: F401,F403  (submissions refused)
from features.steps_petition import *  # noqa: F401,F403  (registration, work items, notices)
from features.steps_repeats import *  # noqa: F401,F403

scenarios("repeats.feature")
