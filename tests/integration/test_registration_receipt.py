"""Issue #18, point 5: the printable 登记回执 (office, date, matter, number, query code, how to query, the
petitioner's rights and periods), HTML and PDF. Printed at registration with the code still on the registrar's
page (checked against the case's digest, never stored); reprinted later without it. Both databases.
"""
from __future__ import annotations

import re

import pytest

from tests.integration.test_handling_api import PETITION
from tests.support.web import api_sign_in, csrf_of, office_app, page_sign_in


@pytest.fixture
def app(container):
    return office_app(container)


def registered(app) -> tuple[int, str, str]:
    client, headers = api_sign_in(app, "registrar")
    r = client.post("/api/cases", json=PETITION, headers=headers)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    return body["id"], body["case_no"], body["query_code"]


def test_the_receipt_at_registration_carries_the_code_rights_and_periods_and_a_reprint_does_not(app):
    case_id, case_no, code = registered(app)
    page = page_sign_in(app, "registrar")
    token = csrf_of(page.get(f"/cases/{case_id}").get_data(as_text=True))

    r = page.post(f"/cases/{case_id}/documents/receipt.html", data={"query_code": code, "csrf_token": token})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    sheet = html[html.index('<article class="sheet"'):]
    assert "信访事项登记回执" in sheet and case_no in sheet and code in sheet
    assert "市信访局" in sheet and "企业拖欠三个月工资" in sheet  # office and matter
    assert "/query" in sheet and "短信" in sheet  # how to query
    assert all(x in sheet for x in ("15日内", "60日内", "30日内请求复查", "30日内请求复核"))
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日", sheet)  # the registration date

    pdf = page.post(f"/cases/{case_id}/documents/receipt.pdf", data={"query_code": code, "csrf_token": token})
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")

    # a wrong code prints nothing; the reprint (GET) says the code was given at registration
    wrong = page.post(f"/cases/{case_id}/documents/receipt.html",
                      data={"query_code": "ABCDEFGHJK", "csrf_token": token})
    assert wrong.status_code == 422 and "ABCDEFGHJK" not in wrong.get_data(as_text=True)
    reprint = page.get(f"/cases/{case_id}/documents/receipt.html").get_data(as_text=True)
    assert case_no in reprint and code not in reprint and "已在登记时告知" in reprint
    again = page.get(f"/cases/{case_id}/documents/receipt.pdf")
    assert again.status_code == 200 and again.data.startswith(b"%PDF-")
    case_page = page.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-kind="receipt"' in case_page


def test_the_registration_page_offers_the_receipt_while_the_code_is_on_it(app):
    page = page_sign_in(app, "registrar")
    form = page.get("/register").get_data(as_text=True)
    nonce = re.search(r'name="nonce" value="([^"]+)"', form).group(1)
    data = {"csrf_token": csrf_of(form), "nonce": nonce, "action": "save", "channel": "来信",
            "title": PETITION["title"], "category": PETITION["category"], "subcategory": PETITION["subcategory"],
            "location": "county_a", "facts": PETITION["facts"], "request": PETITION["request"],
            "respondent": PETITION["respondent"], "petitioners-0-name": "张三",
            "petitioners-0-id_number": "410121199001031234", "petitioners-0-phone": "13812345678",
            "petitioners-0-address": "东城县人民路1号"}
    r = page.post("/register", data=data)
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html[:3000]
    code = re.search(r'<strong class="code">([^<]+)</strong>', html).group(1)
    assert re.search(r'action="/cases/\d+/documents/receipt.html"', html) and f'value="{code}"' in html
    assert "data-print" not in html  # 打印回执 no longer prints the confirmation page
