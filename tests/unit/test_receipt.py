"""The 登记回执 (services/documents.py `receipt`): what was registered, the query code only when printed at
registration, how to query, the petitioner's rights and periods; a PDF drawn with the CID font."""
from __future__ import annotations

from services import documents
from tests.unit.test_documents import _drawn_text, case_data, unit_name


def test_the_receipt_at_registration_names_office_date_matter_number_and_code():
    n = documents.build_notice("receipt", case_data(), unit_name, query_code="K2A7NMBEXS")
    text = "".join(n.paragraphs)
    assert n.title == "信访事项登记回执" and n.case_no in text and "K2A7NMBEXS" in text
    assert n.issued_on is not None and documents.cn_date(n.issued_on) in text
    assert "/query" in text and "短信" in text
    assert "15日内" in text and "60日内" in text and "30日内请求复查" in text and "30日内请求复核" in text


def test_a_reprint_says_the_code_was_given_at_registration():
    text = "".join(documents.build_notice("receipt", case_data(), unit_name).paragraphs)
    assert "已在登记时告知" in text and "K2A7NMBEXS" not in text


def test_the_receipt_pdf_draws_its_text():
    n = documents.build_notice("receipt", case_data(), unit_name, query_code="K2A7NMBEXS")
    pdf = documents.render_pdf(n)
    assert pdf.startswith(b"%PDF-")
    drawn = _drawn_text(pdf)
    assert "信访事项登记回执" in drawn and "K2A7NMBEXS" in drawn
