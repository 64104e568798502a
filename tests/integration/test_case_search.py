"""案件查询: by case number, petitioner name, phone or ID number (keyed digests), title words, unit and period,
within what the caller may see; searches by personal data are access-logged. Runs on both databases."""
from __future__ import annotations

from urllib.parse import quote

from sqlalchemy import select

from infra.access_log import AccessLogEntry
from services import case_search
from tests.integration.test_handling_api import PETITION, app, desk  # noqa: F401  (fixtures)
from tests.support.migrations import upgraded_from

ZHANG = {"name": "张三丰", "id_number": "410121199001031234", "phone": "13812345678", "address": "东城县人民路1号"}
LI = {"name": "李四", "id_number": "11010519880608731X", "phone": "13687654321", "address": "西山县解放路2号"}


def register(desk, person, **extra):  # noqa: F811
    r = desk.post("registrar", "/api/cases", dict(PETITION, petitioners=[person], **extra))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def found(desk, user, query):  # noqa: F811
    r = desk.get(user, "/api/cases?" + query)
    assert r.status_code == 200, r.get_json()
    return {c["id"] for c in r.get_json()["cases"]}


def log_rows(container):
    with container.session_factory() as s:
        return list(s.scalars(select(AccessLogEntry).where(AccessLogEntry.what.like("case_search.%"))))


def test_search_by_person_number_and_words(desk, container):  # noqa: F811
    a = register(desk, ZHANG)
    b = register(desk, LI, title="小区噪声扰民问题", location="county_b", category="环境保护", subcategory="噪声扰民")
    assert found(desk, "bureau", "q=张三丰") == {a["id"]}
    assert found(desk, "bureau", "q=张三") == set()  # a name is found only in full
    assert found(desk, "bureau", "q=138 1234 5678") == {a["id"]}
    assert found(desk, "bureau", "q=11010519880608731x") == {b["id"]}
    assert found(desk, "bureau", "q=" + a["case_no"]) == {a["id"]}
    assert found(desk, "bureau", "q=噪声") == {b["id"]}
    assert found(desk, "bureau", "unit=county_b") == {b["id"]}


def test_personal_searches_are_logged_and_title_searches_are_not(desk, container):  # noqa: F811
    a = register(desk, ZHANG)
    found(desk, "bureau", "q=拖欠")
    assert log_rows(container) == []
    found(desk, "bureau", "q=13812345678")
    rows = log_rows(container)
    assert [(r.username, r.case_id, r.what) for r in rows] == [("bureau", a["id"], "case_search.phone")]
    found(desk, "bureau", "q=410121199001039999")  # an ID number nobody has: logged as a search, nothing shown
    assert len(log_rows(container)) == 1


def test_search_stays_within_what_the_caller_may_see(desk):  # noqa: F811
    a = register(desk, ZHANG)
    assert found(desk, "registrar", "q=张三丰") == {a["id"]}
    assert found(desk, "handler_b", "q=张三丰") == set()  # another county's handler


def test_period_and_bad_dates(desk):  # noqa: F811
    a = register(desk, ZHANG)
    assert a["id"] in found(desk, "bureau", "from=2000-01-01")
    assert found(desk, "bureau", "to=2000-01-01") == set()
    r = desk.get("bureau", "/api/cases?from=2026-13-01")
    assert r.status_code == 400 and "年-月-日" in r.get_json()["error"]["message"]


def test_the_page_searches_by_name(desk):  # noqa: F811
    a = register(desk, ZHANG)
    c, _ = desk.client("bureau")
    page = c.get("/cases?q=张三丰").get_data(as_text=True)
    table = page[page.index("<tbody>"):]
    assert a["case_no"] in table and "张三丰" not in table  # the list shows the petitioner masked


def test_words_are_found_in_title_channel_and_category_ignoring_case(desk):  # noqa: F811
    a = register(desk, ZHANG, title="Wage arrears 欠薪（100%）")
    b = register(desk, LI, title="小区噪声扰民问题", location="county_b", category="环境保护", subcategory="噪声扰民")
    assert found(desk, "bureau", "q=噪声扰民") == {b["id"]}  # three characters or more: the text index
    assert found(desk, "bureau", "q=噪声") == {b["id"]}  # fewer: the narrow table
    assert found(desk, "bureau", "q=wage ARREARS") == {a["id"]}  # every word, case ignored
    assert found(desk, "bureau", "q=环境保护 噪声") == {b["id"]}  # words of the category and the title
    assert found(desk, "bureau", "q=来访 欠薪") == {a["id"]}  # the channel too
    assert found(desk, "bureau", "q=" + quote("100%")) == {a["id"]}
    assert found(desk, "bureau", "q=" + quote("1_0%")) == set()  # % and _ are characters, not wildcards
    assert found(desk, "bureau", "q=title") == set()  # the summary's keys are no words of the case
    assert found(desk, "handler_b", "q=wage") == set()  # another county's handler: not by words either


def test_the_count_stops_at_the_cap(desk, monkeypatch):  # noqa: F811
    monkeypatch.setattr(case_search, "COUNT_CAP", 2)
    ids = [register(desk, ZHANG, title="独有标题词语")["id"] for _ in range(3)]
    for query in ("q=独有标题词语", "q=张三丰"):  # by words, by a name's digest
        r = desk.get("bureau", "/api/cases?" + query).get_json()
        assert (r["total"], r["more"]) == (2, True), query
        assert [c["id"] for c in r["cases"]] == sorted(ids, reverse=True)  # the page still lists all, newest first
    r = desk.get("bureau", "/api/cases?q=" + ZHANG["id_number"][:-1] + "9").get_json()
    assert (r["total"], r["more"], r["cases"]) == (0, False, [])
    page = desk.client("bureau")[0].get("/cases?q=张三丰").get_data(as_text=True)
    assert "超过 2 件" in page


def test_migration_0021_indexes_the_words_of_earlier_cases(container, desk, database_url):  # noqa: F811
    a = register(desk, ZHANG, title="迁移之前登记的案件")
    upgraded_from(database_url, "0020_merge_s7")  # as the database stood before 0021: no case_text
    case_search._FTS.clear()
    assert found(desk, "bureau", "q=登记的案件") == {a["id"]}
    assert found(desk, "bureau", "q=之前") == {a["id"]}
    b = register(desk, LI, title="迁移之后登记的案件")  # the triggers (SQLite) keep the index in step
    assert found(desk, "bureau", "q=登记的案件") == {a["id"], b["id"]}
