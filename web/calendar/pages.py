"""The working-day calendar on the web: its JSON API under /api/calendar and the admin page /admin/calendar.

- `GET /api/calendar`: the stored years with source, status and version, and the provisional years.
- `GET /api/calendar/{year}`: one year as `CalendarService.show_year` describes it; 404 for a year the calendar
  cannot vouch for.
- `PUT /api/calendar/{year}` (admin): import the year's official arrangement (YAML or CSV text), which bumps its
  version and recomputes every open deadline; 422 with every problem found, nothing written.
- `GET /api/calendar/due?from=...&workdays=N` (or `days=N`, `roll=0`): a due date with its explanation.
- `GET /admin/calendar` (admin, HTML): the years, a red warning for provisional years, the import form
  (`POST /admin/calendar/import`, protected by the session's CSRF token in a hidden field) and a
  "when is this due?" form.

Views parse, call the calendar service or the runtime, render. Nothing here reads the real clock.
"""
from __future__ import annotations

import logging
import re
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from flask import Blueprint, jsonify, render_template, request
from sqlalchemy import func, select

from engine.calendar import CalendarImportError, CalendarYear, CalendarYearMissing, check_arrangement
from engine.calendar.kinds import (
    FIRST_YEAR,
    LAST_COMPUTABLE_YEAR,
    NATIONAL,
    REGIONS,
    WEEKDAY_NAMES,
    YearSource,
)
from engine.clock import SHANGHAI, parse_instant
from engine.store import Timer

from ..auth import ApiError, Principal, csrf_ok, csrf_token, current_principal, login_required, roles_required
from ..http import container, error_json

bp = Blueprint("calendar_web", __name__)
log = logging.getLogger("lianxin.calendar")

CALENDAR_ADMIN_ROLES = ("admin",)
MAX_CALENDAR_BYTES = 1024 * 1024  # a year's arrangement is about 1 KB
MAX_DUE_DAYS = 3660  # ten years: anything longer is a typo, not a petition deadline
FORMATS = ("yaml", "csv")
RAW_TYPES = {"text/yaml": "yaml", "application/yaml": "yaml", "application/x-yaml": "yaml", "text/x-yaml": "yaml",
             "text/csv": "csv", "text/plain": None}
SOURCE_NAMES = {
    YearSource.IMPORT: "国务院办公厅通知（管理员导入）",
    YearSource.CHINESECALENDAR: "chinesecalendar 数据包",
    YearSource.PROVISIONAL: "临时推算（法定节假日，不含调休）",
}


class YearMismatch(Exception):
    def __init__(self, url_year: int, file_year: int):
        super().__init__(f"文件中的年份 {file_year} 与地址中的年份 {url_year} 不一致，请检查文件或地址 "
                         f"(the file is for {file_year} but the URL says {url_year})")
        self.url_year, self.file_year = url_year, file_year


# ---------------------------------------------------------------- errors

def _wants_json() -> bool:
    return request.path.startswith("/api/")


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    if _wants_json():
        return error_json(err.status, err.code, err.message, err.details)
    return _message_page(err.status, err.message)


def _message_page(status: int, message: str):
    titles = {401: "请先登录", 403: "无权访问", 404: "未找到"}
    return render_template("calendar/message.html", status=status, title=titles.get(status, "出错了"),
                           message=message), status


# ---------------------------------------------------------------- shared helpers

def cn_date(value: date | str | None) -> str:
    """2026年3月2日 星期一"""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    if isinstance(value, datetime):
        value = value.astimezone(SHANGHAI).date() if value.tzinfo else value.date()
    return f"{value.year}年{value.month}月{value.day}日 {WEEKDAY_NAMES[value.weekday()]}"


def cn_short(value: date | str) -> str:
    """3月2日（一）: for the ranges in a year's table."""
    if isinstance(value, str):
        value = date.fromisoformat(value[:10])
    return f"{value.month}月{value.day}日（{WEEKDAY_NAMES[value.weekday()][-1]}）"


def cn_datetime(value: datetime | str | None) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(SHANGHAI)
    return f"{cn_date(local.date())} {local:%H:%M}"


def parse_start(text: str | None) -> date | datetime:
    """A receipt date (YYYY-MM-DD) or instant (ISO-8601; naive means Beijing time)."""
    t = (text or "").strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", t):
        return date.fromisoformat(t)
    if "T" in t:
        # an unencoded '+' in a query string arrives as a space: 2026-03-02T16:00:00 08:00
        t = re.sub(r" (\d{2}:?\d{2})$", r"+\1", t)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*", t):
        raise ValueError(t)
    return parse_instant(t)


def parse_count(text: str, name: str) -> int:
    t = text.strip()
    if not re.fullmatch(r"[0-9]{1,6}", t):
        raise ApiError(400, "malformed", f"{name} 必须是非负整数，收到 '{text}' ({name} must be a whole number ≥ 0)")
    n = int(t)
    if n > MAX_DUE_DAYS:
        raise ApiError(400, "malformed", f"{name} 不能超过 {MAX_DUE_DAYS}，收到 {n} ({name} must be at most {MAX_DUE_DAYS})")
    return n


def compute_due(start_text: str | None, workdays: str | None, days: str | None, roll: str | None):
    """Validate the due-date question and ask the calendar. ApiError(400) for a malformed question,
    ApiError(422) when the calendar has no data for a year the count needs."""
    if not (start_text or "").strip():
        raise ApiError(400, "malformed", "缺少起算日期 from，例如 from=2026-03-02 或 from=2026-03-02T16:00:00+08:00 "
                                         "(send from=YYYY-MM-DD or an ISO-8601 date-time)")
    try:
        start = parse_start(start_text)
    except (ValueError, OverflowError):
        raise ApiError(400, "malformed", f"起算日期 from '{start_text}' 无法识别，请写成 YYYY-MM-DD 或 "
                                         "2026-03-02T16:00:00+08:00 (from must be YYYY-MM-DD or ISO-8601)") from None
    if (workdays is None) == (days is None):
        raise ApiError(400, "malformed", "workdays（工作日）与 days（自然日）必须且只能给出一个 "
                                         "(send exactly one of workdays=N or days=N)")
    roll_forward = True
    if roll is not None:
        if roll.strip().lower() not in ("0", "1", "false", "true"):
            raise ApiError(400, "malformed", "roll 只能是 0 或 1 (roll must be 0 or 1)")
        roll_forward = roll.strip().lower() in ("1", "true")
    n_workdays = parse_count(workdays, "workdays") if workdays is not None else None
    n_days = parse_count(days, "days") if days is not None else None
    try:
        return container().calendar.due(start, workdays=n_workdays, days=n_days, roll_forward=roll_forward)
    except CalendarYearMissing as err:
        raise ApiError(422, "calendar_year_missing", str(err), {"year": err.year}) from None


def import_text(text: str, fmt: str | None, actor: str, expect_year: int | None = None) -> dict:
    """Check, then import and recompute. Raises CalendarImportError or YearMismatch with nothing written."""
    text = text.lstrip("\ufeff")
    if "\n" not in text:
        text += "\n"  # the importer reads a one-line 'x.yaml' as a file path; uploaded text never is one
    checked = check_arrangement(text, fmt)
    if expect_year is not None and checked.year != expect_year:
        raise YearMismatch(expect_year, checked.year)
    outcome = container().runtime.import_calendar(text, actor=actor, fmt=fmt)
    result = outcome["import"]
    log.info("calendar %s %s imported by %s: version %s (was %s), %s dates changed, recomputed %s",
             result.year, result.region, actor, result.version, result.previous_version,
             len(result.changed_dates), outcome["recomputed"])
    return outcome


def _jsonable(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _import_payload(outcome: dict) -> dict:
    result = outcome["import"]
    payload = {"import": dict(asdict(result), created=result.created), "recomputed": outcome["recomputed"]}
    if result.region == NATIONAL:
        payload["calendar"] = container().calendar.show_year(result.year)
    return _jsonable(payload)


def stored_years() -> list[dict[str, Any]]:
    """Every stored year (national and regional), oldest first."""
    with container().extras["read_sessions"]() as s:
        rows = s.scalars(select(CalendarYear).order_by(CalendarYear.region, CalendarYear.year)).all()
        return [{"year": r.year, "region": r.region, "source": r.source, "status": r.status,
                 "version": r.version, "notice_title": r.notice_title,
                 "notice_date": r.notice_date.isoformat() if r.notice_date else None,
                 "notice_url": r.notice_url,
                 "imported_at": r.imported_at.isoformat() if r.imported_at else None,
                 "imported_by": r.imported_by} for r in rows]


def warning_years(provisional: list[int], today: date) -> list[int]:
    """The provisional years an administrator must act on: this year and next year. A year further away
    (2028 while it is 2026) cannot be imported yet, so it is not worth a red banner."""
    return [y for y in provisional if y <= today.year + 1]


def open_provisional_deadlines() -> int:
    with container().extras["read_sessions"]() as s:
        return int(s.scalar(select(func.count(Timer.id)).where(
            Timer.provisional.is_(True), Timer.status.in_(("pending", "paused")))) or 0)


def _missing_year_message(year: int, err: CalendarYearMissing) -> str:
    if FIRST_YEAR <= year <= LAST_COMPUTABLE_YEAR:
        return (f"{err}。请由系统管理员导入国务院办公厅关于{year}年部分节假日安排的通知（YAML 或 CSV），"
                f"可在“工作日历管理”页面 /admin/calendar 上传，或 PUT /api/calendar/{year} "
                f"(import the State Council notice for {year} at /admin/calendar or with PUT /api/calendar/{year})")
    return (f"{err}。{year}年不在日历支持的范围 {FIRST_YEAR}–{LAST_COMPUTABLE_YEAR} 内，无法导入 "
            f"(year {year} is outside {FIRST_YEAR}–{LAST_COMPUTABLE_YEAR} and cannot be imported)")


# ---------------------------------------------------------------- JSON API

@bp.get("/api/calendar")
@login_required
def list_years():
    c = container()
    cal = c.calendar.calendar()
    today = c.clock.now().astimezone(SHANGHAI).date()
    provisional = c.calendar.provisional_years()
    return jsonify({"years": stored_years(), "provisional_years": provisional,
                    "warning_years": warning_years(provisional, today),
                    "last_official_year": cal.last_official_year,
                    "open_provisional_deadlines": open_provisional_deadlines()})


@bp.get("/api/calendar/<int:year>")
@login_required
def get_year(year: int):
    try:
        info = container().calendar.show_year(year)
    except CalendarYearMissing as err:
        return error_json(404, "calendar_year_missing", _missing_year_message(year, err), {"year": year})
    return jsonify(_jsonable(info))


@bp.put("/api/calendar/<int:year>")
@roles_required(*CALENDAR_ADMIN_ROLES)
def put_year(year: int):
    if request.content_length is not None and request.content_length > MAX_CALENDAR_BYTES:
        return error_json(413, "too_large", "节假日安排文件过大，上限 1 MB (calendar file larger than 1 MB)")
    mimetype = request.mimetype
    if mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise ApiError(400, "malformed", "请求体必须是 JSON 对象 {\"content\": 文件内容, \"format\": \"yaml\"|\"csv\"} "
                                             "(body must be a JSON object with content and format)")
        content, fmt = data.get("content"), data.get("format")
    elif mimetype in RAW_TYPES:
        try:
            content = request.get_data().decode("utf-8")
        except UnicodeDecodeError:
            raise ApiError(400, "malformed", "文件必须是 UTF-8 编码 (the file must be UTF-8 text)") from None
        fmt = request.args.get("format") or RAW_TYPES[mimetype]
    else:
        raise ApiError(400, "malformed", "请发送 JSON {\"content\", \"format\"}，或 Content-Type 为 text/yaml、text/csv "
                                         "的文件内容 (send JSON with content and format, or a text/yaml or text/csv body)")
    if not isinstance(content, str) or not content.strip():
        raise ApiError(400, "malformed", "缺少 content：请把 YAML 或 CSV 文件的全文放在 content 中 "
                                         "(content must hold the YAML or CSV text)")
    if fmt is not None and fmt not in FORMATS:
        raise ApiError(400, "malformed", f"format 只能是 yaml 或 csv，收到 '{fmt}' (format must be yaml or csv)")
    if len(content.encode("utf-8")) > MAX_CALENDAR_BYTES:
        return error_json(413, "too_large", "节假日安排文件过大，上限 1 MB (calendar file larger than 1 MB)")
    actor = current_principal().username
    try:
        outcome = import_text(content, fmt, actor, expect_year=year)
    except CalendarImportError as err:
        log.warning("calendar import for %s by %s refused: %s", year, actor, err.problems)
        return error_json(422, "invalid_calendar",
                      f"{year} 年节假日安排有 {len(err.problems)} 处错误，未写入任何数据 "
                      f"(the file has {len(err.problems)} problem(s); nothing was written)",
                      {"year": err.year, "problems": err.problems})
    except YearMismatch as err:
        return error_json(422, "year_mismatch", str(err), {"year": err.url_year, "file_year": err.file_year,
                                                      "problems": [str(err)]})
    return jsonify(_import_payload(outcome))


@bp.get("/api/calendar/due")
@login_required
def due():
    a = request.args
    deadline = compute_due(a.get("from"), a.get("workdays"), a.get("days"), a.get("roll"))
    return jsonify(deadline.to_dict())


# ---------------------------------------------------------------- admin page

def _page_principal() -> Principal:
    p = current_principal()
    if p is None:
        raise ApiError(401, "unauthorized", "请先登录，再打开工作日历管理页面 (sign in first)。")
    if not p.has_role(*CALENDAR_ADMIN_ROLES):
        log.warning("refused %s %s to %s (needs %s)", request.method, request.path, p.username, CALENDAR_ADMIN_ROLES)
        raise ApiError(403, "forbidden", "工作日历管理仅限系统管理员（admin）使用；如需导入节假日安排，请联系系统管理员 "
                                         "(only administrators may manage the working-day calendar)。")
    return p


@bp.context_processor
def _helpers():
    return {"cn_date": cn_date, "cn_short": cn_short, "cn_datetime": cn_datetime, "REGIONS": REGIONS,
            "SOURCE_NAMES": SOURCE_NAMES}


def _render_admin(p: Principal, status: int = 200, **form):
    c = container()
    today = c.clock.now().astimezone(SHANGHAI).date()
    cal = c.calendar.calendar()
    provisional = c.calendar.provisional_years()
    warn = warning_years(provisional, today)
    rows = stored_years()
    stored = {(r["year"], r["region"]) for r in rows}
    for y in provisional:  # computed in memory, never stored: still a row of its own
        if (y, NATIONAL) not in stored:
            rows.append({"year": y, "region": NATIONAL, "source": YearSource.PROVISIONAL, "status": "provisional",
                         "version": 0, "notice_title": None, "notice_date": None, "notice_url": None,
                         "imported_at": None, "imported_by": None})
    rows.sort(key=lambda r: (-r["year"], r["region"]))
    recent = [r for r in rows if r["year"] >= today.year - 1]
    older = [r for r in rows if r["year"] < today.year - 1]

    detail_year, detail, detail_error = None, None, None
    wanted = request.args.get("year", "")
    if wanted:
        if not re.fullmatch(r"[0-9]{4}", wanted):
            detail_error = f"年份 '{wanted}' 无效，请写四位数年份 (year must have 4 digits)"
        else:
            detail_year = int(wanted)
    else:
        detail_year = form.get("imported_year") or today.year
    if detail_year is not None:
        try:
            detail = c.calendar.show_year(detail_year)
        except CalendarYearMissing as err:
            detail_error = _missing_year_message(detail_year, err)

    due_form = {"from": request.args.get("from", ""), "n": request.args.get("n", ""),
                "rule": request.args.get("rule", "WD"), "noroll": request.args.get("noroll") == "1"}
    due_result, due_error = None, None
    if request.method == "GET" and (due_form["from"] or due_form["n"]):
        n = due_form["n"].strip()
        try:
            if not n:
                raise ApiError(400, "malformed", "请填写期限天数 (enter the number of days)")
            deadline = compute_due(due_form["from"], n if due_form["rule"] != "CAL" else None,
                                   n if due_form["rule"] == "CAL" else None, "0" if due_form["noroll"] else None)
            due_result = {"deadline": deadline, "lines": deadline.explain().splitlines()}
        except ApiError as err:
            due_error = err.message

    return render_template(
        "calendar/admin.html", user=p, today=today, warn_years=warn, provisional_years=provisional,
        open_provisional=open_provisional_deadlines(), last_official=cal.last_official_year,
        recent=recent, older=older, detail_year=detail_year, detail=detail, detail_error=detail_error,
        csrf=csrf_token(), due_form=due_form, due_result=due_result, due_error=due_error,
        content=form.get("content", ""), fmt=form.get("fmt", ""), problems=form.get("problems"),
        result=form.get("result"), import_error=form.get("import_error"),
    ), status


@bp.get("/admin/calendar")
def admin_page():
    return _render_admin(_page_principal())


@bp.post("/admin/calendar/import")
def admin_import():
    p = _page_principal()
    if not csrf_ok(request.form.get("csrf_token", "")):
        log.warning("CSRF token missing or wrong for calendar import by %s", p.username)
        return _message_page(403, "表单校验失败：缺少或错误的 CSRF 令牌，未导入任何数据。请重新打开本页面后再提交 "
                                  "(CSRF token missing or wrong; nothing was imported, reload the page and retry)")
    fmt = request.form.get("format", "") or None
    pasted = request.form.get("content", "")
    upload = request.files.get("file")
    has_upload = upload is not None and bool(upload.filename)

    def refuse(problems: list[str], status: int = 422, text: str = pasted):
        return _render_admin(p, status, content=text, fmt=fmt or "", problems=problems)

    if fmt is not None and fmt not in FORMATS:
        return refuse([f"文件格式只能是 yaml 或 csv，收到 '{fmt}' (format must be yaml or csv)"], 400)
    if has_upload and pasted.strip():
        return refuse(["请上传文件或粘贴内容，二选一 (upload a file or paste its text, not both)"], 400)
    if has_upload:
        raw = upload.read(MAX_CALENDAR_BYTES + 1)
        if len(raw) > MAX_CALENDAR_BYTES:
            return refuse(["文件过大，上限 1 MB (the file is larger than 1 MB)"], 413, "")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return refuse(["文件不是 UTF-8 编码，请用 UTF-8 另存后再上传 (the file must be UTF-8 text)"], 422, "")
        if fmt is None and upload.filename.lower().endswith(".csv"):
            fmt = "csv"
        elif fmt is None and upload.filename.lower().endswith((".yaml", ".yml")):
            fmt = "yaml"
    else:
        text = pasted
    if not text.strip():
        return refuse(["请选择要上传的 YAML/CSV 文件，或把文件内容粘贴到文本框中 (choose a file or paste its text)"], 400)
    if len(text.encode("utf-8")) > MAX_CALENDAR_BYTES:
        return refuse(["内容过大，上限 1 MB (the text is larger than 1 MB)"], 413, "")
    try:
        outcome = import_text(text, fmt, p.username)
    except CalendarImportError as err:
        log.warning("calendar import by %s refused: %s", p.username, err.problems)
        return refuse(err.problems, 422, text)
    result = outcome["import"]
    return _render_admin(p, 200, result={"import": result, "recomputed": outcome["recomputed"]},
                         imported_year=result.year if result.region == NATIONAL else None)
