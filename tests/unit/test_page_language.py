"""A service message written "中文（English）" shows in one language on a page: the Chinese alone on a Chinese
page; on an English page the catalogue's translation of the Chinese, else the English aside."""
from __future__ import annotations

import pytest
from flask import Flask

from web.i18n import in_page_language, init_i18n


@pytest.fixture
def app():
    app = Flask(__name__)
    app.config["SECRET_KEY"] = "t"
    init_i18n(app)
    return app


def test_a_chinese_page_drops_the_english_aside(app):
    with app.test_request_context("/?lang=zh_Hans_CN"):
        assert in_page_language("本件已办结，不能再复查（the case is closed）") == "本件已办结，不能再复查"
        assert in_page_language("期限不能延长。(the assessed unit cannot move its own clock)") == "期限不能延长。"
        # a Chinese aside stays: it is part of the sentence
        assert in_page_language("请写明暂停计时的理由（如听证安排）。") == "请写明暂停计时的理由（如听证安排）。"


def test_an_english_page_shows_the_translation_or_the_aside(app):
    with app.test_request_context("/?lang=en"):
        app.preprocess_request()
        assert in_page_language("本件已办结，不能再复查（the case is closed）") == "The case is closed."
        # translated in the catalogues: the translation, not the aside
        assert in_page_language("重试故障由系统管理员或信访局操作。（x）") == "Only an administrator or the bureau retries an incident."
        assert in_page_language("没有英文（ ）") == "没有英文（ ）"
