from pytest_bdd import scenarios

from features.steps_case_actions import *  # noqa: F401,F403  (step definitions)
from features.steps_inbox import *  # noqa: F401,F403  (the inbox)
from features.steps_petition import *  # noqa: F401,F403  (registration, work items, the clock)

scenarios("case_actions.feature")
