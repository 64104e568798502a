"""Registration over the JSON API (201/422), likely repeats and merging, visibility of cases and tasks (403 for
another county's handler, the discipline track), reassign/delegate journaled. Runs on both databases."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import collect_files
from services import parties
from services.organisation import load_organisation

ROOT = Path(__file__).resolve().parents[2]

PETITION = {
    "channel": "来访", "title": "企业拖欠三个月工资", "category": "劳动社保", "subcategory": "拖欠工资",
    "location": "county_a", "respondent": "某某建筑公司", "facts": "2025年12月起未发工资",
    "request": "要求某某建筑公司支付拖欠的三个月工资",
    "petitioners": [{"name": "张三", "id_number": "410121199001031234", "phone": "13812345678",
                     "address": "东城县人民路1号"}],
}


@pytest.fixture
def app(container):
    from web.app import create_app

    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    return create_app(container)


class Desk:
    def __init__(self, app):
        self.app, self.clients = app, {}

    def client(self, user):
        if user not in self.clients:
            c = self.app.test_client()
            r = c.post("/api/session", json={"username": user, "password": "demo"})
            assert r.status_code == 201
            self.clients[user] = (c, {"X-CSRF-Token": r.get_json()["csrf_token"]})
        return self.clients[user]

    def post(self, user, path, body=None):
        c, h = self.client(user)
        return c.post(path, json=body or {}, headers=h)

    def get(self, user, path):
        return self.client(user)[0].get(path)

    def task(self, user, case_id, name):
        tasks = self.get(user, "/api/tasks?scope=all&limit=500").get_json()["tasks"]
        return next(t for t in tasks if t["case_id"] == case_id and t["name"] == name)


@pytest.fixture
def desk(app):
    return Desk(app)


def test_register_returns_number_and_query_code(desk, container):
    r = desk.post("registrar", "/api/cases", PETITION)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["case_no"].startswith("XF410121") and body["case_no"][16:18] == "01"
    assert len(body["query_code"]) == 10 and body["status"] == "waiting"
    view = container.runtime.get_case(body["id"])
    # the case keeps the petitioner masked, with a reference to the sealed party (issue #23)
    assert view.data["petitioner"]["name"] == "张*" and view.data["registering_unit"] == "city_bureau"
    with container.session_factory() as s:
        full = parties.resolve_case(s, container.extras["vault"], body["id"], view.data)
    assert full["petitioner"]["name"] == "张三"
    assert [t.name for t in view.tasks] == ["分流研判"]


def test_invalid_registration_is_422_with_field_errors_and_saves_nothing(desk, container):
    bad = dict(PETITION, title="", category="不存在的分类", location="county_a")
    bad.pop("request")
    r = desk.post("registrar", "/api/cases", bad)
    assert r.status_code == 422
    fields = {e["field"]: e["message"] for e in r.get_json()["error"]["details"]}
    assert set(fields) >= {"title", "request", "category"}
    assert "分类" in fields["category"]
    from sqlalchemy import func, select

    from engine.store import Case
    with container.session_factory() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_a_group_visit_elects_at_most_five_representatives(desk):
    people = [{"name": f"代表{i}"} for i in range(6)]
    r = desk.post("registrar", "/api/cases", dict(PETITION, group_visit=True, visitors_count=30, petitioners=people))
    assert r.status_code == 422
    assert any(e["field"] == "petitioners" and "5" in e["message"] for e in r.get_json()["error"]["details"])
    ok = desk.post("registrar", "/api/cases", dict(PETITION, group_visit=True, visitors_count=30,
                                                   petitioners=people[:5]))
    assert ok.status_code == 201


def test_only_registering_roles_may_register(desk):
    assert desk.post("handler", "/api/cases", PETITION).status_code == 403


def test_repeats_by_person_and_by_similar_request_then_merge(desk, container):
    first = desk.post("registrar", "/api/cases", PETITION).get_json()
    other = dict(PETITION, title="小区噪声扰民", category="环境保护", request="夜间施工噪声影响休息",
                 petitioners=[{"name": "李四", "phone": "13900000000"}])
    desk.post("registrar", "/api/cases", other)
    # same phone, different wording
    same_phone = dict(PETITION, title="再次反映", request="还是没有发工资",
                      petitioners=[{"name": "张三", "phone": "138 1234 5678"}])
    found = desk.post("registrar", "/api/cases/repeats", same_phone).get_json()["repeats"]
    assert [c["case_id"] for c in found] == [first["id"]]
    assert "同一联系电话" in found[0]["reasons"]
    assert found[0]["petitioner"] == "张*"  # masked
    # a stranger, same place and category, similar request
    reworded = dict(PETITION, title="某某建筑公司拖欠工资三个月", request="要求建筑公司支付拖欠三个月的工资",
                    petitioners=[{"name": "王五"}])
    found = desk.post("registrar", "/api/cases/repeats", reworded).get_json()["repeats"]
    assert [c["case_id"] for c in found] == [first["id"]]
    assert any(r.startswith("诉求相似") for r in found[0]["reasons"])
    unrelated = dict(PETITION, title="养老金计算", request="核对养老保险缴费年限", petitioners=[{"name": "赵六"}])
    assert desk.post("registrar", "/api/cases/repeats", unrelated).get_json()["repeats"] == []
    dry = desk.post("registrar", "/api/cases", dict(same_phone, dry_run=True)).get_json()
    assert dry["valid"] and dry["repeats"][0]["case_id"] == first["id"]
    merged = desk.post("registrar", "/api/cases", dict(same_phone, merge_into=first["id"]))
    assert merged.status_code == 201, merged.get_json()
    body = merged.get_json()
    assert body["merged_into"] == first["case_no"] and body["status"] == "completed"
    view = container.runtime.get_case(body["id"])
    assert view.data["route"] == "重复信访" and view.data["original_case_no"] == first["case_no"]


def _dispatch(desk, case_id):
    triage = desk.task("registrar", case_id, "分流研判")
    r = desk.post("registrar", f"/api/tasks/{triage['id']}/complete", {"data": {"route": "交办转送"}})
    assert r.status_code == 200, r.get_json()


def test_another_countys_handler_cannot_open_the_case_or_its_tasks(desk):
    case = desk.post("registrar", "/api/cases", PETITION).get_json()
    _dispatch(desk, case["id"])
    assert desk.get("handler", f"/api/cases/{case['id']}").status_code == 200
    assert desk.get("handler_b", f"/api/cases/{case['id']}").status_code == 403
    sign = desk.task("handler", case["id"], "签收或提出异议")
    assert desk.post("handler_b", f"/api/tasks/{sign['id']}/claim").status_code == 403
    listed = desk.get("handler_b", "/api/tasks?scope=all").get_json()["tasks"]
    assert all(t["case_id"] != case["id"] for t in listed)
    page = desk.get("handler_b", f"/tasks/{sign['id']}")
    assert page.status_code == 403


def test_an_accusation_is_seen_only_by_the_discipline_unit(desk):
    case = desk.post("registrar", "/api/cases", dict(PETITION, nature="检举控告", respondent_level="县管",
                                                     title="举报某局长违规")).get_json()
    assert desk.get("registrar", f"/api/cases/{case['id']}").status_code == 200
    triage = desk.task("registrar", case["id"], "分流研判")
    r = desk.post("registrar", f"/api/tasks/{triage['id']}/complete", {"data": {"route": "检举控告"}})
    assert r.status_code == 200
    for user in ("registrar", "admin", "leader", "county", "handler", "designer"):
        assert desk.get(user, f"/api/cases/{case['id']}").status_code == 403, user
    assert desk.get("cdi_a", f"/api/cases/{case['id']}").status_code == 200
    assert desk.get("auditor", f"/api/cases/{case['id']}").status_code == 200
    listed = desk.get("admin", "/cases").get_data(as_text=True)
    assert "举报某局长违规" not in listed
    assert "举报某局长违规" in desk.get("cdi_a", "/cases").get_data(as_text=True)


def test_reassign_and_delegate_within_the_unit_are_journaled(desk, container):
    case = desk.post("registrar", "/api/cases", PETITION).get_json()
    triage = desk.task("registrar", case["id"], "分流研判")
    assert desk.post("registrar", f"/api/tasks/{triage['id']}/claim").status_code == 200
    r = desk.post("registrar", f"/api/tasks/{triage['id']}/reassign", {"to": "handler_b"})
    assert r.status_code == 422  # not of the unit
    r = desk.post("registrar", f"/api/tasks/{triage['id']}/delegate", {"to": "designer", "note": "代办"})
    assert r.status_code == 200 and r.get_json()["assignee"] == "designer"
    events = [e for e in container.runtime.history(case["id"]) if e["type"] == "work_item.delegated"]
    assert events and events[0]["actor"] == "registrar" and events[0]["data"]["to"] == "designer"
    assert container.runtime.verify(case["id"]).ok


def test_claim_and_give_back_are_journaled_with_actor_and_time(desk, container, clock):
    case = desk.post("registrar", "/api/cases", PETITION).get_json()
    triage = desk.task("registrar", case["id"], "分流研判")
    version = container.runtime.get_case(case["id"]).version
    assert desk.post("registrar", f"/api/tasks/{triage['id']}/claim").status_code == 200
    assert desk.post("registrar", f"/api/tasks/{triage['id']}/claim").status_code == 200  # holds it already
    assert desk.post("admin", f"/api/tasks/{triage['id']}/claim").status_code == 409  # someone else holds it
    assert desk.post("registrar", f"/api/tasks/{triage['id']}/unclaim").status_code == 200
    events = [e for e in container.runtime.history(case["id"]) if e["type"].startswith("work_item.")]
    assert [(e["type"], e["actor"], e["data"]["from"], e["data"]["to"]) for e in events] == [
        ("work_item.claimed", "registrar", None, "registrar"),
        ("work_item.unclaimed", "registrar", "registrar", None)]
    assert all(e["at"] == clock.now() and e["element_id"] == "Task_triage" and
               e["data"]["work_item_id"] == triage["id"] for e in events)
    view = container.runtime.get_case(case["id"])
    assert view.version == version  # an open form elsewhere stays valid
    assert container.runtime.verify(case["id"]).ok
    # the case still moves on, and its journal still replays and verifies after the side events
    assert desk.post("registrar", f"/api/tasks/{triage['id']}/claim").status_code == 200
    r = desk.post("registrar", f"/api/tasks/{triage['id']}/complete", {"data": {"route": "交办转送"}, "version": version})
    assert r.status_code == 200, r.get_json()
    check = container.runtime.verify(case["id"])
    assert check.ok, check
    assert container.runtime.replay(case["id"]).status == container.runtime.get_case(case["id"]).status


def test_page_claim_and_give_back_are_journaled(desk, container):
    case = desk.post("registrar", "/api/cases", PETITION).get_json()
    triage = desk.task("registrar", case["id"], "分流研判")
    c, h = desk.client("registrar")
    assert c.post(f"/tasks/{triage['id']}/claim", data={"csrf_token": h["X-CSRF-Token"]}).status_code == 302
    assert c.post(f"/tasks/{triage['id']}/unclaim", data={"csrf_token": h["X-CSRF-Token"]}).status_code == 302
    kinds = [e["type"] for e in container.runtime.history(case["id"]) if e["type"].startswith("work_item.")]
    assert kinds == ["work_item.claimed", "work_item.unclaimed"]


def _page_ids(desk, user, query):
    import re

    html = desk.get(user, f"/tasks?{query}").get_data(as_text=True)
    return [int(x) for x in re.findall(r'<tr data-task="(\d+)"', html)], html


def test_task_list_api_filters_sorts_and_pages_like_the_page(desk, container, clock):
    from datetime import timedelta

    ids = {}
    for name, channel in (("A", "来访"), ("B", "来信"), ("C", "来访")):
        case = desk.post("registrar", "/api/cases", dict(PETITION, channel=channel, title=f"工资事项{name}",
                                                         location="county_b")).get_json()
        triage = container.runtime.get_case(case["id"]).tasks[0]
        container.runtime.complete(triage.id, {"route": "交办转送"}, actor="registrar")  # to county B, with a limit
        ids[name] = case["id"]
        clock.advance(timedelta(days=1))

    def api(query):
        r = desk.get("admin", f"/api/tasks?{query}")
        assert r.status_code == 200, r.get_json()
        return r.get_json()

    def cases(body):
        return [t["case_id"] for t in body["tasks"]]

    every = api("scope=all&element=Task_sign")
    assert every["total"] == 3 and cases(every) == [ids["A"], ids["B"], ids["C"]]
    dues = [t["due_at"] for t in every["tasks"]]
    assert all(dues) and dues == sorted(dues) and len(set(dues)) == 3
    assert cases(api("scope=all&element=Task_sign&sort=-due")) == [ids["C"], ids["B"], ids["A"]]
    visits = api("scope=all&channel=来访&sort=-due")
    assert visits["total"] == 2 and cases(visits) == [ids["C"], ids["A"]]
    assert {t["channel"] for t in visits["tasks"]} == {"来访"} and visits["filters"]["channel"] == "来访"
    second = api("scope=all&limit=1&offset=1")
    assert second["total"] == 3 and cases(second) == [ids["B"]] and (second["limit"], second["offset"]) == (1, 1)
    assert api("scope=all&unit=county_b_hrss&task=签收或提出异议&process=petition_case")["total"] == 3
    assert api("scope=all&unit=county_a_hrss")["total"] == 0
    assert api("scope=all&element=Task_triage")["total"] == 0
    assert api("scope=all&process=simple_case")["total"] == 0
    assert api("scope=all&overdue=1")["total"] == 0
    clock.advance(timedelta(days=60))
    late = api("scope=all&overdue=1")
    assert late["total"] == 3 and {t["alert"] for t in late["tasks"]} == {"red"}

    # the page lists the same items in the same order for the same filters
    for query in ("scope=all&channel=来访&sort=-due", "scope=all&sort=due", "scope=all&overdue=1&channel=来信"):
        page_ids, html = _page_ids(desk, "admin", query)
        body = api(query)
        assert page_ids == [t["id"] for t in body["tasks"]] and page_ids, query
        assert f"共 {body['total']} 项" in html
    assert "由远到近" in _page_ids(desk, "admin", "scope=all&sort=-due")[1]
    # county B's handler sees them in the unit scope; county A's does not
    assert desk.get("handler_b", "/api/tasks?scope=unit").get_json()["total"] == 3
    assert desk.get("handler", "/api/tasks?scope=all").get_json()["total"] == 0


def test_task_list_counts_up_to_its_cap_and_pages_on(desk, container, monkeypatch):
    """A list longer than the count's cap says "more than" instead of counting every item (issue #21: the
    administrator's whole list at 100,000 open items), and still pages on; below the cap the count is exact."""
    from web.desk import task_list

    for name in "ABC":
        desk.post("registrar", "/api/cases", dict(PETITION, title=f"工资事项{name}"))
    exact = desk.get("admin", "/api/tasks?scope=all").get_json()
    assert exact["total"] == 3 and exact["more"] is False
    monkeypatch.setattr(task_list, "COUNT_CAP", 2)
    capped = desk.get("admin", "/api/tasks?scope=all&limit=2").get_json()
    assert capped["total"] == 2 and capped["more"] is True and len(capped["tasks"]) == 2
    rest = desk.get("admin", "/api/tasks?scope=all&limit=2&offset=2").get_json()
    assert len(rest["tasks"]) == 1 and {t["id"] for t in rest["tasks"]}.isdisjoint(t["id"] for t in capped["tasks"])
    monkeypatch.setattr(task_list, "COUNT_CAP", 3)  # exactly at the cap: exact, no "more"
    assert desk.get("admin", "/api/tasks?scope=all").get_json()["more"] is False
    monkeypatch.setattr(task_list, "COUNT_CAP", 2)
    monkeypatch.setattr("web.desk.handling.PAGE_SIZE", 2)
    html = desk.get("admin", "/tasks?scope=all").get_data(as_text=True)
    assert "超过 2 项" in html and "第 1 页" in html and "page=2" in html and "第 1 / " not in html
    last = desk.get("admin", "/tasks?scope=all&page=2").get_data(as_text=True)
    assert "page=1" in last and "page=3" not in last


def test_task_list_api_says_which_parameter_is_wrong(desk):
    for query, word in (("sort=soon", "sort"), ("overdue=maybe", "overdue"), ("scope=everyone", "scope"),
                        ("limit=x", "limit")):
        r = desk.get("registrar", f"/api/tasks?{query}")
        assert r.status_code == 400, query
        assert word in r.get_json()["error"]["message"], query
    # the page drops a bad value instead of failing
    assert desk.get("registrar", "/tasks?sort=soon&scope=everyone").status_code == 200


def test_the_query_code_is_shown_once_and_kept_only_as_a_keyed_hash(desk, container):
    import json

    from services import query_code
    from services.index_key import IndexKey

    key = IndexKey.from_secret_key(container.settings.secret_key)

    body = desk.post("registrar", "/api/cases", PETITION).get_json()
    code, case_no = body["query_code"], body["case_no"]
    view = container.runtime.get_case(body["id"])
    stored = view.data["registration"]["query_code_hash"]
    assert stored == f"hmac-sha256${key.key_id}${key.digest('query_code', code)}"
    assert query_code.matches(code, stored, key) and not query_code.matches(code, stored)  # useless without the key
    assert not query_code.matches(code, stored, IndexKey.from_secret_key("another deployment"))
    assert code not in json.dumps(view.data, ensure_ascii=False, default=str)
    journal = json.dumps(container.runtime.history(body["id"]), ensure_ascii=False, default=str)
    assert code not in journal and case_no in journal
    assert desk.get("admin", f"/api/cases/{body['id']}").get_data(as_text=True).count(code) == 0
    public = desk.app.test_client()
    assert public.get(f"/api/public/cases/{case_no}?code={code.lower()}").status_code == 200
    assert public.get(f"/api/public/cases/{case_no}?code=ZZZZZZZZZZ").status_code == 404
    # another registration gets another code
    other = desk.post("registrar", "/api/cases", dict(PETITION, title="另一件事")).get_json()
    assert other["query_code"] != code
    assert not query_code.matches(code, container.runtime.get_case(other["id"]).data["registration"]["query_code_hash"],
                                  key)
    assert container.runtime.verify(body["id"]).ok


def test_a_task_form_is_read_once_per_deployment_and_a_new_deployment_brings_its_own(desk, container, tmp_path):
    """Submissions are checked against the form of the case's own deployment; the form is read from the
    database once, not with every BPMN file of the deployment on every submission."""
    import json
    import shutil

    from sqlalchemy import event

    from web.desk import handling as handling_web

    handling_web._FORM_TEXTS.clear()
    reads: list[str] = []

    def count(conn, cursor, statement, *args):
        if "sources_json" in statement:
            reads.append(statement)

    first = desk.post("registrar", "/api/cases", PETITION).get_json()["id"]
    task = desk.task("registrar", first, "分流研判")
    event.listen(container.engine, "before_cursor_execute", count)
    try:
        for _ in range(2):
            r = desk.post("registrar", f"/api/tasks/{task['id']}/complete", {"data": {"route": "不存在"}})
            assert r.status_code == 422 and r.get_json()["error"]["details"][0]["field"] == "route"
        assert len(reads) == 1, reads
    finally:
        event.remove(container.engine, "before_cursor_execute", count)

    changed = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", changed)
    form = changed / "forms" / "triage.schema.json"
    schema = json.loads(form.read_text(encoding="utf-8"))
    schema["required"] = ["route", "triage_note"]
    form.write_text(json.dumps(schema, ensure_ascii=False), encoding="utf-8")
    container.runtime.deploy(collect_files([str(changed)]), actor="test")
    second = desk.post("registrar", "/api/cases", PETITION).get_json()["id"]
    newer = desk.task("registrar", second, "分流研判")
    r = desk.post("registrar", f"/api/tasks/{newer['id']}/complete", {"data": {"route": "交办转送"}})
    assert r.status_code == 422 and [e["field"] for e in r.get_json()["error"]["details"]] == ["triage_note"]
    r = desk.post("registrar", f"/api/tasks/{task['id']}/complete", {"data": {"route": "交办转送"}})
    assert r.status_code == 200, r.get_json()  # the first case keeps the form it was started with
