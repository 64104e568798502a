"""The version diff over HTTP (issue #19 point 3): a deployment that changes one DMN cell and one timer is listed
as exactly that, by the API and on the page, on SQLite and PostgreSQL; only designers and admins may read it."""
from __future__ import annotations

import pytest

from tests.support.web import api_sign_in as sign_in, office_app

SIGN_TIMER = 'workdays(limits["sign_workdays"], dispatch["at"])'
T4_CELL = '<outputEntry id="Out_t4"><text>10</text></outputEntry>'


@pytest.fixture
def app(container):
    return office_app(container, actor="init", comment="lianxin init")


def deploy_cell_and_timer_change(app) -> None:
    client, headers = sign_in(app, "designer")
    proc = client.get("/api/designer/processes/petition_case").get_json()
    bpmn, dmn = proc["files"]["petition_case.bpmn"], proc["files"]["settings.dmn"]
    assert SIGN_TIMER in bpmn and T4_CELL in dmn
    files = {"petition_case.bpmn": bpmn.replace(SIGN_TIMER, 'workdays(4, dispatch["at"])'),
             "settings.dmn": dmn.replace(T4_CELL, T4_CELL.replace(">10<", ">7<"))}
    r = client.post("/api/designer/processes/petition_case/deploy", headers=headers,
                    json={"base_definition_id": proc["definition_id"], "files": files,
                          "comment": "签收期限改为4个工作日；13710 阶段性方案改为7个工作日"})
    assert r.status_code == 201, r.get_json()


def test_the_api_lists_the_dmn_cell_and_the_timer(app):
    deploy_cell_and_timer_change(app)
    client, _ = sign_in(app, "designer")
    r = client.get("/api/designer/processes/petition_case/diff?a=1&b=2")
    assert r.status_code == 200, r.get_json()
    diff = r.get_json()
    assert (diff["a"], diff["b"], diff["main_files"]) == (1, 2, {"a": "petition_case.bpmn", "b": "petition_case.bpmn"})
    assert {(f["name"], f["change"]) for f in diff["files"]} == {("petition_case.bpmn", "changed"),
                                                                  ("settings.dmn", "changed")}
    [decision] = diff["decisions"]
    assert (decision["decision_id"], decision["name"]) == ("deadline_settings", "时限设置")
    [cell] = decision["cells"]
    assert (cell["rule_id"], cell["row"], cell["column"], cell["old"], cell["new"]) == (
        "Rule_settings_default", 1, "13710 群体性政策性问题阶段性方案（工作日）", "10", "7")
    assert "T4 期限（10个工作日）（Timer_t4）" in cell["readers"]  # the called 13710 process reads it
    timer = next(e for e in diff["elements"] if e["element_id"] == "Timer_sign_limit")
    assert timer["change"] == "changed"
    fields = {f["key"]: f for f in timer["fields"]}
    assert (fields["timer.date"]["old"], fields["timer.date"]["new"]) == (SIGN_TIMER, 'workdays(4, dispatch["at"])')
    assert fields["timer.date"]["label"] == "计时器到期时间（timeDate）"
    assert fields["timer.setting"]["old"] == "签收或异议（limits.sign_workdays）"
    # the yellow reminder reads the same deadline: it changed too, and nothing else did
    assert {e["element_id"] for e in diff["elements"]} == {"Timer_sign_limit", "Timer_sign_yellow"}
    assert diff["counts"]["cells"] == 1 and diff["counts"]["changed"] == 2
    # the labels follow the language asked for
    english = client.get("/api/designer/processes/petition_case/diff?a=1&b=2&lang=en").get_json()
    label = next(e for e in english["elements"] if e["element_id"] == "Timer_sign_limit")["fields"][0]["label"]
    assert label == "Timer date (timeDate)"
    # by default: the version before the latest against the latest
    assert client.get("/api/designer/processes/petition_case/diff").get_json()["decisions"] == diff["decisions"]
    same = client.get("/api/designer/processes/petition_case/diff?a=2&b=2").get_json()
    assert same["files"] == [] and same["elements"] == []


def test_the_page_lists_them_and_marks_the_cell(app):
    deploy_cell_and_timer_change(app)
    client, _ = sign_in(app, "designer")
    html = client.get("/designer/petition_case/diff?a=1&b=2").get_data(as_text=True)
    assert 'data-element-id="Timer_sign_limit"' in html and "计时器到期时间（timeDate）" in html
    assert "settings.dmn：有修改" in html and "petition_case.bpmn：有修改" in html
    assert "第 1 行（Rule_settings_default）“13710 群体性政策性问题阶段性方案（工作日）”：" in html
    assert '<td class="diff-cell-changed" title="原为：10"><del>10</del> <ins>7</ins></td>' in html
    assert "两个版本的流程图相同" not in html
    english = client.get("/designer/petition_case/diff?a=1&b=2&lang=en").get_data(as_text=True)
    assert "Changes in decision tables" in english and "Timer date (timeDate)" in english


def test_who_may_read_a_diff(app):
    deploy_cell_and_timer_change(app)
    for username in ("handler", "auditor"):
        client, _ = sign_in(app, username)
        r = client.get("/api/designer/processes/petition_case/diff?a=1&b=2")
        assert r.status_code == 403, username
        assert "petition_case.bpmn" not in r.get_data(as_text=True)
        assert client.get("/designer/petition_case/diff?a=1&b=2").status_code == 403
    assert app.test_client().get("/api/designer/processes/petition_case/diff").status_code == 401
    admin, _ = sign_in(app, "admin")
    assert admin.get("/api/designer/processes/petition_case/diff?a=1&b=2").status_code == 200


def test_malformed_and_unknown_versions(app):
    client, _ = sign_in(app, "designer")
    for query in ("a=x", "a=0", "b=-1", "a=99999999999999999999"):
        r = client.get(f"/api/designer/processes/petition_case/diff?{query}")
        assert r.status_code == 400 and r.get_json()["error"]["message"], query
    assert client.get("/api/designer/processes/petition_case/diff?a=1&b=9").status_code == 404
    assert client.get("/api/designer/processes/nope/diff").status_code == 404
    assert client.get("/designer/petition_case/diff?a=1&b=9").status_code == 404
