"""No page shows an untranslated code: the main pages, rendered for several personas in Chinese and in English, carry
none of the system's codes (process keys, unit codes, roles, journal event types, element ids, channel values) in
their visible text. Codes inside attributes (data-*, hrefs, hidden inputs) are fine: tags are stripped first."""
from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from engine.store import WorkItem
from tests.support.db import first_case_id
from tests.support.web import api_sign_in, office_app, page_sign_in

FORM = {"channel": "来访", "title": "企业拖欠三个月工资", "category": "劳动社保", "subcategory": "拖欠工资",
        "location": "county_a", "respondent": "某某建筑公司", "request": "要求支付拖欠的三个月工资",
        "petitioners-0-name": "张三", "petitioners-0-id_number": "410121199001031234",
        "petitioners-0-phone": "13812345678", "petitioners-0-address": "东城县人民路1号"}
CODES = ["petition_case", "county_a", "city_bureau", "unit_handler", "task.completed", "task.created",
         "effect.notify", "service.called", "case.started", "Task_", "Timer_", "Gateway_", "Flow_", "StartEvent_",
         "county_a_hrss", "city_hrss", "jointmeeting", "review_body"]
WORDS = re.compile(r"\b(phone|visit|letter)\b")  # channel values as codes


def visible_text(page: str) -> str:
    page = re.sub(r"<(script|style|template)\b.*?</\1>", " ", page, flags=re.S | re.I)
    page = re.sub(r"<[^>]+>", " ", page)
    return html.unescape(page)


def raw_codes(page: str, lang: str = "zh") -> list[str]:
    text = visible_text(page)
    found = [c for c in CODES if c in text]
    if lang == "zh":  # on English pages these are English words
        found += [m.group(1) for m in WORDS.finditer(text)]
    return found


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture
def app(container):
    return office_app(container)


@pytest.fixture
def case_id(app, container):
    """Two cases: the first at triage (the registrar's task), the second routed to 人社局 (the handler's task)."""
    c = page_sign_in(app, "registrar")
    for title in ("企业拖欠三个月工资", "工地拖欠农民工工资"):
        page = c.get("/register").get_data(as_text=True)
        r = c.post("/register", data=dict(FORM, title=title, csrf_token=csrf(page), action="save"))
        assert r.status_code in (200, 302, 303), r.status_code
    first = first_case_id(container)
    with container.session_factory() as s:
        second = s.scalar(select(WorkItem).where(WorkItem.case_id != first, WorkItem.state == "open"))
    api, headers = api_sign_in(app, "registrar")
    r = api.post(f"/api/tasks/{second.id}/complete", json={"data": {"route": "交办转送", "co_units": ["county_a_housing"]}},
                 headers=headers)
    assert r.status_code == 200, r.get_json()
    return first


PAGES = [  # (persona, path) ; {case} and {task} (the persona's open task) are filled in
    ("registrar", "/tasks"), ("registrar", "/tasks/{task}"), ("handler", "/tasks"), ("handler", "/tasks/{task}"),
    ("handler", "/cases"), ("registrar", "/cases"), ("registrar", "/cases/{case}"),
    ("registrar", "/register"), ("auditor", "/audit/cases/{case}"), ("auditor", "/audit/cases/{case}/replay"),
    ("admin", "/admin/incidents"), ("admin", "/admin/calendar"),
    ("admin", "/admin/organisation"), ("bureau", "/stats"), ("bureau", "/lists"),
]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_no_page_shows_a_raw_code(app, container, case_id, lang):
    units = {"registrar": "city_bureau", "handler": "county_a_hrss"}
    problems = {}
    clients = {}
    for user, path in PAGES:
        client = clients.setdefault(user, page_sign_in(app, user))
        with container.session_factory() as s:
            task = s.scalar(select(WorkItem.id).where(WorkItem.state == "open", WorkItem.unit == units.get(user)))
        url = path.format(case=case_id, task=task) + ("?lang=en" if lang == "en" else "")
        r = client.get(url)
        if r.status_code != 200:
            problems[url + f" ({user})"] = f"status {r.status_code}"
            continue
        found = raw_codes(r.get_data(as_text=True), lang)
        if found:
            problems[url + f" ({user})"] = sorted(set(found))
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_calendar_admin_page_has_the_main_navigation(app):
    page = page_sign_in(app, "admin").get("/admin/calendar").get_data(as_text=True)
    nav = page.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    assert 'href="/admin/incidents"' in nav and 'aria-current="page"' in nav  # the calendar itself is marked
    english = page_sign_in(app, "admin").get("/admin/calendar?lang=en").get_data(as_text=True)
    assert "Working-day calendar" in english.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]


def test_task_names_are_translated_on_english_pages(app, container, case_id):
    registrar = page_sign_in(app, "registrar")
    for url in ("/tasks?lang=en", f"/cases/{case_id}?lang=en"):
        text = visible_text(registrar.get(url).get_data(as_text=True))
        assert "Triage" in text and "分流研判" not in text, url
    handler = visible_text(page_sign_in(app, "handler").get("/tasks?lang=en").get_data(as_text=True))
    assert "签收或提出异议" not in handler
