"""Masking in audit views and exports: by field name at any depth, names in petitioner records, and numbers in
free text (mobile, resident ID, the public query code)."""
from services.audit_export import changes_of, entries, mask


def test_personal_fields_and_free_text_are_masked_at_any_depth():
    data = {"petitioners": [{"name": "欧阳修文", "phone": "13812345678", "id_number": "410121199001031234",
                             "address": "河南省郑州市金水区花园路100号"}],
            "registration": {"case_no": "XF4101212026030201000007", "query_code": "QGKUZSEEYR"},
            "notice": {"text": "请凭编号XF4101212026030201000007和查询码 QGKUZSEEYR 查询；联系13912345678"},
            "handler": {"name": "王科长"}}
    out = mask(data)
    person = out["petitioners"][0]
    assert person["name"] == "欧阳**" and person["phone"] == "138****5678"
    assert person["id_number"] == "410121********1234" and "花园路" not in person["address"]
    assert out["registration"] == {"case_no": "XF4101212026030201000007", "query_code": "QG********"}
    assert out["notice"]["text"] == "请凭编号XF4101212026030201000007和查询码 QG******** 查询；联系139****5678"
    assert out["handler"]["name"] == "王科长"  # staff names are not petitioners' data
    assert data["petitioners"][0]["phone"] == "13812345678"  # the input is left alone


def test_changes_before_and_after_come_from_the_event_payload():
    completed = {"seq": 5, "at": "2026-03-02T01:00:00+00:00", "actor": "handler", "type": "task.completed",
                 "element_id": "Task_sign", "data": {"name": "签收办理", "changes": {
                     "signed": [None, True], "petitioner": [{"phone": "13812345678"}, {"phone": "13912345678"}]}}}
    source, changes = changes_of(completed)
    assert source == "diff" and {c["field"] for c in changes} == {"signed", "petitioner"}
    [entry] = entries([completed])
    by_field = {c["field"]: c for c in entry["changes"]}
    assert by_field["petitioner"]["before"] == {"phone": "138****5678"}
    assert by_field["petitioner"]["after"] == {"phone": "139****5678"}
    [plain] = entries([completed], masked=False)
    assert {c["field"]: c for c in plain["changes"]}["petitioner"]["after"] == {"phone": "13912345678"}
    extended = {"seq": 9, "at": "2026-03-05T01:00:00+00:00", "actor": "leader", "type": "deadline.extended",
                "element_id": "Timer_handle", "data": {"old_due_at": "2026-05-01T16:00:00+00:00",
                                                       "new_due_at": "2026-05-31T16:00:00+00:00"}}
    [entry] = entries([extended])
    assert entry["changes"] == [{"field": "到期", "before": "2026-05-01 24:00（北京时间）",
                                 "after": "2026-05-31 24:00（北京时间）"}]


def test_hand_overs_comments_and_attachments_show_what_they_changed():
    at = "2026-03-02T01:00:00+00:00"
    claimed = {"seq": 7, "at": at, "actor": "handler", "type": "work_item.claimed", "element_id": "Task_sign",
               "data": {"work_item_id": 3, "from": None, "to": "handler"}}
    comment = {"seq": 8, "at": at, "actor": "handler", "type": "comment.added", "element_id": None,
               "data": {"comment_id": 1, "body": "已约谈，电话 13812345678"}}
    [c1, c2] = entries([claimed, comment])
    assert c1["type_label"] == "认领任务" and c1["changes"] == [{"field": "assignee", "before": None, "after": "handler"}]
    assert c2["changes"] == [{"field": "body", "before": None, "after": "已约谈，电话 138****5678"}]
