"""Notices built from case data: the right text, a clear refusal when data are missing, a real PDF."""
from __future__ import annotations

import base64
import re
import zlib

import pytest

from services import documents

UNITS = {"county_a_hrss": "东城县人力资源和社会保障局", "city_bureau": "市信访局"}


def unit_name(code):
    return UNITS.get(code, code)


def case_data(**extra):
    data = {
        "case_no": "XF4101212026030203000001", "title": "工伤认定久拖不决", "request": "要求尽快作出工伤认定",
        "registering_unit": "city_bureau", "petitioner": {"name": "张三", "phone": "13912345678"},
        "registration": {"case_no": "XF4101212026030203000001", "registered_at": "2026-03-02T01:00:00+00:00"},
        "assignment": {"unit": "county_a_hrss", "basis": "谁主管谁负责"},
        "dispatch": {"unit": "county_a_hrss", "dispatch_type": "转送", "at": "2026-03-03T02:00:00+00:00"},
        "limits": {"sign_workdays": 5, "accept_days": 15, "handle_days": 60},
    }
    data.update(extra)
    return data


def test_acceptance_notice_names_unit_case_and_date():
    n = documents.build_notice("acceptance", case_data(accepted=True, accepted_at="2026-03-05T08:00:00+00:00",
                                                       handle_total_days=60), unit_name)
    assert n.title == "信访事项受理告知书" and n.addressee == "张三："
    assert n.issuer == "东城县人力资源和社会保障局" and n.issued_on_text == "2026年3月5日"
    assert "XF4101212026030203000001" in n.paragraphs[0] and "60日内办结" in n.paragraphs[1]


def test_acceptance_refused_before_the_decision_and_after_a_refusal():
    with pytest.raises(documents.NoticeUnavailable, match="尚未决定受理"):
        documents.build_notice("acceptance", case_data(), unit_name)
    with pytest.raises(documents.NoticeUnavailable, match="不予受理告知书"):
        documents.build_notice("acceptance", case_data(accepted=False), unit_name)


def test_non_acceptance_needs_its_reason():
    with pytest.raises(documents.NoticeUnavailable, match="不予受理理由"):
        documents.build_notice("non_acceptance", case_data(accepted=False), unit_name)
    n = documents.build_notice("non_acceptance", case_data(accepted=False, non_accept_reason="已进入诉讼程序，请向人民法院提出"),
                               unit_name)
    assert "已进入诉讼程序" in n.paragraphs[1] and n.title == "信访事项不予受理告知书"


def test_reply_states_the_review_right_and_masks_through_the_callback():
    n = documents.build_notice("reply", case_data(outcome="解释说明", reply_text="经核查，已解释政策。",
                                                  reply_notice={"at": "2026-04-01T02:00:00+00:00"}),
                               unit_name, name_shown=lambda name: name[0] + "*")
    assert n.addressee == "张*："
    assert any("30日内" in p and "复查" in p for p in n.paragraphs)
    assert n.issued_on_text == "2026年4月1日"


def test_transfer_and_assignment_notices():
    t = documents.build_notice("transfer", case_data(), unit_name)
    assert t.title == "信访事项转送告知书" and "东城县人力资源和社会保障局" in t.paragraphs[0]
    assert t.issuer == "市信访局"
    a = documents.build_notice("assignment", case_data(), unit_name)
    assert a.addressee == "东城县人力资源和社会保障局：" and "5个工作日内签收" in a.paragraphs[1]


def test_missing_case_number_or_petitioner_is_named():
    data = case_data(accepted=True)
    del data["case_no"], data["registration"]
    with pytest.raises(documents.NoticeUnavailable, match="信访事项编号"):
        documents.build_notice("acceptance", data, unit_name)
    with pytest.raises(documents.NoticeUnavailable, match="信访人姓名"):
        documents.build_notice("acceptance", case_data(accepted=True, petitioner={}), unit_name)


def test_group_petition_addressed_to_first_representative_and_others():
    data = case_data(accepted=True, petitioner=None,
                     petitioners=[{"name": "李四"}, {"name": "王五"}, {"name": "赵六"}])
    assert documents.build_notice("acceptance", data, unit_name).addressee == "李四等3人："


def test_notice_list_says_what_is_ready():
    listed = {d["kind"]: d for d in documents.notice_list(case_data(accepted=True), unit_name)}
    assert listed["acceptance"]["ready"] and listed["transfer"]["ready"]
    assert not listed["reply"]["ready"] and "答复意见" in listed["reply"]["reason"]


def test_pdf_is_a_pdf_with_the_cid_font_and_text():
    n = documents.build_notice("acceptance", case_data(accepted=True), unit_name)
    pdf = documents.render_pdf(n)
    assert pdf.startswith(b"%PDF-")
    assert b"STSong-Light" in pdf and b"UniGB-UCS2-H" in pdf
    assert b"Subject (XF4101212026030203000001)" in pdf  # document information names the case
    text = _drawn_text(pdf)  # what the pages draw with the CID font (UCS-2 codes)
    assert "信访事项受理告知书" in text and "编号：XF4101212026030203000001-受" in text
    assert "东城县人力资源和社会保障局（盖章）" in text


def _inflated(pdf: bytes) -> bytes:
    """Page content streams, undoing reportlab's ASCII85 + Flate filters."""
    out = b""
    for m in re.finditer(rb"stream\r?\n(.*?)\s*endstream", pdf, re.S):
        raw = m.group(1).strip()
        try:
            if raw.endswith(b"~>"):
                raw = base64.a85decode(raw[:-2])
            out += zlib.decompress(raw)
        except (ValueError, zlib.error):
            pass
    return out


def _drawn_text(pdf: bytes) -> str:
    """The text of every `(...) Tj` drawn in the two-byte CID font, decoded from UTF-16BE."""
    out = []
    for m in re.finditer(rb"/F2 [\d.]+ Tf [\d.]+ TL \((.*?)(?<!\\)\) Tj", _inflated(pdf), re.S):
        raw = re.sub(rb"\\([0-7]{1,3}|.)", _unescape, m.group(1))
        out.append(raw.decode("utf-16-be", errors="replace"))
    return "".join(out)


def _unescape(m: re.Match) -> bytes:
    code = m.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(code, code)
