"""Registration refuses invalid identity numbers, phones, titles and a visit without a petitioner, over the API
and on the page, in the page's language; nothing is started when it refuses. Runs on both databases."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.store import Case
from tests.integration.test_handling_api import PETITION, app, desk  # noqa: F401  (fixtures)


def case_count(container):
    with container.session_factory() as s:
        return s.scalar(select(func.count()).select_from(Case))


def test_api_lists_every_problem_and_starts_nothing(desk, container):  # noqa: F811
    before = case_count(container)
    bad = dict(PETITION, title="x", petitioners=[{"name": "张三", "id_number": "12345", "phone": "abc"}])
    r = desk.post("registrar", "/api/cases", bad)
    assert r.status_code == 422
    errors = {e["field"]: e["message"] for e in r.get_json()["error"]["details"]}
    assert set(errors) >= {"title", "petitioners-0-id_number", "petitioners-0-phone"}
    assert "18 位" in errors["petitioners-0-id_number"] and "手机号码" in errors["petitioners-0-phone"]
    assert case_count(container) == before


def test_a_wrong_check_digit_is_named(desk):  # noqa: F811
    bad = dict(PETITION, petitioners=[dict(PETITION["petitioners"][0], id_number="410121199001011234")])
    r = desk.post("registrar", "/api/cases", bad)
    assert r.status_code == 422
    assert "最后一位应为 3" in r.get_json()["error"]["details"][0]["message"]


def test_a_visit_without_petitioner_is_refused(desk, container):  # noqa: F811
    before = case_count(container)
    r = desk.post("registrar", "/api/cases", {k: v for k, v in PETITION.items() if k != "petitioners"})
    assert r.status_code == 422
    assert any(e["field"] == "petitioners" for e in r.get_json()["error"]["details"])
    assert case_count(container) == before


def test_valid_registration_still_passes(desk):  # noqa: F811
    r = desk.post("registrar", "/api/cases", PETITION)
    assert r.status_code == 201, r.get_json()


def test_page_shows_the_message_in_english_without_chinese(desk):  # noqa: F811
    c, h = desk.client("registrar")
    c.get("/?lang=en")
    r = desk.post("registrar", "/api/cases", dict(PETITION, petitioners=[{"name": "Zhang", "phone": "abc"}]))
    message = next(e["message"] for e in r.get_json()["error"]["details"] if e["field"] == "petitioners-0-phone")
    assert message.startswith("The phone number") and not any("\u4e00" <= ch <= "\u9fff" for ch in message)


def test_category_and_group_messages_are_in_the_page_language_only(desk):  # noqa: F811
    bad = dict(PETITION, category="nonsense")
    r = desk.post("registrar", "/api/cases", bad)
    message = next(e["message"] for e in r.get_json()["error"]["details"] if e["field"] == "category")
    assert "不在分类表中" in message and "known" not in message and "（" + "k" not in message
    c, _ = desk.client("registrar")
    c.get("/?lang=en")
    r = desk.post("registrar", "/api/cases", bad)
    message = next(e["message"] for e in r.get_json()["error"]["details"] if e["field"] == "category")
    assert message.startswith("The category “nonsense”") and not any("\u4e00" <= ch <= "\u9fff" for ch in message)
