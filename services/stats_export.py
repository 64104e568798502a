"""Excel workbooks (openpyxl) of the KPIs, the rankings, the annual report data and the four lists."""
from __future__ import annotations

import io
from datetime import datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from engine.clock import SHANGHAI

from .spreadsheet import safe_row

HEADER = PatternFill("solid", fgColor="DDE7F3")
RANK_COLUMNS = (("registered", "立案办理数"), ("timely_acceptance", "及时受理率"),
                ("on_time_completion_rate", "按期办结率"), ("on_time_reply_rate", "按期答复率"),
                ("satisfaction_rate", "满意率"), ("overdue", "超期件数"))


def _sheet(wb: Workbook, title: str, header: list[str], rows: list[list], first: bool = False):
    ws = wb.active if first else wb.create_sheet()
    ws.title = title
    ws.append(safe_row(header))
    for cell in ws[1]:
        cell.font, cell.fill = Font(bold=True), HEADER
    for row in rows:
        ws.append(safe_row(row))
    for i, name in enumerate(header, 1):
        width = max([len(str(name))] + [len(str(r[i - 1])) for r in rows if i - 1 < len(r)] + [6])
        ws.column_dimensions[get_column_letter(i)].width = min(60, width * 1.6 + 2)
    ws.freeze_panes = "A2"
    return ws


def _local(value) -> str:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")
    return "" if value is None else str(value)


def kpi_workbook(report: dict, rankings: list[dict] | None = None, annual: dict | None = None,
                 unit_names: dict | None = None) -> bytes:
    wb = Workbook()
    period = report["period"]
    frozen = report.get("frozen")
    note = f"已冻结 {frozen['frozen_at']}（{frozen['frozen_by']}）" if frozen else f"计算于 {report['computed_at']}"
    rows = [[k["label"], k["numerator"], "" if k["denominator"] is None else k["denominator"],
             "" if k["value"] is None else k["value"], k["unit"], k["definition"],
             "、".join(str(i) for i in k["case_ids"][:200])] for k in report["kpis"]]
    ws = _sheet(wb, "统计指标", ["指标", "分子", "分母", "数值", "单位", "口径", "案件编号（系统号）"], rows, first=True)
    ws.append([])
    ws.append(safe_row([f"统计期 {period['label']}（{period['from']} 至 {period['to']}）", f"范围 {report['scope']}",
                        note, f"口径版本 {report['settings_digest']}"]))
    for row in ws.iter_rows(min_row=2, max_col=6):
        row[5].alignment = Alignment(wrap_text=True, vertical="top")
    if rankings is not None:
        _sheet(wb, "单位排名", ["名次", "单位"] + [label for _, label in RANK_COLUMNS],
               [[r["rank"], r["unit_name"]] + [_ranked(r[key]) for key, _ in RANK_COLUMNS] for r in rankings])
    if annual is not None:
        _annual_sheets(wb, annual, unit_names or {})
    return _bytes(wb)


def _ranked(cell: dict):
    if cell["denominator"] is None:
        return cell["numerator"]
    return "—" if cell["value"] is None else f"{cell['value']}%（{cell['numerator']}/{cell['denominator']}）"


def _annual_sheets(wb: Workbook, annual: dict, unit_names: dict) -> None:
    _sheet(wb, "年度-按领域", ["内容分类", "件数"], [[r["category"], r["count"]] for r in annual["by_category"]])
    _sheet(wb, "年度-被投诉较多的单位", ["单位", "件数"],
           [[r["unit_name"], r["count"]] for r in annual["most_complained_units"]])
    s = annual["suggestions"]
    _sheet(wb, "年度-转送交办督办", ["项目", "件数"],
           [["转送", annual["transfers"]], ["交办", annual["assignments"]],
            ["督办（合计）", annual["supervisions"]["total"]]]
           + [[f"督办：{k}", v] for k, v in annual["supervisions"]["by_kind"].items()]
           + [["建议意见", s["received"]], ["建议意见（采纳）", s["adopted"]],
              ["建议意见（奖励）", s.get("rewarded", 0)]])
    _sheet(wb, "年度-化解重复集体访", ["指标", "数值", "分子", "分母"],
           [[k["label"], k["value"], k["numerator"], k["denominator"]] for k in annual.get("figures", [])])


def list_workbook(title: str, rows: list[dict], unit_names: dict) -> bytes:
    wb = Workbook()
    _sheet(wb, title[:30], ["编号", "单位", "领导", "事项", "状态", "列入时间", "更新时间", "销号时间"],
           [[(r["data"] or {}).get("case_no") or r["case_id"], unit_names.get(r["unit"], r["unit"] or ""),
             r["person"] or "", (r["data"] or {}).get("item") or (r["data"] or {}).get("kind") or "",
             (r["data"] or {}).get("status") or r["status"], _local(r["opened_at"]), _local(r["updated_at"]),
             _local(r["closed_at"])] for r in rows], first=True)
    return _bytes(wb)


def accountability_workbook(report: dict) -> bytes:
    """问责情况（年度，分单位）: counts per kind, written feedback on time / late / missing / pending, cases."""
    wb = Workbook()
    _sheet(wb, f"{report['year']}年问责情况", ["单位", "合计", "约谈", "通报", "限期整改", "追责建议", "按期反馈",
                                            "逾期反馈", "未反馈（已逾期）", "未到期", "涉及信访件", "涉及人员"],
           [[u["unit_name"], u["total"], u["约谈"], u["通报"], u["限期整改"], u["追责建议"], u["on_time"], u["late"],
             u["missing"], u["pending"], "、".join(u["cases"]), "、".join(u["people"])] for u in report["units"]],
           first=True)
    return _bytes(wb)


def _bytes(wb: Workbook) -> bytes:
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
