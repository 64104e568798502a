from pytest_bdd import scenarios

from features.steps_accountability import *  # noqa: F401,F403  (step definitions)
from features.steps_petition import *  # noqa: F401,F403  (step definitions)
from features.steps_supervision import *  # noqa: F401,F403  (step definitions: the supervision list)

scenarios("accountability.feature")
