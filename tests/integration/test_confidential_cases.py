"""Confidential cases by property (检举控告): the case row carries the flag and the receiving unit; the task list,
the task actions and the triage page read it; a failed route-out leaves the case hidden; migration 0017 marks the
cases of before from their journal and links the repeats of before."""
from __future__ import annotations

from sqlalchemy import select, update

from engine.store import Case, WorkItem
from services.orgchart import OrgChart
from services.store.handling import RepeatLink
from tests.support.migrations import upgraded_from
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in

PETITIONER = {"name": "张某某", "phone": "13800001234"}


def _register(app, **extra) -> dict:
    client, headers = api_sign_in(app, "registrar")
    data = {"channel": "来信", "title": "反映某干部收受礼金", "request": "要求调查处理", "category": "纪检监察",
            "location": "county_a", "petitioners": [dict(PETITIONER)], **extra}
    r = client.post("/api/cases", json=data, headers=headers)
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def _triage_item(container, case_id) -> WorkItem:
    with container.session_factory() as s:
        return s.scalar(select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.state == "open"))


def test_a_confidential_case_leaves_the_task_lists_of_everyone_but_its_unit(container):
    app = office_app(container)
    case = _register(app, category="劳动社保")
    item = _triage_item(container, case["id"])
    client, headers = api_sign_in(app, "registrar")
    listed = lambda c: [t["id"] for t in c.get("/api/tasks?scope=all").get_json()["tasks"]]  # noqa: E731
    assert item.id in listed(client)
    with container.session_factory() as s, s.begin():  # as migration 0017 marks a case of before from its journal
        s.execute(update(Case).where(Case.id == case["id"]).values(confidential=True,
                                                                   confidential_unit="county_a_cdi"))
    assert item.id not in listed(client)
    assert client.get(f"/api/cases/{case['id']}").status_code == 403
    r = client.post(f"/api/tasks/{item.id}/complete", json={"data": {"route": "交办转送"}}, headers=headers)
    assert r.status_code == 403
    receiver, _ = api_sign_in(app, "cdi_a")
    assert receiver.get(f"/api/cases/{case['id']}").status_code == 200
    other, _ = api_sign_in(app, "cdi_city")  # another discipline organ: not the receiving unit
    assert other.get(f"/api/cases/{case['id']}").status_code == 403


def test_a_route_out_that_fails_leaves_the_case_hidden_with_the_error_naming_the_missing_organ(container):
    app = office_app(container)
    chart = OrgChart.from_yaml()
    chart.units.pop("city_cdi")  # this office has no city discipline organ
    container.runtime.ports["organisation"] = chart
    case = _register(app, respondent_level="市管", nature="检举控告", subcategory="检举控告")
    client, headers = api_sign_in(app, "registrar")
    item = _triage_item(container, case["id"])
    r = client.post(f"/api/tasks/{item.id}/complete", json={"data": {"route": "检举控告"}}, headers=headers)
    assert r.status_code == 200, r.get_json()
    [incident] = r.get_json()["incidents"]
    assert "某某市没有纪检监察机关" in incident["message"] and "市管" in incident["message"]
    with container.session_factory() as s:
        row = s.get(Case, case["id"])
        assert (row.confidential, row.confidential_unit) == (True, None)
    assert client.get(f"/api/cases/{case['id']}").status_code == 403  # the registrar no longer reads it
    auditor, _ = api_sign_in(app, "auditor")
    assert auditor.get(f"/api/cases/{case['id']}").status_code == 200


def test_the_triage_page_refuses_an_accusation_without_the_management_level_and_keeps_the_task(container):
    app = office_app(container)
    case = _register(app, category="其他")  # registered as something else: triage finds it is an accusation
    item = _triage_item(container, case["id"])
    page = page_sign_in(app, "registrar")
    html = page.get(f"/tasks/{item.id}").get_data(as_text=True)
    assert "被反映人管理权限" in html and "涉及选人用人问题" in html
    r = page.post(f"/tasks/{item.id}", data={"csrf_token": csrf_of(html), "route": "检举控告",
                                             "version": str(container.runtime.get_case(case["id"]).version)})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and "检举控告须注明被反映人管理权限" in body
    assert _triage_item(container, case["id"]).id == item.id  # still open, no incident
    assert not container.runtime.get_case(case["id"]).incidents
    r = page.post(f"/tasks/{item.id}", data={"csrf_token": csrf_of(body), "route": "重复信访",
                                             "original_case_no": "XF4101212026030102999999"})
    assert "不存在" in r.get_data(as_text=True) and not container.runtime.get_case(case["id"]).incidents


def test_migration_0017_marks_earlier_accusations_and_links_earlier_repeats(container, database_url):
    app = office_app(container)
    client, headers = api_sign_in(app, "registrar")
    accusation = _register(app, respondent_level="县管")
    r = client.post(f"/api/tasks/{_triage_item(container, accusation['id']).id}/complete",
                    json={"data": {"route": "检举控告"}}, headers=headers)
    assert r.status_code == 200 and not r.get_json()["incidents"], r.get_json()
    original = _register(app, category="劳动社保")
    client.post(f"/api/tasks/{_triage_item(container, original['id']).id}/complete",
                json={"data": {"route": "交办转送"}}, headers=headers)
    repeat = _register(app, category="劳动社保")
    r = client.post(f"/api/tasks/{_triage_item(container, repeat['id']).id}/complete",
                    json={"data": {"route": "重复信访", "original_case_no": original["case_no"]}}, headers=headers)
    assert r.status_code == 200 and not r.get_json()["incidents"], r.get_json()
    upgraded_from(database_url, "0016_erasure")  # as the database stood before 0017: no flag, no links
    with container.session_factory() as s:
        marked = {c.id: (c.confidential, c.confidential_unit) for c in s.scalars(select(Case))}
        assert marked[accusation["id"]] == (True, "county_a_cdi")
        assert marked[original["id"]] == (False, None) and marked[repeat["id"]] == (False, None)
        link = s.get(RepeatLink, repeat["id"])
        assert (link.original_case_id, link.original_case_no, link.outcome) == \
            (original["id"], original["case_no"], "并入原件")
    assert client.get(f"/api/cases/{accusation['id']}").status_code == 403
    receiver, _ = api_sign_in(app, "cdi_a")
    assert receiver.get(f"/api/cases/{accusation['id']}").status_code == 200
