"""The notices a petition case produces, as documents (their kinds and titles are the notice catalogue's,
processes/notices.yaml) to print and serve (受理告知书, 不予受理告知书, 答复意见书,
转送/交办告知书, 交办通知, 延期办理告知书): built from the case data, rendered to PDF with reportlab's built-in CID font
(STSong-Light), so Chinese prints without any font file on the server. HTML rendering is the web app's template.

`build_notice` raises `NoticeUnavailable` naming what is missing (a decision not yet taken, a field not filled)
rather than printing a document with blanks.
"""
from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from engine.clock import SHANGHAI

from . import notices


def kinds() -> dict[str, str]:
    """The documents a case produces, kind -> title: the notice catalogue's (processes/notices.yaml)."""
    return notices.default_catalogue().documents


REVIEW_DAYS = 30


class NoticeUnavailable(LookupError):
    def __init__(self, kind: str, missing: list[str]):
        self.kind, self.missing = kind, missing
        super().__init__(f"{kinds().get(kind, kind)}暂不能生成：缺少{'、'.join(missing)}。"
                         f"请先在相应环节补全后再打印（missing: {', '.join(missing)}）")


@dataclass
class Notice:
    kind: str
    title: str
    doc_no: str
    case_no: str
    addressee: str
    paragraphs: list[str]
    issuer: str
    issued_on: date | None
    notes: list[str] = field(default_factory=list)  # small print under the signature (rights, contact)

    @property
    def issued_on_text(self) -> str:
        return cn_date(self.issued_on) if self.issued_on else "    年  月  日"


def cn_date(d: date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def _day(value) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).date()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value).astimezone(SHANGHAI).date()
        except ValueError:
            try:
                return date.fromisoformat(value[:10])
            except ValueError:
                return None
    return None


def petitioner_name(data: dict) -> str | None:
    people = data.get("petitioners") if isinstance(data.get("petitioners"), list) else []
    first = data.get("petitioner") if isinstance(data.get("petitioner"), dict) else (people[0] if people else None)
    name = (first or {}).get("name") if isinstance(first, dict) else None
    if not name:
        return None
    others = max(len(people) - 1, 0)
    return f"{name}等{len(people)}人" if others else str(name)


def _need(kind: str, pairs: list[tuple[object, str]]) -> None:
    missing = [label for value, label in pairs if value in (None, "", [], {})]
    if missing:
        raise NoticeUnavailable(kind, missing)


def build_notice(kind: str, data: dict, unit_name: Callable[[str], str],
                 name_shown: Callable[[str], str] = lambda n: n, query_code: str | None = None) -> Notice:
    """The notice `kind` of a case with `data`. `unit_name(code)` names units; `name_shown` masks the
    petitioner's name where the reader may not see it in full. `query_code`: the receipt printed at registration,
    while the code (never stored) is still on the registrar's page."""
    if kind not in kinds() or kind not in _BUILDERS:
        raise NoticeUnavailable(kind, [f"文书种类“{kind}”（可用：{'、'.join(kinds())}）"])
    case_no = data.get("case_no") or (data.get("registration") or {}).get("case_no")
    title = data.get("title")
    _need(kind, [(case_no, "信访事项编号"), (title, "信访事项标题")])
    if kind == "receipt":
        return _receipt(kind, data, str(case_no), str(title), unit_name, name_shown, query_code)
    return _BUILDERS[kind](kind, data, str(case_no), str(title), unit_name, name_shown)


# The petitioner's periods the receipt states (《信访工作条例》第三十二条、第三十四条、第三十五条、第三十六条).
ACCEPT_DAYS, HANDLE_DAYS = 15, 60


def _receipt(kind, data, case_no, title, unit_name, name_shown, query_code) -> Notice:
    """登记回执: what was registered (office, date, matter, number), the query code when it is printed at
    registration (the code is shown once; a reprint says it was given then), how to follow the case, and the
    petitioner's rights and periods."""
    registration = data.get("registration") or {}
    office_code = data.get("registering_unit") or registration.get("registering_unit")
    office = unit_name(office_code) if office_code else "信访工作机构"
    registered = _day(registration.get("registered_at"))
    name = petitioner_name(data)
    code_line = (f"查询码：{query_code}（系统不保存查询码，请妥善保管，遗失的请到登记机关重新办理）" if query_code else
                 "查询码：已在登记时告知（本回执为补打，不含查询码；系统不保存查询码）")
    paragraphs = [
        f"{office}已于{cn_date(registered) if registered else '今日'}登记你（们）提出的“{title}”信访事项，"
        f"信访事项编号 {case_no}。",
        code_line,
        "查询方式：凭信访事项编号和查询码，在本机关网站“信访事项查询”页面（/query）查询办理进度；也可按登记时收到的"
        "短信提示以短信查询，或来电、来访询问。",
        f"你（们）的权利和期限：有权处理的机关自收到之日起{ACCEPT_DAYS}日内告知你（们）是否受理；受理的，"
        f"自受理之日起{HANDLE_DAYS}日内办结并出具书面答复意见（情况复杂的，经批准可延长，延长不超过30日，并告知理由）；"
        f"对处理意见不服的，可自收到之日起{REVIEW_DAYS}日内请求复查；对复查意见不服的，可自收到之日起{REVIEW_DAYS}日内"
        "请求复核（《信访工作条例》第三十二条、第三十四条、第三十五条、第三十六条）。",
    ]
    return Notice(kind, "信访事项登记回执", f"{case_no}-回", case_no,
                  (name_shown(name) + "：") if name else "信访人：", paragraphs, office, registered,
                  ["本回执由登记机关交信访人收执。"])


def _addressee(kind, data, name_shown) -> str:
    name = petitioner_name(data)
    _need(kind, [(name, "信访人姓名")])
    return name_shown(name) + "："


def _handling_unit(kind, data, unit_name) -> tuple[str, str]:
    assignment = data.get("assignment") or {}
    code = assignment.get("unit") or (data.get("dispatch") or {}).get("unit")
    _need(kind, [(code, "责任单位（尚未交办转送）")])
    return code, assignment.get("unit_name") or unit_name(code)


def _transfer(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    dispatch = data.get("dispatch") or {}
    _need(kind, [(dispatch.get("unit"), "转送交办记录（尚未转送交办）")])
    _, unit = _handling_unit(kind, data, unit_name)
    how = dispatch.get("dispatch_type") or "转送"
    registering = data.get("registering_unit") or (data.get("registration") or {}).get("registering_unit")
    received = _day((data.get("registration") or {}).get("registered_at"))
    return Notice(kind, f"信访事项{how}告知书", f"{case_no}-转", case_no, _addressee(kind, data, name_shown), [
        f"你（们）{cn_date(received) + '提出' if received else '提出'}的“{title}”信访事项（编号 {case_no}），"
        f"经审查，依照《信访工作条例》第二十一条和“属地管理、分级负责，谁主管、谁负责”的原则，"
        f"已{how}{unit}办理。",
        f"{unit}将自收到之日起15日内告知你（们）是否受理。"
        "你（们）可凭信访事项编号和查询码查询办理进度。",
    ], unit_name(registering) if registering else "信访工作机构", _day(dispatch.get("at")),
        ["本告知书一式两份，一份送达信访人，一份存档。"])


def _assignment(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    dispatch = data.get("dispatch") or {}
    _need(kind, [(dispatch.get("unit"), "转送交办记录（尚未转送交办）")])
    _, unit = _handling_unit(kind, data, unit_name)
    how = dispatch.get("dispatch_type") or "转送"
    limits = data.get("limits") or {}
    registering = data.get("registering_unit") or (data.get("registration") or {}).get("registering_unit")
    basis = (data.get("assignment") or {}).get("basis")
    paragraphs = [
        f"现将“{title}”信访事项（编号 {case_no}）{how}你单位。"
        + (f"{how}依据：{basis}。" if basis else ""),
        f"请于{limits.get('sign_workdays', 5)}个工作日内签收或提出异议，自收到之日起"
        f"{limits.get('accept_days', 15)}日内决定是否受理并书面告知信访人；受理的，应当自受理之日起"
        f"{limits.get('handle_days', 60)}日内办结，出具书面答复意见。",
    ]
    if how == "交办":
        paragraphs.append("本事项为交办件，办结后请将办理结果书面报告交办机关。")
    return Notice(kind, f"信访事项{how}通知", f"{case_no}-{how[:1]}", case_no, f"{unit}：", paragraphs,
                  unit_name(registering) if registering else "信访工作机构", _day(dispatch.get("at")))


def _acceptance(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    if data.get("accepted") is not True:
        raise NoticeUnavailable(kind, ["受理决定（尚未决定受理）" if data.get("accepted") is None
                                       else "受理决定（本件不予受理，请打印不予受理告知书）"])
    _, unit = _handling_unit(kind, data, unit_name)
    # The statutory limit the notice promises (a redo's own, shorter clock in handle_total_days is not it).
    days = (data.get("limits") or {}).get("handle_days") or data.get("handle_total_days") or 60
    accepted_on = _day(data.get("accepted_at")) or _day((data.get("acceptance_notice") or {}).get("at"))
    paragraphs = [
        f"你（们）反映的“{title}”信访事项（编号 {case_no}），经审查，符合《信访工作条例》规定的受理条件，"
        f"本机关决定予以受理。",
        f"本机关将自受理之日起{days}日内办结并出具书面答复意见；情况复杂的，经批准可以适当延长办理期限，"
        "延长期限不超过30日，并告知延期理由。",
    ]
    if data.get("acceptance_note"):
        paragraphs.append(f"告知事项：{data['acceptance_note']}")
    return Notice(kind, "信访事项受理告知书", f"{case_no}-受", case_no, _addressee(kind, data, name_shown),
                  paragraphs, unit, accepted_on, ["本告知书一式两份，一份送达信访人，一份存档。"])


def _non_acceptance(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    if data.get("accepted") is not False:
        raise NoticeUnavailable(kind, ["不予受理决定（尚未决定或已受理）"])
    _need(kind, [(data.get("non_accept_reason"), "不予受理理由")])
    _, unit = _handling_unit(kind, data, unit_name)
    decided_on = _day((data.get("acceptance_notice") or {}).get("at"))
    return Notice(kind, "信访事项不予受理告知书", f"{case_no}-不受", case_no, _addressee(kind, data, name_shown), [
        f"你（们）反映的“{title}”信访事项（编号 {case_no}），经审查，本机关决定不予受理。",
        f"理由及应当提出的机关：{data['non_accept_reason']}",
    ], unit, decided_on, ["本告知书一式两份，一份送达信访人，一份存档。"])


def _reply(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    _need(kind, [(data.get("reply_text"), "答复意见（尚未拟写）"), (data.get("outcome"), "处理意见")])
    _, unit = _handling_unit(kind, data, unit_name)
    served = data.get("reply_notice") or {}
    organ = (data.get("review_org") or {}).get("unit_name") if isinstance(data.get("review_org"), dict) else None
    paragraphs = [
        f"你（们）反映的“{title}”信访事项（编号 {case_no}），本机关已依法办理，现答复如下：",
        f"一、信访诉求：{data.get('request') or '（见登记材料）'}",
        f"二、查明的事实和理由：{data['reply_text']}",
        f"三、处理意见：{data['outcome']}。" + (f"依据：{data['legal_basis']}。" if data.get("legal_basis") else ""),
        f"如对本处理意见不服，可以自收到本意见书之日起{REVIEW_DAYS}日内，向{organ or '本机关的上一级行政机关'}"
        "提出复查请求。",
    ]
    return Notice(kind, "信访事项处理意见书", f"{case_no}-答", case_no, _addressee(kind, data, name_shown),
                  paragraphs, unit, _document_day(served), ["本意见书一式两份，一份送达信访人，一份存档。"])


def _document_day(served: dict) -> date | None:
    """The date the reply bears: the document date recorded at its service, else the day it was sent."""
    service = served.get("service") if isinstance(served.get("service"), dict) else {}
    try:
        return date.fromisoformat(service["document_date"]) if service.get("document_date") else _day(served.get("at"))
    except ValueError:
        return _day(served.get("at"))


def _extension(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    """延期办理告知书: the approved extension of the handling limit, its reason and the new due day
    (《信访工作条例》第三十四条: the petitioner is told the reason)."""
    _need(kind, [(data.get("extension_new_due"), "批准的延期（尚未批准延期）"), (data.get("approved_days"), "批准延期天数"),
                 (data.get("extension_reason"), "延期理由")])
    _, unit = _handling_unit(kind, data, unit_name)
    accepted_on = _day(data.get("accepted_at"))
    new_due = _day(data["extension_new_due"])
    served = data.get("extension_notice") or {}
    return Notice(kind, "信访事项延期办理告知书", f"{case_no}-延", case_no, _addressee(kind, data, name_shown), [
        f"你（们）反映的“{title}”信访事项（编号 {case_no}），本机关已于"
        f"{cn_date(accepted_on) if accepted_on else '此前'}受理。",
        f"因{data['extension_reason']}，经本机关负责人批准，依照《信访工作条例》第三十四条，办理期限延长"
        f"{data['approved_days']}日，至{cn_date(new_due) if new_due else data['extension_new_due']}。",
        "本机关将在延长后的期限内办结并出具书面答复意见。你（们）可凭信访事项编号和查询码查询办理进度。",
    ], unit, _day(served.get("at")), ["本告知书一式两份，一份送达信访人，一份存档。"])


def _registering_office(data, unit_name) -> str:
    code = data.get("registering_unit") or (data.get("registration") or {}).get("registering_unit")
    return unit_name(code) if code else "信访工作机构"


def _route_out(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    """依法通过法定途径解决告知书 (《信访工作条例》第二十二条、第三十一条): the channel, the competent body and the
    legal basis, from the route-out at triage (`routed_out`) or the non-acceptance at acceptance (`acceptance_notice`
    with its `route_out`)."""
    triaged = data.get("routed_out") if isinstance(data.get("routed_out"), dict) else {}
    at_acceptance = (data.get("acceptance_notice") or {}).get("route_out") or {}
    out = triaged if triaged.get("channel") else at_acceptance
    _need(kind, [(out.get("channel"), "导出的法定途径（尚未诉访分离，或不予受理时未选法定途径）")])
    issuer = (unit_name(data["assignment"]["unit"]) if out is at_acceptance and (data.get("assignment") or {}).get("unit")
              else _registering_office(data, unit_name))
    received = _day((data.get("registration") or {}).get("registered_at"))
    return Notice(kind, "依法通过法定途径解决告知书", f"{case_no}-导", case_no, _addressee(kind, data, name_shown), [
        f"你（们）{cn_date(received) + '提出' if received else '提出'}的“{title}”信访事项（编号 {case_no}），经审查，"
        f"属于应当通过{out.get('channel_name') or out['channel']}途径解决的事项，依照《信访工作条例》不作为信访事项办理。",
        f"请你（们）依法向{out.get('unit_name') or '有权处理的机关'}提出。",
        f"依据：{out.get('basis') or '《信访工作条例》第二十二条、第三十一条'}。",
        "以同一事实和理由再次提出信访的，信访部门将再次告知你（们）依法通过上述途径解决。",
    ], issuer, _day(out.get("at")), ["本告知书一式两份，一份送达信访人，一份存档。"])


def _skip_level(kind, data, case_no, title, unit_name, name_shown) -> Notice:
    """越级走访告知书 (《信访工作条例》第二十条): the competent level's petition office the matter was passed to."""
    sent = data.get("skip_level") if isinstance(data.get("skip_level"), dict) else {}
    _need(kind, [(sent.get("office"), "越级访转回记录（尚未按越级访转回下级）")])
    received = _day((data.get("registration") or {}).get("registered_at"))
    return Notice(kind, "越级走访告知书", f"{case_no}-越", case_no, _addressee(kind, data, name_shown), [
        f"你（们）{cn_date(received) + '到本机关' if received else '到本机关'}反映的“{title}”信访事项（编号 {case_no}），"
        f"问题发生地属{sent.get('area_name') or '下级'}管辖。",
        f"依照《信访工作条例》第二十条和“属地管理、分级负责”的原则，请你（们）向{sent.get('office_name')}提出；"
        f"本机关已将该事项转{sent.get('office_name')}依法处理，{sent.get('office_name')}将告知你（们）是否受理。",
        f"事由：{sent.get('reason') or '越级走访'}。",
    ], _registering_office(data, unit_name), _day(sent.get("at")), ["本告知书一式两份，一份送达信访人，一份存档。"])


_BUILDERS = {"receipt": _receipt, "route_out": _route_out, "skip_level": _skip_level, "transfer": _transfer, "assignment": _assignment, "acceptance": _acceptance,
             "non_acceptance": _non_acceptance, "reply": _reply, "extension": _extension}


def notice_list(data: dict, unit_name: Callable[[str], str]) -> list[dict]:
    """Every kind with whether it can be printed now and, if not, why (for the case page)."""
    out = []
    for kind, title in kinds().items():
        try:
            notice = build_notice(kind, data, unit_name)
        except NoticeUnavailable as err:
            out.append({"kind": kind, "title": title, "ready": False, "reason": "、".join(err.missing),
                        "missing": list(err.missing)})
        else:
            out.append({"kind": kind, "title": notice.title, "ready": True, "reason": "", "missing": []})
    return out


def render_pdf(notice: Notice) -> bytes:
    """An A4 PDF of the notice in the usual official layout (title, number, addressee, body, issuer, date)."""
    from xml.sax.saxutils import escape

    from reportlab.lib.enums import TA_CENTER, TA_RIGHT
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    font = "STSong-Light"
    if font not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(font))
    base = dict(fontName=font, wordWrap="CJK")
    title = ParagraphStyle("title", fontSize=20, leading=30, alignment=TA_CENTER, spaceAfter=4, **base)
    number = ParagraphStyle("number", fontSize=11, leading=16, alignment=TA_CENTER, spaceAfter=14, **base)
    body = ParagraphStyle("body", fontSize=14, leading=26, firstLineIndent=28, **base)
    plain = ParagraphStyle("plain", fontSize=14, leading=26, **base)
    right = ParagraphStyle("right", fontSize=14, leading=26, alignment=TA_RIGHT, rightIndent=14 * mm, **base)
    small = ParagraphStyle("small", fontSize=10, leading=15, textColor="#444444", **base)

    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=28 * mm, rightMargin=26 * mm, topMargin=37 * mm,
                            bottomMargin=35 * mm, title=f"{notice.title} {notice.case_no}",
                            author=notice.issuer, subject=notice.case_no, creator="Lianxin")
    story = [Paragraph(escape(notice.title), title), Paragraph(escape(f"编号：{notice.doc_no}"), number),
             Paragraph(escape(notice.addressee), plain)]
    story += [Paragraph(escape(p), body) for p in notice.paragraphs]
    story += [Spacer(1, 18 * mm), Paragraph(escape(f"{notice.issuer}（盖章）"), right),
              Paragraph(escape(notice.issued_on_text), right), Spacer(1, 12 * mm)]
    story += [Paragraph(escape(n), small) for n in notice.notes]
    story.append(Paragraph(escape(f"信访事项编号：{notice.case_no}"), small))
    doc.build(story)
    return buf.getvalue()
