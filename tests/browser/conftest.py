"""The browser tests share one Chromium per test process (tests/support/browser.py: a new context per test)."""
from tests.support.browser import chromium_browser  # noqa: F401  (fixture)
