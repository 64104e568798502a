from pytest_bdd import scenarios

scenarios("engine_core.feature")
