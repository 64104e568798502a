"""The public progress query under attack (issue #15, point 10), on SQLite and PostgreSQL: wrong guesses from one
address do not lock the petitioner out elsewhere, variants of one case number share one counter, the limit
answers 429 with Retry-After, and an unknown case number costs the same keyed digest as a known one."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from features.steps_sms import KNOWN_CODE, drive_to_rating
from services.index_key import IndexKey
from tests.integration.test_public import office  # noqa: F401  (the fixture)

A = {"REMOTE_ADDR": "10.1.0.1"}
B = {"REMOTE_ADDR": "10.2.0.2"}
WRONG = "WRONGCODE2"


@pytest.fixture
def case_no(office):  # noqa: F811
    return drive_to_rating(office, [])["data"]["case_no"]


def query(client, case_no, code, environ):
    return client.get("/api/public/cases/" + quote(case_no), query_string={"code": code}, environ_base=environ)


def test_five_wrong_codes_from_one_address_do_not_stop_the_right_code_from_another(office, case_no):  # noqa: F811
    client = office.app.test_client()
    limit = office.c.settings.query_failures_per_case_address
    for _ in range(limit):
        assert query(client, case_no, WRONG, A).status_code == 404
    assert query(client, case_no, KNOWN_CODE, A).status_code == 429  # the guesser's address is stopped
    right = query(client, case_no, KNOWN_CODE, B)
    assert right.status_code == 200 and right.get_json()["case_no"] == case_no
    page = client.post("/query", data={"case_no": case_no, "code": KNOWN_CODE}, environ_base=B)
    assert page.status_code == 200 and case_no in page.get_data(as_text=True)


def test_spaces_case_and_full_width_variants_share_one_counter(office, case_no):  # noqa: F811
    full_width = "".join(chr(ord(ch) + 0xFEE0) for ch in case_no)  # ＸＦ４１０…
    variants = [case_no + " ", " " + case_no.lower(), full_width, case_no[:8] + " " + case_no[8:], case_no + "\u3000"]
    client = office.app.test_client()
    limit = office.c.settings.query_failures_per_case_address
    assert len(variants) == limit
    for variant in variants:
        assert query(client, variant, WRONG, A).status_code == 404
    for variant in [case_no, *variants]:  # 60 guesses went through before: now the sixth is refused
        assert query(client, variant, WRONG, A).status_code == 429
    # ... by the case number's counter, not the address's: another number from A is still answered
    assert query(client, "XF410121202603020100777", WRONG, A).status_code == 404
    assert query(client, full_width, KNOWN_CODE, B).status_code == 200  # a variant still finds the case
    full_width_code = "".join(chr(ord(ch) + 0xFEE0) for ch in KNOWN_CODE.lower())
    assert query(client, case_no, full_width_code, B).status_code == 200  # and a code typed in full width


def test_a_429_after_the_limit_with_retry_after_and_a_message_in_chinese(office, case_no):  # noqa: F811
    client = office.app.test_client()
    for _ in range(office.c.settings.query_failures_per_case_address):
        assert query(client, case_no, WRONG, A).status_code == 404
    r = query(client, case_no, WRONG, A)
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= office.c.settings.query_window_minutes * 60
    assert "分钟后再试" in r.get_json()["error"]["message"]
    page = client.post("/query", data={"case_no": case_no, "code": WRONG}, environ_base=A)
    assert page.status_code == 429 and "分钟后再试" in page.get_data(as_text=True) and page.headers["Retry-After"]
    assert client.get("/query", environ_base=A).status_code == 200  # the empty form is never refused


def test_guesses_over_many_case_numbers_from_one_address_are_limited(office):  # noqa: F811
    client = office.app.test_client()
    for i in range(office.c.settings.query_failures_per_address):
        assert query(client, f"XF4101212026030201{i:06d}", WRONG, A).status_code == 404
    assert query(client, "XF410121202603020100777", WRONG, A).status_code == 429
    assert query(client, "XF410121202603020100777", WRONG, B).status_code == 404


def test_an_unknown_case_number_computes_the_same_keyed_digest_as_a_known_one(office, case_no, monkeypatch):  # noqa: F811
    calls = []
    real = IndexKey.digest

    def recording(self, kind, value):
        calls.append((kind, value))
        return real(self, kind, value)

    monkeypatch.setattr(IndexKey, "digest", recording)
    client = office.app.test_client()
    known = query(client, case_no, WRONG.lower(), A)
    known_calls, calls[:] = list(calls), []
    unknown_number = case_no[:-6] + ("999999" if not case_no.endswith("999999") else "999998")
    unknown = query(client, unknown_number, WRONG.lower(), A)
    unknown_calls, calls[:] = list(calls), []
    malformed = query(client, "XF-NOT-A-NUMBER", WRONG.lower(), A)
    assert known_calls == unknown_calls == list(calls) == [("query_code", WRONG)]
    assert known.status_code == unknown.status_code == malformed.status_code == 404
    assert known.get_json() == unknown.get_json() == malformed.get_json()


def test_inbound_sms_is_limited_per_gateway_address(database_url, clock, tmp_path):
    import json
    from datetime import timedelta

    from features.conftest import Office
    from features.steps_sms import GATEWAY_URL, SECRET
    from infra.channels import SIGNATURE_HEADER, sign
    from tests.support.db import make_container

    c = make_container(database_url, clock, tmp_path, sms_gateway_url=GATEWAY_URL, sms_inbound_per_minute=10)
    try:
        client = Office(c).app.test_client()

        def post(gateway_id, environ=A, secret=SECRET):
            raw = json.dumps({"from": "13900005678", "text": "在吗", "id": gateway_id}).encode()
            return client.post("/api/sms/inbound", data=raw, content_type="application/json",
                               headers={SIGNATURE_HEADER: sign(secret, raw)}, environ_base=environ)

        statuses = [post(f"flood-{i}", secret="not-the-secret").status_code for i in range(10)]
        assert statuses == [401] * 10  # every request counts, signed or not
        refused = post("gw-1")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) <= 60
        assert "分钟后再试" in refused.get_json()["error"]["message"]
        assert post("gw-2", environ=B).get_json()["status"] == "help"  # another gateway address
        c.clock.advance(timedelta(minutes=1))
        assert post("gw-1").get_json()["status"] == "help"
    finally:
        c.engine.dispose()
