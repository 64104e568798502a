"""Steps for repeats.feature: a repeat petition names its original by number at triage; the original's stage
decides what the repeat becomes; both case pages (and the case API) show the link. Through the HTTP API and the
pages, as the office would."""
from __future__ import annotations

from pytest_bdd import parsers, then, when

from features.steps_petition import _do, _notices, _to_petitioner

READER = "bureau"  # the city bureau: sees the cases of the city's units


@when(parsers.parse('"{user}" 按原件编号把它作为重复信访'))
def triage_repeat_by_number(office, registered, user):
    assert len(registered) >= 2, "register the original first"
    _do(office, user, "分流研判", {"route": "重复信访", "original_case_no": registered[-2]})


@when(parsers.parse('"{user}" 把它作为重复信访，原件编号是第一件的编号'))
def triage_repeat_of_first(office, registered, user):
    _do(office, user, "分流研判", {"route": "重复信访", "original_case_no": registered[0]})


def _case(office, case_id=None) -> dict:
    r = office.get(READER, f"/api/cases/{case_id or office.case_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@then(parsers.parse('这件的案件页面写明原件，处理结果是 "{outcome}"'))
def repeat_shows_original(office, registered, outcome):
    link = _case(office)["repeat_of"]
    assert link["case_no"] == registered[0] and link["outcome"] == outcome and link["case_id"], link
    page = office.get(READER, f"/cases/{office.case_id}").get_data(as_text=True)
    assert 'id="repeat-of"' in page and f'href="/cases/{link["case_id"]}">{registered[0]}</a>' in page


def _original_id(office) -> int:
    return _case(office)["repeat_of"]["case_id"]


@then(parsers.parse('原件的案件页面列出 {n:d} 件重复信访，有这件的编号和登记日期'))
def original_lists_repeats(office, registered, n):
    original = _original_id(office)
    repeats = _case(office, original)["repeats"]
    assert len(repeats) == n, repeats
    assert repeats[-1]["case_no"] == registered[-1] and repeats[-1]["case_id"] == office.case_id
    assert repeats[-1]["registered_at"].startswith("2026-03-"), repeats[-1]
    page = office.get(READER, f"/cases/{original}").get_data(as_text=True)
    card = page[page.index('id="repeats"'):page.index('id="documents"')]
    assert card.count('class="repeat"') == n and f'data-case-no="{registered[-1]}"' in card
    assert f'href="/cases/{office.case_id}">{registered[-1]}</a>' in card and "2026年3月" in card


@then("原件的办理过程中记下这件重复信访")
def original_timeline(office, registered):
    page = office.get(READER, f"/cases/{_original_id(office)}").get_data(as_text=True)
    timeline = page[page.index('id="timeline"'):]
    assert f"同一事项再次信访：{registered[-1]}" in timeline


@then(parsers.parse('信访人收到 "{template}"，其中写明 "{words}"'))
def petitioner_told(office, template, words):
    notices = [n for n in _notices(office) if n["template"] == template and _to_petitioner(n)]
    assert notices and words in notices[-1]["text"] and "{" not in notices[-1]["text"], notices


@then("本月统计中这件计入重复信访，原件已办结但不算一次性化解")
def counted_as_repeat(office):
    """重复信访率 counts the refused repeat (the repeat_link the merge step wrote), and the original, closed in
    March, is in the denominator of 一次性化解率 but not its numerator: it was petitioned again."""
    original = _original_id(office)
    r = office.get(READER, "/api/stats?period=2026-03&live=1")
    assert r.status_code == 200, r.get_json()
    k = {x["key"]: x for x in r.get_json()["kpis"]}
    assert office.case_id in k["repeats"]["case_ids"] and office.case_id in k["repeat_rate"]["case_ids"]
    assert original not in k["repeats"]["case_ids"] and original in k["repeat_rate"]["denominator_case_ids"]
    once = k["first_time_resolution"]
    assert original in once["denominator_case_ids"] and original not in once["case_ids"], once
