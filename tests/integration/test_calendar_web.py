"""The working-day calendar on the web: GET/PUT /api/calendar/{year}, GET /api/calendar, GET /api/calendar/due
and the admin page /admin/calendar with its import and due-date forms. Clock: Mon 2026-03-02 09:00 Beijing;
the seeded calendar is official up to 2026, so 2027 is provisional until its notice is imported."""
from __future__ import annotations

import io
import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from engine.clock import SHANGHAI
from services.organisation import load_organisation

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "calendar"
WARNING_2027 = ("2027 年放假安排尚未导入：涉及该年的期限按法定节假日临时计算（不含调休），标记为“临时”；"
                "通知发布后请立即导入")


def reset_calendar(container) -> None:
    """Back to the seed (2004–2026 from chinesecalendar, nothing else). The PostgreSQL database keeps its
    calendar tables between tests, so a year imported by one test would otherwise be there in the next."""
    from sqlalchemy import delete, func, or_, select

    from engine.calendar import CalendarDay, CalendarYear, seed_from_chinesecalendar

    with container.session_factory() as s, s.begin():
        imported = select(CalendarYear.year).where(CalendarYear.region == "CN",
                                                   CalendarYear.source != "chinesecalendar")
        s.execute(delete(CalendarDay).where(or_(CalendarDay.region != "CN", CalendarDay.year > 2026,
                                                CalendarDay.year.in_(imported))))
        removed = s.execute(delete(CalendarYear).where(or_(CalendarYear.region != "CN", CalendarYear.year > 2026,
                                                           CalendarYear.source != "chinesecalendar"))).rowcount
        if removed or s.scalar(select(func.count(CalendarYear.id))) != 2026 - 2004 + 1:
            seed_from_chinesecalendar(s, at=container.clock.now())


@pytest.fixture
def app(container):
    from web.app import create_app

    reset_calendar(container)
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    yield create_app(container)
    reset_calendar(container)


def sign_in(app, username):
    client = app.test_client()
    r = client.post("/api/session", json={"username": username, "password": "demo"})
    assert r.status_code == 201
    return client, {"X-CSRF-Token": r.get_json()["csrf_token"]}


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def put_year(client, headers, year, name, fmt="yaml"):
    return client.put(f"/api/calendar/{year}", headers=headers, json={"content": fixture_text(name), "format": fmt})


def year_info(client, year) -> dict:
    r = client.get(f"/api/calendar/{year}")
    assert r.status_code == 200
    return r.get_json()


def csrf_of(client) -> str:
    return client.get("/api/session").get_json()["csrf_token"]


def page_text(r) -> str:
    return r.get_data(as_text=True)


# ---------------------------------------------------------------- GET /api/calendar/{year}

def test_a_year_shows_source_status_version_holidays_and_makeup_days(app):
    client, _ = sign_in(app, "handler")
    info = year_info(client, 2026)
    assert (info["year"], info["status"], info["source"], info["version"]) == (2026, "official", "chinesecalendar", 1)
    assert info["notice"] is None  # seeded from the package, not from an imported notice
    spring = next(h for h in info["holidays"] if h["name"] == "春节")
    assert (spring["start"], spring["end"], spring["days"]) == ("2026-02-15", "2026-02-23", 9)
    assert {"date": "2026-02-14", "for": "春节"} in info["makeup_workdays"]
    assert (info["holiday_days"], info["makeup_days"]) == (33, 6)


def test_an_unpublished_year_is_shown_as_provisional(app):
    client, _ = sign_in(app, "registrar")
    info = year_info(client, 2027)
    assert (info["status"], info["source"], info["version"], info["notice"]) == ("provisional", "provisional", 0, None)
    assert [h["start"] for h in info["holidays"]][:1] == ["2027-01-01"]
    assert info["makeup_workdays"] == []


@pytest.mark.parametrize("year", [2003, 2100])
def test_a_year_the_calendar_cannot_vouch_for_is_404_with_what_to_do(app, year):
    client, _ = sign_in(app, "registrar")
    r = client.get(f"/api/calendar/{year}")
    assert r.status_code == 404
    err = r.get_json()["error"]
    assert err["code"] == "calendar_year_missing" and err["details"] == {"year": year}
    assert str(year) in err["message"] and "(" in err["message"]  # Chinese first, English in parentheses


def statutory_only_arrangement(year: int) -> str:
    """A valid national file for `year` that gives exactly the statutory days off, one line per day."""
    from engine.calendar import statutory_holidays

    days: dict = {}
    for s in statutory_holidays(year):
        days.setdefault(s.date, s.name)
    lines = [f"year: {year}", "notice:", f"  title: 国务院办公厅关于{year}年部分节假日安排的通知（测试）",
             f"  date: {year - 1}-11-01", "holidays:"]
    lines += [f"  - {{name: {name}, from: {d.isoformat()}}}" for d, name in sorted(days.items())]
    return "\n".join(lines) + "\n"


def test_a_gap_year_is_404_and_says_to_import_the_notice(app):
    client, headers = sign_in(app, "admin")
    r = client.put("/api/calendar/2028", headers=headers,
                   json={"content": statutory_only_arrangement(2028), "format": "yaml"})
    assert r.status_code == 200, r.get_json()
    r = client.get("/api/calendar/2027")  # 2028 is official, so 2027 may no longer be guessed
    assert r.status_code == 404
    err = r.get_json()["error"]
    assert err["code"] == "calendar_year_missing"
    assert "导入" in err["message"] and "PUT /api/calendar/2027" in err["message"] and "import" in err["message"]


def test_calendar_endpoints_need_sign_in(app):
    client = app.test_client()
    for path in ("/api/calendar", "/api/calendar/2026", "/api/calendar/due?from=2026-03-02&workdays=1"):
        r = client.get(path)
        assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthorized", path
    r = client.put("/api/calendar/2027", json={"content": fixture_text("2027.yaml"), "format": "yaml"})
    assert r.status_code == 401


# ---------------------------------------------------------------- GET /api/calendar

def test_list_names_the_loaded_years_and_the_provisional_ones(app):
    client, _ = sign_in(app, "handler")
    r = client.get("/api/calendar")
    assert r.status_code == 200
    data = r.get_json()
    years = {y["year"]: y for y in data["years"] if y["region"] == "CN"}
    assert sorted(years) == list(range(2004, 2027))
    assert {y["status"] for y in years.values()} == {"official"}
    assert years[2026]["source"] == "chinesecalendar" and years[2026]["version"] == 1
    assert data["provisional_years"] == [2027] and data["warning_years"] == [2027]
    assert data["last_official_year"] == 2026 and data["open_provisional_deadlines"] == 0


# ---------------------------------------------------------------- GET /api/calendar/due

def due(client, query):
    r = client.get("/api/calendar/due?" + query)
    return r.status_code, r.get_json()


def test_due_over_the_spring_festival_counts_the_makeup_saturday(app):
    client, _ = sign_in(app, "registrar")
    status, d = due(client, "from=2026-02-13&workdays=3")
    assert status == 200
    assert (d["due_date"], d["rule"], d["n"], d["provisional"]) == ("2026-02-25", "WD", 3, False)
    assert d["due_at"] == "2026-02-25T16:00:00+00:00"  # 24:00 Beijing time
    assert d["calendar_versions"] == {"2026": 1}
    assert d["makeup_days_counted"] == [{"date": "2026-02-14", "for": "春节"}]
    assert [s["date"] for s in d["days_skipped"]][0] == "2026-02-15" and len(d["days_skipped"]) == 9
    assert "3个工作日" in d["explanation"] and "2026-02-25" in d["explanation"]


def test_due_in_calendar_days_rolls_forward_unless_told_not_to(app):
    client, _ = sign_in(app, "registrar")
    status, d = due(client, "from=2026-09-22&days=15")
    assert status == 200
    assert (d["due_date"], d["rule"], d["nominal_due"], d["roll_forward"]) == ("2026-10-08", "CAL", "2026-10-07", True)
    status, d = due(client, "from=2026-09-22&days=15&roll=0")
    assert status == 200 and (d["due_date"], d["roll_forward"]) == ("2026-10-07", False)


def test_due_into_an_unpublished_year_is_provisional(app):
    client, _ = sign_in(app, "registrar")
    status, d = due(client, "from=2026-12-28&workdays=5")
    assert status == 200
    assert (d["due_date"], d["provisional"], d["provisional_years"]) == ("2027-01-05", True, [2027])
    assert d["calendar_versions"] == {"2026": 1, "2027": 0}
    assert "临时" in d["explanation"]


def test_due_from_a_datetime_applies_the_office_hours_rule(app):
    client, _ = sign_in(app, "registrar")
    status, d = due(client, "from=2026-03-02T18:00:00%2B08:00&workdays=1")  # after 17:30: counts from Tue
    assert status == 200 and (d["due_date"], d["counted_from"]) == ("2026-03-04", "2026-03-03")
    status, d = due(client, "from=2026-03-02T18:00:00+08:00&workdays=1")  # an unencoded '+' arrives as a space
    assert status == 200 and d["due_date"] == "2026-03-04"
    status, d = due(client, "from=2026-03-02&workdays=1")  # a bare date is the receipt date itself
    assert status == 200 and d["due_date"] == "2026-03-03"


@pytest.mark.parametrize("query, words", [
    ("workdays=3", "from"),
    ("from=2026-02-30&workdays=3", "from"),
    ("from=yesterday&workdays=3", "from"),
    ("from=2026-02-13", "workdays"),
    ("from=2026-02-13&workdays=3&days=3", "workdays"),
    ("from=2026-02-13&workdays=-1", "非负整数"),
    ("from=2026-02-13&workdays=1.5", "非负整数"),
    ("from=2026-02-13&days=abc", "非负整数"),
    ("from=2026-02-13&days=99999", "3660"),
    ("from=2026-09-22&days=15&roll=maybe", "roll"),
    ("from=9999-12-31T23:00:00-12:00&days=1", "from"),
])
def test_due_refuses_a_malformed_question_saying_what_to_send(app, query, words):
    client, _ = sign_in(app, "registrar")
    status, body = due(client, query)
    assert status == 400
    assert body["error"]["code"] == "malformed" and words in body["error"]["message"]


def test_due_from_a_year_without_data_is_refused(app):
    client, _ = sign_in(app, "registrar")
    status, body = due(client, "from=2003-06-02&workdays=3")
    assert status == 422 and body["error"]["code"] == "calendar_year_missing"
    assert body["error"]["details"] == {"year": 2003}


# ---------------------------------------------------------------- PUT /api/calendar/{year}

def test_import_makes_the_year_official_with_its_notice_and_version(app):
    client, headers = sign_in(app, "admin")
    r = put_year(client, headers, 2027, "2027.yaml")
    assert r.status_code == 200, r.get_json()
    data = r.get_json()
    imp = data["import"]
    assert (imp["year"], imp["region"], imp["version"], imp["previous_version"], imp["created"]) == (
        2027, "CN", 1, None, True)
    assert (imp["holiday_days"], imp["makeup_days"]) == (29, 5)
    assert "2027-01-31" in imp["changed_dates"] and imp["warnings"] == []
    assert data["recomputed"] == {"cases": 0, "moved": 0, "unchanged": 0}
    info = year_info(client, 2027)
    assert (info["status"], info["source"], info["version"]) == ("official", "import", 1)
    assert info["notice"]["title"] == "国务院办公厅关于2027年部分节假日安排的通知（示例）"
    assert info["notice"]["date"] == "2026-11-05" and info["imported_by"] == "admin"
    # now 2027 counts its make-up Sunday, and the next unpublished year is 2028 (no warning yet in 2026)
    status, d = due(client, "from=2026-12-28&workdays=5")
    assert (d["due_date"], d["provisional"], d["calendar_versions"]) == ("2027-01-05", False, {"2026": 1, "2027": 1})
    listing = client.get("/api/calendar").get_json()
    assert listing["provisional_years"] == [2028] and listing["warning_years"] == []
    # the same file again changes nothing; a corrected one bumps the version
    r = put_year(client, headers, 2027, "2027.yaml")
    assert r.status_code == 200 and (r.get_json()["import"]["version"], r.get_json()["import"]["changed"]) == (1, False)
    corrected = fixture_text("2027.yaml").replace("- {date: 2027-10-09, for: 国庆节}\n", "")
    r = client.put("/api/calendar/2027", headers=headers, json={"content": corrected, "format": "yaml"})
    assert r.status_code == 200
    assert (r.get_json()["import"]["version"], r.get_json()["import"]["changed_dates"]) == (2, ["2027-10-09"])
    assert year_info(client, 2027)["version"] == 2


def test_import_as_csv_in_json_or_as_a_raw_body(app):
    client, headers = sign_in(app, "admin")
    r = put_year(client, headers, 2027, "2027.csv", fmt="csv")
    assert r.status_code == 200 and r.get_json()["import"]["version"] == 1
    assert r.get_json()["calendar"]["status"] == "official"
    r = client.put("/api/calendar/2027", headers=dict(headers, **{"Content-Type": "text/csv"}),
                   data=fixture_text("2027.csv").encode("utf-8"))
    assert r.status_code == 200 and r.get_json()["import"]["changed"] is False  # same content as before
    assert year_info(client, 2027)["version"] == 1


def test_import_recomputes_open_provisional_deadlines(app, container, clock):
    from engine.definitions import collect_files

    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    clock.set(datetime(2027, 1, 25, 9, 0, tzinfo=SHANGHAI))
    case = container.runtime.start("simple_case", {"category": "劳动社保", "location": "county_a"}, "registrar")
    [before] = case.deadlines
    assert before["provisional"]
    client, headers = sign_in(app, "admin")
    assert client.get("/api/calendar").get_json()["open_provisional_deadlines"] == 1
    r = put_year(client, headers, 2027, "2027.yaml")
    assert r.status_code == 200
    assert r.get_json()["recomputed"] == {"cases": 1, "moved": 1, "unchanged": 0}
    [after] = container.runtime.get_case(case.id).deadlines
    assert not after["provisional"]
    assert after["due_at"] == before["due_at"] - timedelta(days=1)  # the make-up Sunday 01-31 now counts
    assert client.get("/api/calendar").get_json()["open_provisional_deadlines"] == 0


@pytest.mark.parametrize("name, fmt, words", [
    ("bad_2027_labour_day_missing.yaml", "yaml", ["2027-05-02", "劳动节"]),
    ("bad_2027_invalid_date.csv", "csv", ["2027-02-30"]),
    ("bad_2027_makeup_on_weekday.yaml", "yaml", ["2027-02-22", "星期一"]),
    ("bad_2027_date_twice.yaml", "yaml", ["2027-06-09", "两次"]),
])
def test_a_bad_file_is_refused_with_every_problem_and_nothing_changes(app, name, fmt, words):
    client, headers = sign_in(app, "admin")
    r = put_year(client, headers, 2027, name, fmt=fmt)
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "invalid_calendar" and "未写入" in err["message"]
    problems = err["details"]["problems"]
    assert len(problems) >= 1
    assert any(all(w in p for w in words) for p in problems), problems
    info = year_info(client, 2027)
    assert (info["status"], info["version"]) == ("provisional", 0)


def test_a_file_for_another_year_is_refused(app):
    client, headers = sign_in(app, "admin")
    r = put_year(client, headers, 2028, "2027.yaml")
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "year_mismatch" and err["details"]["file_year"] == 2027
    assert "2027" in err["message"] and "2028" in err["message"]
    assert year_info(client, 2027)["status"] == "provisional"


def test_content_naming_a_server_file_is_read_as_text_not_as_a_path(app):
    client, headers = sign_in(app, "admin")
    r = client.put("/api/calendar/2027", headers=headers,
                   json={"content": str(FIXTURES / "2027.yaml"), "format": "yaml"})
    assert r.status_code == 422
    assert year_info(client, 2027)["status"] == "provisional"


def test_only_admins_import(app):
    for username in ("registrar", "designer", "bureau"):
        client, headers = sign_in(app, username)
        r = put_year(client, headers, 2027, "2027.yaml")
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", username
    client, headers = sign_in(app, "admin")
    assert year_info(client, 2027)["status"] == "provisional"


def test_import_needs_the_csrf_header(app):
    client, _ = sign_in(app, "admin")
    r = client.put("/api/calendar/2027", json={"content": fixture_text("2027.yaml"), "format": "yaml"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf"
    assert year_info(client, 2027)["status"] == "provisional"


@pytest.mark.parametrize("kwargs, words", [
    ({"json": {"format": "yaml"}}, "content"),
    ({"json": {"content": "   ", "format": "yaml"}}, "content"),
    ({"json": {"content": "year: 2027\n", "format": "xml"}}, "format"),
    ({"json": ["not", "an", "object"]}, "JSON"),
    ({"data": b"year: 2027\n", "content_type": "application/octet-stream"}, "text/yaml"),
    ({"data": b"\xff\xfe\x00", "content_type": "text/yaml"}, "UTF-8"),
])
def test_import_refuses_a_malformed_request(app, kwargs, words):
    client, headers = sign_in(app, "admin")
    r = client.put("/api/calendar/2027", headers=headers, **kwargs)
    assert r.status_code == 400
    assert r.get_json()["error"]["code"] == "malformed" and words in r.get_json()["error"]["message"]


def test_import_refuses_more_than_a_megabyte(app):
    client, headers = sign_in(app, "admin")
    content = fixture_text("2027.yaml") + "#" * (1024 * 1024) + "\n"
    r = client.put("/api/calendar/2027", headers=headers, json={"content": content, "format": "yaml"})
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    assert year_info(client, 2027)["status"] == "provisional"


# ---------------------------------------------------------------- the admin page

def test_admin_page_warns_about_2027_until_it_is_imported(app):
    client, headers = sign_in(app, "admin")
    r = client.get("/admin/calendar")
    assert r.status_code == 200 and r.mimetype == "text/html"
    html = page_text(r)
    assert 'id="provisional-warning"' in html and WARNING_2027 in html
    assert "2026年3月2日 星期一" in html  # today, the Chinese way
    assert re.search(r"2027 年</a>.*?临时", html, re.S)
    assert put_year(client, headers, 2027, "2027.yaml").status_code == 200
    html = page_text(client.get("/admin/calendar"))
    assert 'id="provisional-warning"' not in html and "尚未导入" not in html
    assert "国务院办公厅关于2027年部分节假日安排的通知（示例）" in html
    assert "2026年11月5日 星期四" in html  # the notice date


def test_admin_page_needs_an_admin(app):
    r = app.test_client().get("/admin/calendar")
    assert r.status_code == 401 and r.mimetype == "text/html" and "请先登录" in page_text(r)
    client, _ = sign_in(app, "registrar")
    r = client.get("/admin/calendar")
    assert r.status_code == 403 and r.mimetype == "text/html"
    assert "仅限系统管理员" in page_text(r) and WARNING_2027 not in page_text(r)


def test_import_form_imports_and_reports_the_recompute(app):
    client, _ = sign_in(app, "admin")
    r = client.post("/admin/calendar/import", data={"csrf_token": csrf_of(client), "format": "",
                                                    "content": fixture_text("2027.yaml")})
    assert r.status_code == 200
    html = page_text(r)
    assert 'id="import-result"' in html and "已导入 2027 年放假安排" in html and "现为第 1 版" in html
    assert "重新计算在办期限：涉及 0 件案件，0 个期限已调整" in html
    assert WARNING_2027 not in html
    assert year_info(client, 2027)["status"] == "official"


def test_import_form_takes_an_uploaded_csv_file(app):
    client, _ = sign_in(app, "admin")
    r = client.post("/admin/calendar/import", content_type="multipart/form-data",
                    data={"csrf_token": csrf_of(client), "format": "", "content": "",
                          "file": (io.BytesIO((FIXTURES / "2027.csv").read_bytes()), "2027.csv")})
    assert r.status_code == 200 and "已导入 2027 年放假安排" in page_text(r)
    assert year_info(client, 2027)["version"] == 1


def test_import_form_lists_every_problem_and_keeps_the_text(app):
    client, _ = sign_in(app, "admin")
    bad = fixture_text("bad_2027_labour_day_missing.yaml").replace("- {date: 2027-02-20", "- {date: 2027-02-22")
    r = client.post("/admin/calendar/import", data={"csrf_token": csrf_of(client), "content": bad})
    assert r.status_code == 422
    html = page_text(r)
    assert 'id="import-problems"' in html and "发现 2 处问题" in html
    assert "2027-05-02" in html and "2027-02-22" in html
    assert "{date: 2027-02-22, for: 春节}" in html  # the pasted text is still in the form
    assert 'id="import-result"' not in html and WARNING_2027 in html
    assert year_info(client, 2027)["status"] == "provisional"


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_import_form_refuses_a_missing_or_wrong_csrf_token(app, token):
    client, _ = sign_in(app, "admin")
    data = {"content": fixture_text("2027.yaml")}
    if token is not None:
        data["csrf_token"] = token
    r = client.post("/admin/calendar/import", data=data)
    assert r.status_code == 403 and r.mimetype == "text/html" and "CSRF" in page_text(r)
    assert year_info(client, 2027)["status"] == "provisional"


def test_import_form_is_for_admins_only(app):
    client, _ = sign_in(app, "designer")
    r = client.post("/admin/calendar/import", data={"csrf_token": csrf_of(client),
                                                    "content": fixture_text("2027.yaml")})
    assert r.status_code == 403 and "仅限系统管理员" in page_text(r)
    assert year_info(client, 2027)["status"] == "provisional"


def test_admin_page_answers_when_is_this_due(app):
    client, _ = sign_in(app, "admin")
    html = page_text(client.get("/admin/calendar?from=2026-02-13&n=3&rule=WD"))
    assert 'id="due-result"' in html and "到期日：2026年2月25日 星期三" in html
    assert "计入的调休上班日" in html
    html = page_text(client.get("/admin/calendar?from=2026-09-22&n=15&rule=CAL&noroll=1"))
    assert "到期日：2026年10月7日 星期三" in html
    html = page_text(client.get("/admin/calendar?from=2026-12-28&n=5&rule=WD"))
    assert "到期日：2027年1月5日 星期二" in html and 'class="tag provisional">临时' in html
    html = page_text(client.get("/admin/calendar?from=someday&n=3&rule=WD"))
    assert 'id="due-error"' in html and "无法识别" in html and 'id="due-result"' not in html
    html = page_text(client.get("/admin/calendar?from=2026-02-13&n=&rule=WD"))
    assert 'id="due-error"' in html and "请填写期限天数" in html and 'id="due-result"' not in html


def test_admin_page_shows_a_year_in_detail(app):
    client, _ = sign_in(app, "admin")
    html = page_text(client.get("/admin/calendar?year=2026"))
    assert "2026 年放假安排明细" in html
    assert "2月15日（日） 至 2月23日（一）" in html and "2026年2月14日 星期六" in html
    html = page_text(client.get("/admin/calendar?year=2003"))
    assert "2003" in html and "无法导入" in html
