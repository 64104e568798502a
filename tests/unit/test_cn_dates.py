"""Dates the Chinese way on the pages: dates, datetimes and their ISO texts (as JSON results carry them)."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from flask import Flask

from web.i18n import cn_date, cn_datetime, init_i18n


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "test"
    init_i18n(app)
    return app


def test_chinese_by_default_english_on_request(app):
    with app.test_request_context("/"):
        assert cn_date(date(2026, 3, 2)) == "2026年3月2日"
        assert cn_date("2026-03-02") == "2026年3月2日"
        assert cn_datetime(datetime(2026, 3, 2, 1, 5, tzinfo=UTC)) == "2026年3月2日 09:05"
        assert cn_datetime("2026-03-02T01:05:00+00:00") == "2026年3月2日 09:05"
        assert cn_date(None) == "" and cn_date("") == ""
        assert cn_date("下周一") == "下周一"  # not a date: shown as it is
    with app.test_request_context("/?lang=en"):
        assert cn_date("2026-03-02") == "March 2, 2026"
