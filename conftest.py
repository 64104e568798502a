"""Root conftest: the shared database and container fixtures serve both tests/ and features/."""
pytest_plugins = ["tests.support.db"]
