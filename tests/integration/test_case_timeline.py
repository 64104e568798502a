"""The case page's timeline tells who took, gave back, reassigned or delegated a task, and a move to a new process
version, in plain Chinese with the time, on both databases."""
from __future__ import annotations

import re

import pytest

from engine.case_migration import CaseMigration
from services.case_timeline import timeline
from services.store import drafts
from tests.support.web import office_app, page_sign_in

DATA = {"category": "劳动社保", "location": "county_a"}


@pytest.fixture
def app(container):
    return office_app(container)


def timeline_items(client, case_id: int) -> list[str]:
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    part = html[html.index('id="timeline"'):]
    part = part[:part.index("</ol>")] if "</ol>" in part else part[:part.index("</ul>")]
    return [re.sub(r"<[^>]+>", " ", li) for li in re.findall(r"<li[^>]*>(.*?)</li>", part, re.DOTALL)]


def test_claim_give_back_reassign_and_delegate_are_on_the_timeline(app, container):
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    item = case.tasks[0]
    rt.claim(item.id, "handler")
    rt.claim(item.id, "handler", unclaim=True)
    rt.claim(item.id, "handler")
    rt.hand_over(item.id, "handler_housing", actor="handler", kind="reassigned", note="本案涉及住房")
    rt.hand_over(item.id, "handler", actor="county", kind="delegated")

    items = timeline_items(page_sign_in(app, "county"), case.id)
    text = "\n".join(items)
    name = item.name
    assert f"人社局承办人老李 认领「{name}」" in text, text
    assert f"人社局承办人老李 退回「{name}」，交回本单位待认领" in text, text
    assert f"人社局承办人老李 将「{name}」转办给 东城县住建局承办人" in text, text
    assert "原办理人：人社局承办人老李；本案涉及住房" in text, text
    assert f"东城县信访局张科长 将「{name}」委托给 人社局承办人老李" in text, text
    # newest first, each with its Beijing time in the Chinese way
    assert items[0].index("委托给") > 0 and "2026年3月2日 09:00" in items[0], items[0]
    claims = [i for i in items if "认领「" in i]
    assert len(claims) == 2


def test_migration_to_a_new_version_is_on_the_timeline(app, container):
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    with container.session_factory() as s:
        base = drafts.version_row(s, "simple_case")
        main = drafts.main_file(base)
        text = drafts.sources_of(base)[main]
        files = drafts.bundle(base, {main: re.sub(r"workdays\(5\)", "workdays(3)", text)})
    [v2] = [v for v in rt.deploy(files, actor="designer", comment="改签收期限") if v.process_key == "simple_case"]
    CaseMigration(rt).migrate(v2.definition_id, [case.id], actor="designer")

    text = "\n".join(timeline_items(page_sign_in(app, "county"), case.id))
    assert "流程设计员 将案件从流程第1版迁移到第2版" in text, text
    assert "1个期限按新版本重新计算" in text, text


def test_timeline_without_names_keeps_user_ids_and_an_unassigned_hand_over():
    history = [
        {"seq": 1, "at": None, "actor": "registrar", "type": "task.ready", "element_id": "T",
         "data": {"name": "签收", "type": "UserTask"}},
        {"seq": 2, "at": None, "actor": "county", "type": "work_item.reassigned", "element_id": "T",
         "data": {"work_item_id": 1, "from": None, "to": "handler", "note": ""}},
    ]
    [ready, moved] = timeline(history)
    assert ready.text == "生成待办「签收」"
    assert (moved.kind, moved.text, moved.detail) == ("handover", "county 将「签收」转办给 handler", "原无办理人")


def test_timeline_in_english_on_an_english_page(app, container):
    rt = container.runtime
    case = rt.start("simple_case", DATA, "registrar")
    item = case.tasks[0]
    rt.claim(item.id, "handler")
    rt.hand_over(item.id, "handler_housing", actor="handler", kind="reassigned")
    client = page_sign_in(app, "county")
    client.get("/?lang=en")  # the language is remembered for the session
    text = "\n".join(timeline_items(client, case.id))
    assert "登记员小王 registered the petition" in text, text
    assert item.name == "签收办理" and "签收办理" not in text  # the task by its English name on an English page
    assert "人社局承办人老李 claimed “Sign for and handle”" in text, text
    assert "人社局承办人老李 reassigned “Sign for and handle” to 东城县住建局承办人" in text, text
    assert "Previous assignee: 人社局承办人老李" in text, text
    assert re.search(r"Deadline “[^”]+” computed: due [A-Z][a-z]+ \d{1,2}, \d{4}", text), text
    assert "认领" not in text and "登记信访事项" not in text
