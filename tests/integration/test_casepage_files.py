"""Comments and attachments on a case: stored in the database, journaled on the hash chain, replay still holds."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from engine.definitions import collect_files
from services import attachments
from services.organisation import load_organisation

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def case_id(container):
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    with container.session_factory() as s, s.begin():
        load_organisation(s, ROOT / "processes" / "organisation.yaml", demo_users=True)
    view = container.runtime.start("petition_case", {
        "title": "反映小区供暖不达标", "channel": "网上", "category": "城乡建设", "location": "county_a",
        "request": "要求依法处理", "facts": "冬季室温不足十六度", "registering_unit": "city_bureau",
        "petitioner": {"name": "张三", "phone": "13912345678", "id_number": "110101199003091234"}}, actor="registrar")
    return view.id


def test_attachment_round_trip_is_journaled_and_verify_holds(container, case_id):
    data = "供暖检测报告".encode() * 100
    now = container.clock.now()
    version_before = container.runtime.get_case(case_id).version
    with container.session_factory() as s, s.begin():
        info = attachments.store_attachment(s, case_id, None, "../../检测报告.pdf", "application/pdf", data,
                                            "registrar", now)
    assert info.filename == "检测报告.pdf" and info.size == len(data)
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    with container.session_factory() as s:
        [listed] = attachments.list_attachments(s, case_id)
        got, content = attachments.get_attachment(s, case_id, listed.id)
    assert content == data and got.uploaded_by == "registrar"
    last = container.runtime.history(case_id)[-1]
    assert last["type"] == "attachment.added" and last["data"]["sha256"] == info.sha256
    assert last["actor"] == "registrar"
    check = container.runtime.verify(case_id)
    assert check.ok, check.reason
    # the case's version did not move: a handler's open form stays current
    assert container.runtime.get_case(case_id).version == version_before


def test_comment_journaled_then_the_next_command_still_chains(container, case_id):
    now = container.clock.now()
    with container.session_factory() as s, s.begin():
        attachments.add_comment(s, case_id, None, "  请县人社局核实缴费记录。 ", "bureau", now)
    with container.session_factory() as s:
        [comment] = attachments.list_comments(s, case_id)
    assert comment.body == "请县人社局核实缴费记录。" and comment.author == "bureau"
    view = container.runtime.get_case(case_id)
    task = view.tasks[0]
    container.runtime.complete(task.id, {"route": "交办转送"}, actor="registrar")
    types = [e["type"] for e in container.runtime.history(case_id)]
    assert "comment.added" in types and types.index("comment.added") < types.index("task.submitted")
    check = container.runtime.verify(case_id)
    assert check.ok, check.reason


def test_size_limit_empty_file_and_foreign_task_refused(container, case_id, monkeypatch):
    monkeypatch.setattr(attachments, "MAX_ATTACHMENT_BYTES", 1024)
    now = container.clock.now()
    with container.session_factory() as s, s.begin():
        with pytest.raises(attachments.AttachmentRefused, match="不能超过"):
            attachments.store_attachment(s, case_id, None, "big.pdf", "application/pdf", b"x" * 1025, "u", now)
        with pytest.raises(attachments.AttachmentRefused, match="为空"):
            attachments.store_attachment(s, case_id, None, "e.pdf", "application/pdf", b"", "u", now)
        with pytest.raises(attachments.AttachmentRefused, match="不接受"):
            attachments.store_attachment(s, case_id, None, "x.exe", "application/x-msdownload", b"MZ", "u", now)
        with pytest.raises(attachments.AttachmentRefused, match="不属于"):
            attachments.add_comment(s, case_id, 999999, "意见", "u", now)
    with container.session_factory() as s:
        assert attachments.list_attachments(s, case_id) == []
    assert container.runtime.verify(case_id).ok


@pytest.mark.parametrize("raw, expected", [
    ("C:\\Users\\张三\\身份证.jpg", "身份证.jpg"),
    ("a\x00b<>.txt", "ab__.txt"),
    ("   ", "附件"),
    ("../..", "附件"),
])
def test_safe_filename(raw, expected):
    assert attachments.safe_filename(raw) == expected
