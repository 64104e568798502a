from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (registration, notices, lists, the clock)
from features.steps_second_assignment import *  # noqa: F401,F403  (二次交办 and the chain)

scenarios("second_assignment.feature")
