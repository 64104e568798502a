"""web/ by area: the areas' parts of the JSON API are one blueprint `api`, and their OpenAPI parts one document."""
from __future__ import annotations

import pytest
from flask import Flask

from web import openapi
from web.http import api_part, join_api


def test_the_areas_api_parts_answer_under_one_blueprint_named_api():
    first, second = api_part("first"), api_part("second")
    first.add_url_rule("/one", "one", lambda: "1")
    second.add_url_rule("/two", "two", lambda: "2")
    for _ in range(2):  # every app joins the parts afresh (tests build many apps)
        app = Flask(__name__)
        app.register_blueprint(join_api([first, second]))
        rules = {r.rule: r.endpoint for r in app.url_map.iter_rules() if r.endpoint != "static"}
        assert rules == {"/api/one": "api.one", "/api/two": "api.two"}
        assert app.test_client().get("/api/two").get_data(as_text=True) == "2"


def test_the_openapi_document_holds_every_areas_paths_once():
    paths = openapi.document()["paths"]
    assert len(paths) == sum(len(part) for part in openapi.PARTS)
    assert all(p.startswith("/api/") for p in paths)


def test_a_path_two_areas_declare_is_refused(monkeypatch):
    monkeypatch.setattr(openapi, "PARTS", [{"/api/x": {}}, {"/api/x": {}}])
    with pytest.raises(ValueError, match="/api/x"):
        openapi.document()
