"""The parts of notifications that need no database: templates, masking, channel URLs."""
from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from infra.channels import ChannelConfigError, Message, SmsGatewayChannel, SmtpChannel, sign, signature_ok
from services.masking import mask_contact_text as mask_text, mask_recipient
from services.notify_templates import TemplateCatalogue, TemplateProblem, cn_date

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"registration_receipt", "transfer_notice", "assignment_notice", "acceptance_notice",
            "non_acceptance_notice", "extension_notice", "reply_served", "satisfaction_invitation", "reminder",
            "supervision_notice", "escalation_notice"}


@pytest.fixture(scope="module")
def shipped() -> TemplateCatalogue:
    return TemplateCatalogue.load(ROOT / "processes" / "templates")


def test_the_shipped_templates_are_all_there_and_render_from_their_examples(shipped):
    assert set(shipped.ids()) >= REQUIRED
    assert shipped.check_examples() == []
    for template in shipped.ids():
        example = shipped.get(template, shipped.latest(template)).example
        rendered = shipped.render(template, shipped.latest(template), example)
        for text in (rendered.subject, rendered.body, rendered.sms):
            assert text and "{{" not in text and "{%" not in text
            # every notice names its case; a portal sign-in code (portal_signin_code) belongs to no case
            assert example["case_no"] in text if "case_no" in example else template == "portal_signin_code"
        assert len(rendered.sms) <= 150, f"{template}: SMS text too long for two segments ({len(rendered.sms)})"


def test_the_satisfaction_invitation_offers_the_three_ratings_and_the_query_code(shipped):
    r = shipped.render("satisfaction_invitation", 1, {"case_no": "X1", "query_code": "Q7K2M9"})
    assert "1 满意 / 2 基本满意 / 3 不满意" in r.sms and "Q7K2M9" in r.sms


def test_the_reply_notice_states_the_right_to_review_within_30_days(shipped):
    r = shipped.render("reply_served", 1, shipped.get("reply_served", 1).example)
    assert "30日内" in r.body and "甲县人民政府请求复查" in r.body


def test_a_missing_field_names_the_template_version_and_field(shipped):
    with pytest.raises(TemplateProblem) as err:
        shipped.render("registration_receipt", 1, {"case_no": "X1", "registered_on": "2026-03-02",
                                                    "accept_due": "2026-03-17"})
    assert "registration_receipt v1" in str(err.value) and "缺少字段 'query_code'" in str(err.value)
    with pytest.raises(TemplateProblem, match="缺少字段 'accept_due'"):  # also when only a filter sees it
        shipped.render("registration_receipt", 1, {"case_no": "X1", "query_code": "Q", "registered_on": "2026-03-02"})


def test_unknown_template_or_version_is_refused(shipped):
    with pytest.raises(TemplateProblem, match="没有通知模板 nope"):
        shipped.render("nope", 1, {})
    with pytest.raises(TemplateProblem, match="没有第 9 版"):
        shipped.render("reminder", 9, {})


def test_every_problem_of_a_template_file_is_listed_at_once():
    with pytest.raises(TemplateProblem) as err:
        TemplateCatalogue.from_sources({
            "a.yaml": "t1:\n  versions:\n    1: {subject: '{{ x ', body: b}\n"
                      "t2:\n  versions:\n    one: {subject: s, body: b}\n"
                      "t3: {name: x}\n",
            "b.yaml": "t1:\n  versions:\n    1: {subject: s, body: b}\n",
            "c.yaml": "[: not yaml",
        })
    text = str(err.value)
    assert "t1 v1 subject" in text and "模板语法错误" in text
    assert "t2 vone" in text and "版本号必须是正整数" in text
    assert "t3" in text and "需要 name 和 versions" in text
    assert "b.yaml: t1" in text and "模板编号重复" in text
    assert "c.yaml" in text and "YAML 格式错误" in text


def test_templates_run_in_a_sandbox():
    catalogue = TemplateCatalogue.from_sources({"t.yaml": (
        "t:\n  versions:\n    1: {subject: s, body: \"{{ x.__class__.__mro__[1].__subclasses__() }}\"}\n")})
    with pytest.raises(TemplateProblem):
        catalogue.render("t", 1, {"x": ""})


def test_newest_version_and_description():
    catalogue = TemplateCatalogue.from_sources({"t.yaml": (
        "t:\n  name: 测试\n  versions:\n    1: {subject: a, body: b, example: {n: 1}}\n"
        "    2: {subject: '{{ n }}', body: b, example: {n: 2}}\n")})
    assert catalogue.latest("t") == 2
    assert catalogue.describe() == [{"template": "t", "name": "测试", "versions": [1, 2], "fields": ["n"]}]
    assert catalogue.render("t", 2, {"n": 7}).subject == "7" and catalogue.render("t", 1, {}).sms == "b"


def test_cn_date_writes_beijing_dates():
    assert cn_date("2026-03-17") == "2026年3月17日"
    assert cn_date("2026-03-16T17:00:00+00:00") == "2026年3月17日"  # 01:00 the next day in Beijing
    with pytest.raises(TemplateProblem):
        cn_date(17)


@pytest.mark.parametrize("channel, recipient, shown", [
    ("sms", "13800000000", "138****0000"),
    ("sms", "+8613912345678", "+86139****5678"),
    ("email", "a.li@x.cn", "a***@x.cn"),
    ("email", "zhang.san@example.gov.cn", "z***@example.gov.cn"),
    ("inapp", "handler", "handler"),
    ("sms", "weird", "w***"),
])
def test_recipients_are_masked(channel, recipient, shown):
    assert mask_recipient(channel, recipient) == shown


def test_errors_are_masked_too():
    text = "SMTPRecipientsRefused: {'zhang@example.cn': (550, b'no such user')} while sending to 13800001234"
    masked = mask_text(text)
    assert "zhang@" not in masked and "13800001234" not in masked
    assert "z***@example.cn" in masked and "138****1234" in masked


def test_smtp_url_is_read_completely():
    ch = SmtpChannel("smtp://user%40x.cn:p%40ss@mail.x.cn:587?starttls=1&from=%E8%BF%9E%E5%BF%83%20%3Cno%40x.cn%3E")
    assert (ch.host, ch.port, ch.username, ch.password, ch.starttls) == ("mail.x.cn", 587, "user@x.cn", "p@ss", True)
    assert ch.sender == "连心 <no@x.cn>" and ch.message_id("k1") == "<k1@x.cn>"
    assert SmtpChannel("smtps://mail.x.cn?from=no@x.cn").port == 465
    with pytest.raises(ChannelConfigError, match="from="):
        SmtpChannel("smtp://mail.x.cn")
    with pytest.raises(ChannelConfigError, match="smtp"):
        SmtpChannel("http://mail.x.cn?from=no@x.cn")


def test_sms_gateway_url_keeps_its_own_query_and_takes_out_the_settings():
    ch = SmsGatewayChannel.from_url("https://gw.x.cn/v1/sms?account=7&sender=1069&signature=%E8%BF%9E%E5%BF%83"
                                    "&secret=s3")
    assert ch.url == "https://gw.x.cn/v1/sms?account=7"
    assert (ch.sender, ch.signature, ch.secret) == ("1069", "连心", "s3")
    message = Message(1, "key-1", "sms", "13800000000", "s", "b", "短信正文", "t", 1,
                      datetime(2026, 3, 2, tzinfo=UTC))
    assert ch.text_of(message) == "【连心】短信正文"
    with pytest.raises(ChannelConfigError):
        SmsGatewayChannel.from_url("https://gw.x.cn/v1/sms?sender=1069")  # no signature, no secret
    with pytest.raises(ChannelConfigError):
        SmsGatewayChannel.from_url("file:///etc/passwd?signature=a&secret=b")


def test_signatures():
    body = b'{"status": "delivered"}'
    assert signature_ok("s", body, sign("s", body))
    assert not signature_ok("s", body, sign("t", body)) and not signature_ok("s", body, None)
    assert not signature_ok("s", body + b" ", sign("s", body))
