"""问责 from the case page (web/casepage/actions.py) and the API: offered only to the office that supervises a unit of
the case (the bureau, the county office for its departments); the confirmation page says what it will do; the
confirmed form records it (register row, journal, the linked written-feedback case); the unit itself and the other
roles neither see the button nor can post; the annual report reads the record. Both databases."""
from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from engine.store import Case, CaseRegister, JournalEvent
from tests.integration.test_governed_clocks import accepted_case
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in

USERS = ("registrar", "handler", "county", "leader", "bureau", "jointmeeting", "admin", "auditor", "prov_bureau")


@pytest.fixture
def app(container):
    return office_app(container)


def offered(app, user, case_id) -> set[str]:
    html = page_sign_in(app, user).get(f"/cases/{case_id}").get_data(as_text=True)
    return set(re.findall(r'id="action-(\w+)"', html))


def events(container, case_id):
    with container.session_factory() as s:
        rows = s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id,
                                                    JournalEvent.type == "case.accountability_recorded"))
        return [(r.actor, json.loads(r.data)) for r in rows]


def test_the_supervising_offices_record_from_the_case_page_and_the_unit_cannot(app, container):
    case_id = accepted_case(container)  # 东城县人社局 handles it, assigned by the 市信访局
    for user in USERS:
        assert ("accountability" in offered(app, user, case_id)) == (user in ("bureau", "county")), user
    for user in ("handler", "leader", "admin", "prov_bureau", "jointmeeting"):
        page = page_sign_in(app, user)
        token = csrf_of(page.get(f"/cases/{case_id}").get_data(as_text=True))
        assert page.get(f"/cases/{case_id}/actions/accountability").status_code == 403, user
        r = page.post(f"/cases/{case_id}/actions/accountability",
                      data={"unit": "county_a_hrss", "kind": "通报", "reason": "x", "csrf_token": token})
        assert r.status_code == 403, user
    assert events(container, case_id) == []

    page = page_sign_in(app, "bureau")
    html = page.get(f"/cases/{case_id}/actions/accountability").get_data(as_text=True)
    assert "市信访局对东城县人力资源和社会保障局" in html and "限期整改：1 至 90 日" in html
    form = {"unit": "county_a_hrss", "kind": "通报", "reason": "", "person": "", "limit_days": "",
            "csrf_token": csrf_of(html)}
    r = page.post(f"/cases/{case_id}/actions/accountability", data=form)
    assert r.status_code == 302 and events(container, case_id) == []  # no reason: back to the form, nothing done
    r = page.post(f"/cases/{case_id}/actions/accountability", data=dict(form, reason="受理告知逾期", limit_days="10"))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/cases/{case_id}#timeline")
    [(actor, event)] = events(container, case_id)
    assert actor == "bureau" and event["kind"] == "通报" and event["office"] == "city_bureau"
    assert event["limit_days"] == 10 and event["feedback_due_at"].startswith("2026-03-1")
    with container.session_factory() as s:
        feedback = s.get(Case, event["feedback_case_id"])
        assert feedback.parent_case_id == case_id and feedback.process_key == "accountability_feedback"
        row = s.scalars(select(CaseRegister).where(CaseRegister.case_id == case_id,
                                                   CaseRegister.register == "accountability")).one()
        assert row.unit == "county_a_hrss" and row.status == "open" and json.loads(row.data)["due"]

    shown = page_sign_in(app, "bureau").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "以市信访局名义对东城县人力资源和社会保障局作出通报" in shown and "受理告知逾期" in shown
    assert 'id="linked-cases"' in shown and "问责书面反馈" in shown

    c, h = api_sign_in(app, "bureau")
    body = c.get(f"/api/cases/{case_id}/accountability", headers=h).get_json()
    assert [r["data"]["kind"] for r in body["records"]] == ["通报"]
    assert [u["unit"] for u in body["may_record"]] == ["county_a_hrss"]
    report = c.get("/api/accountability/report?year=2026", headers=h).get_json()
    [unit] = report["units"]
    assert unit["unit"] == "county_a_hrss" and unit["通报"] == 1 and unit["pending"] == 1
    assert c.get("/api/accountability/report?year=20x6", headers=h).status_code == 422
    # the unit's own people read no report of the units; a handler has no role for it
    c2, h2 = api_sign_in(app, "handler")
    assert c2.get("/api/accountability/report", headers=h2).status_code == 403
    assert container.runtime.verify(case_id).ok
