"""四个清单 (the four lists) as pages: leader case-ownership, stabilisation, resolution and supervision, from the
registers the processes keep (`case_register`), with filters by unit (with subunits), leader and status, and an
Excel export. The stabilisation list shows responsibility records only (unit, leader, duty, status): nothing
about petitioners is kept or shown.
"""
from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from engine.clock import SHANGHAI
from engine.store import CaseRegister
from services import accountability, registers
from services.four_lists import KIND_OF_REGISTER, TITLES
from services.stats_export import accountability_workbook, list_workbook
from services.stats_report import subtree

from .. import visibility
from ..auth import ApiError, Principal
from ..http import container, org_chart
from ..ui import page_principal

bp = Blueprint("lists", __name__)

LIST_ROLES = ("bureau", "jointmeeting", "leader", "county_office", "admin", "auditor")
REGISTERS = ("leader_case", "stabilisation", "resolution", "supervision", "accountability")
# What each list shows of a row's data: responsibilities only.
COLUMNS = {
    "leader_case": (("leader", "包案领导"), ("task_force", "化解专班"), ("responsible_unit", "承办单位")),
    "stabilisation": (("leader", "责任领导"), ("item", "责任内容")),
    "resolution": (("item", "事项"), ("outcome", "处理结果")),
    "supervision": (("kind", "类型"), ("item", "督办事项"), ("by", "督办单位")),
    "accountability": (("kind", "问责方式"), ("reason", "事由"), ("person_name", "责任人"), ("by", "问责单位")),
}
MAX_ROWS = 1000


def _principal() -> Principal:
    return page_principal(*LIST_ROLES)


def filters_from(args) -> dict:
    register = args.get("register") or "resolution"
    if register not in REGISTERS:
        raise ApiError(422, "invalid", _("没有这个清单，请选择：领导包案、稳控、化解、督办或问责记录。"))
    status = args.get("status") or ""
    if status not in ("", "open", "closed"):
        raise ApiError(422, "invalid", _("状态应为“在办”或“已销号”。"))
    return {"register": register, "unit": args.get("unit") or "", "leader": (args.get("leader") or "").strip(),
            "status": status}


def load_rows(p: Principal, f: dict) -> list[dict]:
    chart = org_chart()
    if f["unit"] and not chart.has(f["unit"]):
        raise ApiError(422, "invalid", _("单位“%(unit)s”不在组织机构中，请从列表中选择。", unit=f["unit"]))
    with container().extras["read_sessions"]() as s:
        return registers.register_rows(
            s, f["register"], units=subtree(chart, f["unit"]) if f["unit"] else None, person=f["leader"],
            status=f["status"], served=visibility.units_scope(p),
            case_condition=visibility.outside_discipline_track(p, CaseRegister.case_id), limit=MAX_ROWS)


def _cell(row: dict, field: str, names: dict) -> str:
    value = (row["data"] or {}).get(field)
    if isinstance(value, list):
        return "、".join(names.get(v, str(v)) for v in value)
    return names.get(value, value) if isinstance(value, str) else ("" if value is None else str(value))


@bp.get("/lists")
def index():
    p = _principal()
    f = filters_from(request.args)
    rows = load_rows(p, f)
    chart = org_chart()
    names = {code: u.name for code, u in chart.units.items()}
    leaders = sorted({r["person"] for r in rows if r["person"]})
    kind = KIND_OF_REGISTER[f["register"]]
    return render_template("lists/index.html", f=f, rows=rows, names=names, leaders=leaders,
                           registers=[(r, TITLES[KIND_OF_REGISTER[r]]) for r in REGISTERS], title=TITLES[kind],
                           columns=COLUMNS[f["register"]], cell=_cell, units=sorted(names.items()),
                           limit=MAX_ROWS)


@bp.get("/lists/export.xlsx")
def export():
    p = _principal()
    f = filters_from(request.args)
    chart = org_chart()
    names = {code: u.name for code, u in chart.units.items()}
    title = TITLES[KIND_OF_REGISTER[f["register"]]]
    data = list_workbook(title, load_rows(p, f), names)
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="lianxin-{f["register"]}.xlsx"'})


# ---------------------------------------------------------------- 问责情况 (annual, per unit)

def _report_principal() -> Principal:
    p = page_principal(*LIST_ROLES)
    if not visibility.may_read_accountability(p):
        raise visibility.refuse(p, "accountability report", _("问责情况由信访部门、联席会议、领导、审计员查阅。"))
    return p


def _report_year(args) -> int:
    text = args.get("year") or ""
    if not text:
        return container().clock.now().astimezone(SHANGHAI).year
    if not text.isdigit() or not 2000 <= int(text) <= 2100:
        raise ApiError(422, "invalid", _("年份应为四位数字，如 2026。"))
    return int(text)


def accountability_report(p: Principal, year: int) -> dict:
    """The annual per-unit 问责情况 of the units `p` serves (the page, its Excel and the JSON API)."""
    c = container()
    chart = org_chart()
    with c.extras["read_sessions"]() as s:
        rows = accountability.annual_rows(s, year, served=visibility.units_scope(p),
                                          case_condition=visibility.outside_discipline_track(p, CaseRegister.case_id))
    return accountability.annual_report(rows, year, c.clock.now(), {code: u.name for code, u in chart.units.items()})


@bp.get("/lists/accountability")
def accountability_page():
    p = _report_principal()
    year = _report_year(request.args)
    return render_template("lists/accountability.html", report=accountability_report(p, year), year=year)


@bp.get("/lists/accountability.xlsx")
def accountability_export():
    p = _report_principal()
    year = _report_year(request.args)
    data = accountability_workbook(accountability_report(p, year))
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="lianxin-accountability-{year}.xlsx"'})
