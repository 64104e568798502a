"""Registration checks of identity documents, phone numbers, titles and the petitioners each channel needs."""
from datetime import date

import pytest

from services.identity_checks import check_digit, id_number_problem, phone_problem, registration_problems

TODAY = date(2026, 12, 7)


@pytest.mark.parametrize("number", [
    "11010519491231002X",   # the standard's own example (GB 11643-1999), check character X
    "440524188001010014",   # born 1880
    "410121199001031234",
    "11010519880608731x",   # lower-case x is accepted
    "110105 19880608 731X",  # spaces as typed from a card
])
def test_valid_18_digit_numbers(number):
    assert id_number_problem(number, "居民身份证", TODAY) is None


def test_check_digit_of_the_standard_example():
    assert check_digit("11010519491231002") == "X"
    assert check_digit("41012119900103123") == "4"


@pytest.mark.parametrize("number,fragment", [
    ("12345", "应为 18 位"),
    ("410121199001011234", "校验位不符（最后一位应为 3）"),
    ("410121199002301234", "出生日期“19900230”不存在"),
    ("410121202712011237", "晚于今天"),
    ("990121199001031234", "前两位“99”"),
    ("41012119900103123Y", "应为 18 位"),
])
def test_invalid_18_digit_numbers(number, fragment):
    message, params = id_number_problem(number, None, TODAY)
    assert fragment in message % params


def test_legacy_15_digit_numbers():
    assert id_number_problem("410121900101123", "居民身份证", TODAY) is None
    message, params = id_number_problem("410121901301123", "居民身份证", TODAY)
    assert "15 位" in message and params["birth"] == "901301"


def test_residence_permits_use_the_codes_81_to_83():
    number = "810000199001011234"
    permit = number[:17] + check_digit(number[:17])
    assert id_number_problem(permit, "港澳台居民居住证", TODAY) is None
    assert id_number_problem(permit, "居民身份证", TODAY) is not None  # 81 is no province


@pytest.mark.parametrize("kind,good,bad", [
    ("护照", "E12345678", "E1"),
    ("港澳居民来往内地通行证", "H12345678", "X12345678"),
    ("台湾居民来往大陆通行证", "12345678", "1234"),
    ("外国人永久居留身份证", "USA123456789012", "USA12345"),
])
def test_other_documents_by_their_form(kind, good, bad):
    assert id_number_problem(good, kind, TODAY) is None
    assert id_number_problem(bad, kind, TODAY) is not None


def test_unknown_document_type_is_refused():
    message, params = id_number_problem("E12345678", "驾驶证", TODAY)
    assert params == {"type": "驾驶证"}


@pytest.mark.parametrize("phone", ["13812345678", "+86 136 8765 4321", "0086-13912345678", "0371-65432100",
                                   "010 87654321", "(0371)65432100-8012", "138 1234 5678"])
def test_valid_phones(phone):
    assert phone_problem(phone) is None


@pytest.mark.parametrize("phone", ["abc", "12345", "110", "1381234567", "23812345678", "0371-1234"])
def test_invalid_phones(phone):
    message, params = phone_problem(phone)
    assert params["value"] == phone and "手机号码" in message


def fields(problems):
    return {p.field: p.text() for p in problems}


def test_title_too_short_and_numbers_of_every_representative():
    form = {"channel": "来访", "title": "x", "petitioners": [
        {"name": "张三", "id_number": "410121199001031234", "phone": "13812345678"},
        {"name": "李四", "id_number": "12345", "phone": "abc"}]}
    found = fields(registration_problems(form, TODAY))
    assert set(found) == {"title", "petitioners-1-id_number", "petitioners-1-phone"}
    assert "至少 4 个字" in found["title"]


@pytest.mark.parametrize("channel", ["来访", "领导接访", "来信", "网上"])
def test_a_visit_or_letter_is_never_registered_without_a_petitioner(channel):
    found = fields(registration_problems({"channel": channel, "title": "拖欠工资三个月"}, TODAY))
    assert "必须填写至少一名信访人" in found["petitioners"]


def test_channels_need_the_contact_the_reply_goes_through():
    letter = {"channel": "来信", "title": "拖欠工资三个月", "petitioners": [{"name": "张三"}]}
    assert "通讯地址或联系电话" in fields(registration_problems(letter, TODAY))["petitioners-0-address"]
    by_phone = dict(letter, petitioners=[{"name": "张三", "phone": "13900000000"}])
    assert registration_problems(by_phone, TODAY) == []
    call = {"channel": "来电", "title": "拖欠工资三个月", "petitioners": [{"name": "张三"}]}
    assert "电话号码" in fields(registration_problems(call, TODAY))["petitioners-0-phone"]
    forwarded = {"channel": "上级转交", "title": "上级转交的信访事项"}
    assert registration_problems(forwarded, TODAY) == []
