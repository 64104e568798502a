"""JSON nested far too deep: a 100,000-level body gave a RecursionError and a 500 before sign-in. Every JSON body
is now parsed with a nesting bound and answered 400 with a JSON error that says what to do; a form schema file
nested too deep is one more problem of its deployment. Both databases."""
from __future__ import annotations

import json

import pytest

from engine import bounded_json
from tests.support.web import api_sign_in, office_app

from .test_hostile_input import row_counts, upload

DEEP = "[" * 100_000 + "]" * 100_000


def nested(levels: int, leaf=1):
    value = leaf
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.fixture
def app(container):
    return office_app(container, deploy=False)


def assert_too_deep(r):
    assert r.status_code == 400, r.data[:300]
    error = r.get_json()["error"]
    assert error["code"] == "too_deep" and error["details"] == {"max_depth": bounded_json.MAX_DEPTH}
    assert str(bounded_json.MAX_DEPTH) in error["message"] and "请减少嵌套层数" in error["message"]


def test_a_100000_deep_body_before_sign_in_is_a_clear_400(app):
    client = app.test_client()
    assert_too_deep(client.post("/api/session", data=DEEP, content_type="application/json"))
    deep_object = '{"username":' * 100_000 + '"x"' + "}" * 100_000
    assert_too_deep(client.post("/api/session", data=deep_object, content_type="application/json"))
    assert_too_deep(client.post("/api/sms/inbound", data=DEEP, content_type="application/json"))
    # a page (not /api): refused as a page (here its CSRF check comes first), never a 500
    assert client.post("/login", data=DEEP, content_type="application/json").status_code in (400, 403)
    # the app still answers
    assert client.post("/api/session", json={"username": "nobody", "password": "x"}).status_code == 401


def test_just_over_the_bound_is_refused_and_nothing_is_stored(app, container):
    client, headers = api_sign_in(app, "registrar")
    before = row_counts(container)
    body = {"channel": "来访", "title": "拖欠工资", "extra": nested(bounded_json.MAX_DEPTH)}
    assert_too_deep(client.post("/api/cases", headers=headers, data=json.dumps(body),
                                content_type="application/json"))
    assert row_counts(container) == before
    fine = client.post("/api/cases", headers=headers, json={"channel": "来访", "extra": nested(10)})
    assert fine.status_code != 400 or fine.get_json()["error"]["code"] != "too_deep"


def test_a_form_schema_nested_too_deep_is_a_problem_of_the_deployment(app, container):
    client, headers = api_sign_in(app, "designer")
    before = row_counts(container)
    r = upload(client, headers, [("deep.schema.json", DEEP.encode())], comment="deep form")
    assert r.status_code == 422, r.data[:300]
    problems = r.get_json()["errors"]
    assert any("嵌套" in p["message"] for p in problems), problems
    assert row_counts(container) == before


def test_depth_is_counted_exactly_and_without_recursion():
    assert bounded_json.loads(json.dumps(nested(64))) == nested(64)
    with pytest.raises(bounded_json.JsonTooDeep):
        bounded_json.loads(json.dumps(nested(65)))
    with pytest.raises(bounded_json.JsonTooDeep):
        bounded_json.loads(DEEP)
    assert bounded_json.loads("[[1], {\"a\": [2]}]", max_depth=3) == [[1], {"a": [2]}]
    assert bounded_json.depth_exceeds([[1], {"a": [2]}], 2) is True
    assert bounded_json.depth_exceeds("text", 0) is False


def test_a_calendar_file_nested_too_deep_is_a_422_naming_the_nesting(app, container):
    """The calendar's content field (and a raw YAML body) is read as YAML, which reads JSON too."""
    from engine.calendar.importer import MAX_YAML_DEPTH

    client, headers = api_sign_in(app, "admin")
    before = row_counts(container)
    r = client.put("/api/calendar/2027", headers=headers, json={"content": DEEP, "format": "yaml"})
    assert r.status_code == 422, r.data[:300]
    assert f"嵌套超过 {MAX_YAML_DEPTH} 层" in json.dumps(r.get_json(), ensure_ascii=False)
    r = client.put("/api/calendar/2027", headers=headers, data=DEEP, content_type="text/yaml")
    assert r.status_code == 422, r.data[:300]
    assert row_counts(container) == before
