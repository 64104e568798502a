from pytest_bdd import scenarios

from features.steps_inbox import *  # noqa: F401,F403  (step definitions)
from features.steps_petition import *  # noqa: F401,F403  (registering and dispatching, moving the clock)

scenarios("inbox.feature")
