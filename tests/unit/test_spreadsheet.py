"""The one guard for cells of CSV files and Excel workbooks (services/spreadsheet.py), and the KPI workbook, whose
annual sheets carry text from cases (the petition category)."""
from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import load_workbook

from services.spreadsheet import safe_cell, safe_row


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1+2", "@SUM(A1)", "\t=1", "\r=1", "＝1", "＋1", "－1", "＠A"])
def test_text_a_spreadsheet_would_evaluate_is_prefixed(text):
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("value", ["工资拖欠", "a=b", " =1", "", "2026-03-01", 42, -3, 1.5, None, "'=1"])
def test_other_values_are_unchanged(value):
    assert safe_cell(value) == value


def test_rows():
    assert safe_row(["=1", 2, "x"]) == ["'=1", 2, "x"]


def test_kpi_workbook_writes_case_text_as_text():
    from services.stats_export import kpi_workbook

    report = {"period": {"label": "2026-03", "from": "2026-03-01", "to": "2026-03-31"}, "frozen": None,
              "computed_at": datetime(2026, 3, 31, tzinfo=UTC).isoformat(), "scope": "all",
              "settings_digest": "abc", "kpis": [
                  {"label": "受理数", "numerator": 1, "denominator": None, "value": None, "unit": "件",
                   "definition": "-", "case_ids": [1]}]}
    annual = {"by_category": [{"category": "=HYPERLINK(\"http://evil.example\")", "count": 1}],
              "most_complained_units": [{"unit_name": "@东城县", "count": 1}], "transfers": 0, "assignments": 0,
              "supervisions": {"total": 0, "by_kind": {}}, "suggestions": {"received": 0, "adopted": 0}}
    wb = load_workbook(io.BytesIO(kpi_workbook(report, [], annual)))
    cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]
    values = {c.value for c in cells}
    assert "'=HYPERLINK(\"http://evil.example\")" in values and "'@东城县" in values and "'-" in values
