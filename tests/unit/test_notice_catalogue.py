"""The notice catalogue (processes/notices.yaml) is the one home of notice texts, channels, outbox copies and the
documents they stand for; services/notices.py reads and checks it."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.definitions import CompiledProcess
from engine.handlers import HandlerContext
from services import documents, notify
from services.notices import NoticeCatalogue, NoticeProblem, default_catalogue
from services.notify_templates import TemplateCatalogue

ROOT = Path(__file__).resolve().parents[2]


def test_the_catalogue_holds_every_notice_with_its_channels_and_copies():
    c = default_catalogue()
    assert c.get("去向告知").outbox.template == "transfer_notice" and c.get("去向告知").document == "transfer"
    assert c.inbox_template("催办") == "reminder" and c.inbox_template("上交通知") == "escalation_notice"
    assert documents.kinds() == c.documents and set(c.documents) == set(documents._BUILDERS)
    assert c.outbox_problems(TemplateCatalogue.load(ROOT / "processes" / "templates")) == []
    with pytest.raises(LookupError, match="unknown notice template"):
        notify.render("没有这个通知", {})


def test_texts_render_as_before():
    assert notify.render("去向告知", {"case_no": "X1", "dispatch_type": "转送", "unit_name": "甲局"}) == \
        "您的信访事项（编号 X1）已转送至甲局办理。"
    assert notify.render("联席会议决定", {"case_no": "X1", "level_name": "市级", "text": "由甲局落实"}) == \
        "市级信访工作联席会议对信访事项 X1 作出决定：由甲局落实。请逐级抓好落实。"
    assert notify.render("受理告知", {"case_no": "X1"}) == "您的信访事项（编号 X1）已由{unit_name}受理，将在60日内办结。"


def test_the_sms_copy_is_filled_as_the_catalogue_says():
    ctx = HandlerContext(1, "Task_serve_reply", datetime(2026, 3, 16, 17, tzinfo=UTC), "worker",
                         {"case_no": "X1", "petitioner": {"phone": "13800001234"}})
    notice = notify.send(ctx, [dict(notify.PETITIONER)], "答复意见书", {"case_no": "X1", "outcome": "支持",
                                                                     "unit_name": "甲局"})
    assert notice["delivery"] == {"channel": "outbox", "template": "reply_served"}
    [(kind, payload)] = ctx.effects
    assert kind == "notify" and payload["data"] == {"case_no": "X1", "unit": "甲局", "served_on": "2026-03-17",
                                                    "method": "直接送达", "review_organ": "上一级行政机关"}


BAD = """
documents: {reply: 答复意见书}
notices:
  a:
    text: 编号 {case_no}，{unknown}
    fields: [case_no]
  b:
    text: 好
    channels: [journal, fax]
  c:
    text: 好
    channels: [journal, sms]
  d:
    text: 好
    document: summons
  e:
    text: 好 {x}
    fields: [x]
    channels: [journal, sms]
    outbox: {channel: sms, template: t, fields: {y: z}}
"""


def test_problems_name_the_file_the_key_and_the_line():
    with pytest.raises(NoticeProblem) as err:
        NoticeCatalogue.from_text(BAD, "notices.yaml")
    found = sorted({(p.file, p.line, p.message.split(":")[0]) for p in err.value.problems})
    assert found == [("notices.yaml", 4, "a"), ("notices.yaml", 7, "b"), ("notices.yaml", 10, "c"),
                     ("notices.yaml", 13, "d"), ("notices.yaml", 16, "e")]
    messages = " ".join(p.message for p in err.value.problems)
    for word in ("unknown placeholders", "unknown channel", "needs an outbox copy", "unknown document",
                 "unknown field for outbox field y"):
        assert word in messages


def test_an_outbox_copy_missing_a_template_field_is_a_problem():
    c = NoticeCatalogue.from_text("notices:\n  n:\n    text: '{case_no}'\n    fields: [case_no]\n"
                                  "    channels: [journal, sms]\n"
                                  "    outbox: {channel: sms, template: transfer_notice, fields: {case_no: case_no}}\n")
    [problem] = c.outbox_problems(TemplateCatalogue.load(ROOT / "processes" / "templates"))
    assert problem.line == 2 and "action" in problem.message and "to_unit" in problem.message


NOTIFY_TASK = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:serviceTask id="Task_tell"><bpmn:extensionElements>
      <spiffworkflow:serviceTaskOperator id="notify"><spiffworkflow:parameters>
        <spiffworkflow:parameter id="template" type="any" value="&quot;{key}&quot;"/>
        <spiffworkflow:parameter id="fields" type="any" value="{{&quot;{field}&quot;: 1}}"/>
      </spiffworkflow:parameters></spiffworkflow:serviceTaskOperator>
    </bpmn:extensionElements></bpmn:serviceTask>
  </bpmn:process>
</bpmn:definitions>"""


def _process(key: str, field: str) -> CompiledProcess:
    return CompiledProcess("p", "p", "h", "{}", {"p.bpmn": NOTIFY_TASK.format(key=key, field=field)}, {}, {}, True)


def test_notify_tasks_are_checked_against_the_catalogue():
    c = default_catalogue()
    assert c.process_problems(_process("不予受理告知", "reason")) == []
    [unknown] = c.process_problems(_process("不予受理通知", "reason"))
    assert (unknown.file, unknown.element_id) == ("p.bpmn", "Task_tell") and "不予受理通知" in unknown.message
    [field] = c.process_problems(_process("不予受理告知", "reasons"))
    assert "reasons" in field.message


def test_notice_texts_live_only_in_the_catalogue():
    """No module keeps notice wording of its own: the notices the code sends name catalogue keys, and every key
    the code names is in the catalogue."""
    sent = re.compile(r'send\(ctx, [^\n]*?"([^"\x00-\x7f][^"]*)", ')  # notice keys are Chinese
    keys = {k for p in (ROOT / "services").rglob("*.py") for k in sent.findall(p.read_text(encoding="utf-8"))}
    assert keys and keys <= set(default_catalogue().notices)
    assert not hasattr(notify, "TEMPLATES") and not hasattr(notify, "OUTBOX_COPIES")
    assert not hasattr(documents, "KINDS")
