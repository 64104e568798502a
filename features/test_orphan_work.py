from pytest_bdd import scenarios

from features.steps_orphan_work import *  # noqa: F401,F403  (the organisation, the report, the hand-back)

scenarios("orphan_work.feature")
