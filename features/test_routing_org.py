from pytest_bdd import scenarios

from features.steps_routing_org import *  # noqa: F401,F403

scenarios("routing_org.feature")
