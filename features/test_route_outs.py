from pytest_bdd import scenarios

from features.steps_petition import *  # noqa: F401,F403  (registration, work items, notices)
from features.steps_repeats import *  # noqa: F401,F403  (repeats by number, notices with their words)
from features.steps_route_outs import *  # noqa: F401,F403

scenarios("route_outs.feature")
