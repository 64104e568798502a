"""The date of service (services/petitioner_rights.service_record), the decision form's date keywords
(web/desk/forms: x-default, x-not-after, x-not-before) and the reply's printed date."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from services import documents
from services.petitioner_rights import RIGHTS, service_record, window
from web.desk import forms

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 3, 10, 1, tzinfo=UTC)  # 09:00 Beijing time, 10 March


def test_an_empty_service_is_today_by_direct_service():
    record = service_record({}, NOW)
    assert (record["document_date"], record["served_on"], record["method"]) == ("2026-03-10", "2026-03-10", "直接送达")
    assert record["served_at"] == "2026-03-10T00:00:00+08:00"


def test_a_postal_service_counts_from_the_signed_receipt():
    record = service_record({"document_date": "2026-03-05", "served_on": "2026-03-09", "service_method": "邮寄送达"},
                            NOW)
    assert (record["served_on"], record["method"], record["served_at"]) == ("2026-03-09", "邮寄送达",
                                                                            "2026-03-09T00:00:00+08:00")


@pytest.mark.parametrize(("data", "words"), [
    ({"document_date": "2026-03-05", "served_on": "2026-03-04"}, "早于文书日期"),
    ({"served_on": "2026-03-11"}, "晚于今天"),
    ({"document_date": "2026-03-11", "served_on": "2026-03-11"}, "文书日期"),
    ({"service_method": "飞鸽传书"}, "送达方式"),
    ({"served_on": "3月9日"}, "不是日期"),
])
def test_a_service_that_cannot_be_true_is_refused(data, words):
    with pytest.raises(ValueError, match=words):
        service_record(data, NOW)


def test_the_decision_form_fills_today_and_bounds_the_dates():
    schema = json.loads((ROOT / "processes" / "forms" / "handling.schema.json").read_text(encoding="utf-8"))
    today = date(2026, 3, 10)
    filled = forms.with_defaults(schema, {"handle_action": "答复", "outcome": "支持", "reply_text": "x"}, today)
    assert (filled["document_date"], filled["service_method"]) == ("2026-03-10", "直接送达")
    # the date of service is left empty, not filled: the serving step takes today, but a reply served 电子送达
    # without a date entered is served when the petitioner opens it online (services/portal.py)
    assert "served_on" not in filled
    record = service_record(filled, NOW)
    assert (record["served_on"], record["date_entered"]) == ("2026-03-10", False)
    assert service_record(dict(filled, served_on="2026-03-10"), NOW)["date_entered"] is True
    assert forms.validate(schema, filled, today) == {}
    late = dict(filled, served_on="2026-03-11")
    assert "不能晚于今天" in forms.validate(schema, late, today)["served_on"]
    early = dict(filled, document_date="2026-03-08", served_on="2026-03-07")
    assert "不能早于" in forms.validate(schema, early, today)["served_on"]
    assert forms.validate(schema, early) == {}  # without today the bounds are not checked (old callers)


def test_the_printed_reply_bears_the_document_date_recorded_at_service():
    data = {"case_no": "X1", "title": "欠薪", "reply_text": "已支付", "outcome": "支持", "petitioner": {"name": "张某"},
            "assignment": {"unit": "county_a_hrss", "unit_name": "甲县人社局"},
            "reply_notice": {"at": "2026-03-10T01:00:00+00:00",
                             "service": {"document_date": "2026-03-05", "served_on": "2026-03-09"}}}
    notice = documents.build_notice("reply", data, lambda code: code)
    assert notice.issued_on == date(2026, 3, 5)


class _Deadlines:
    """compute_deadline as the runtime's: here plain calendar days, enough to see where the window starts."""

    def __init__(self):
        self.starts = []

    def compute_deadline(self, rule, n, start, roll_forward=True):
        self.starts.append(start)
        day = start.date() + timedelta(days=n + 1)
        return SimpleNamespace(due_at=datetime(day.year, day.month, day.day, tzinfo=start.tzinfo))


def test_the_window_starts_at_service_and_before_service_there_is_none():
    rt = _Deadlines()
    right = RIGHTS["复查申请"]
    assert window(rt, {}, right) is None
    served = {"reply_notice": {"at": "2026-03-10T01:00:00+00:00",
                               "service": service_record({"document_date": "2026-03-06", "served_on": "2026-03-09"}, NOW)}}
    span = window(rt, served, right)
    assert span["served_on"] == "2026-03-09" and rt.starts[-1].isoformat() == "2026-03-09T00:00:00+08:00"
    # a case on a version from before service was recorded: the window runs from the sending, as it did then
    old = window(rt, {"reply_notice": {"at": "2026-03-10T01:00:00+00:00"}}, right)
    assert old["served_on"] == "2026-03-10" and rt.starts[-1].isoformat() == "2026-03-10T01:00:00+00:00"
