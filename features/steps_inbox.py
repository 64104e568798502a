"""Steps for inbox.feature: the in-app notices a case's timers send reach the recipient's inbox (GET /api/inbox,
the page /inbox and its bell), link to the task, and are nobody else's."""
from __future__ import annotations

import re

from pytest_bdd import parsers, then, when

from web.notify_setup import build_deliverer


@when("投递进程发送待发的通知")
def deliver(office):
    build_deliverer(office.c).run_once()


def _inbox(office, user: str, query: str = "") -> dict:
    r = office.get(user, f"/api/inbox{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@then(parsers.parse('"{user}" 的收件箱有 {n:d} 条未读的 "{kind}"，说的是 "{task}"'))
def unread_of_kind(office, user, n, kind, task):
    found = [x for x in _inbox(office, user, "?unread=1")["notifications"] if x["kind_label"] == kind]
    assert len(found) == n, found
    notice = found[0]
    assert notice["case_id"] == office.case_id and task in notice["text"] and notice["task_name"] == task
    office.notice_id = notice["id"]


@then(parsers.parse('"{user}" 的收件箱有 {n:d} 条未读的 "{kind}"，写明 "{words}"'))
def unread_saying(office, user, n, kind, words):
    found = [x for x in _inbox(office, user, "?unread=1")["notifications"]
             if x["kind_label"] == kind and x["case_id"] == office.case_id]
    assert len(found) == n and all(words in x["text"] for x in found), found


@then(parsers.parse('"{user}" 的收件箱里没有 "{kind}"'))
def none_of_kind(office, user, kind):
    assert [x for x in _inbox(office, user)["notifications"] if x["kind_label"] == kind] == []


@then(parsers.parse('"{user}" 页面顶部的铃铛显示 {n:d} 条未读'))
def bell(office, user, n):
    client, _ = office.client(user)
    page = client.get("/inbox").get_data(as_text=True)
    shown = re.search(r'id="inbox-bell"[^>]*>.*?<span class="count[^"]*">(\d+)</span>', page, re.S)
    assert shown is not None and int(shown.group(1)) == n


@then(parsers.parse('"{user}" 的收件箱里没有这条催办，也不能把它标为已读'))
def not_theirs(office, user):
    assert office.notice_id not in [x["id"] for x in _inbox(office, user)["notifications"]]
    assert office.post(user, f"/api/inbox/{office.notice_id}/read").status_code == 404


@when(parsers.parse('"{user}" 在收件箱打开这条催办'))
def open_notice(office, user):
    client, _ = office.client(user)
    office.last_response = client.get(f"/inbox/{office.notice_id}/open")


@then(parsers.parse('进入 "{user}" 的 "{task}" 待办'))
def at_the_task(office, user, task):
    r = office.last_response
    assert r.status_code == 302, r.status_code
    task_id = int(re.search(r"/tasks/(\d+)$", r.headers["Location"]).group(1))
    tasks = office.get(user, "/api/tasks").get_json()["tasks"]
    assert [t["name"] for t in tasks if t["id"] == task_id] == [task]


@then(parsers.parse('"{user}" 的收件箱没有未读通知'))
def nothing_unread(office, user):
    assert _inbox(office, user)["unread"] == 0
