"""The designer's validation endpoint with an element of 200,000 attributes (it kept a thread busy for over ten
minutes): answered with one clear problem, nothing deployed, and the same for a deployment. Both databases."""
from __future__ import annotations

import re

import pytest

from engine.definitions import MAX_ATTRIBUTES_PER_ELEMENT
from tests.support.web import api_sign_in, office_app


@pytest.fixture
def app(container):
    return office_app(container, actor="init", comment="lianxin init")


def test_an_element_with_200000_attributes_is_refused_with_one_problem(app):
    client, headers = api_sign_in(app, "designer")
    proc = client.get("/api/designer/processes/petition_case").get_json()
    text = proc["files"][proc["main_file"]]
    attrs = " ".join(f'a{i}="1"' for i in range(200_000))
    bad = {proc["main_file"]: re.sub(r"<bpmn:userTask ", lambda m: m.group(0) + attrs + " ", text, count=1)}
    body = {"base_definition_id": proc["definition_id"], "files": bad}
    r = client.post("/api/designer/processes/petition_case/validate", headers=headers, json=body)
    assert r.status_code == 200
    result = r.get_json()
    assert result["ok"] is False
    [problem] = result["problems"]
    assert problem["file"] == "petition_case.bpmn" and problem["line"]
    assert f"超过上限 {MAX_ATTRIBUTES_PER_ELEMENT}" in problem["message"] and "请删除多余的属性" in problem["message"]
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers, json=dict(body, comment="x"))
    assert r.status_code == 422 and len(r.get_json()["problems"]) == 1
    versions = client.get("/api/designer/processes/petition_case/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [1]
