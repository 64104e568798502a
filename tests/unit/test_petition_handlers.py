"""The petition handlers on their own, with a plain HandlerContext (no database, no engine)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from engine.clock import SHANGHAI
from engine.handlers import HandlerContext, HandlerRegistry
from services import register_all
from services.casework import (
    DispatchInput,
    NumberInput,
    ResolveUnitInput,
    ReviewBodyInput,
    RouteOutInput,
    dispatch_case,
    issue_case_number,
    resolve_responsible_unit,
    review_body,
    route_out,
)
from services.escalation import EscalateInput, escalate
from services.leadership import OwnerInput, ScopeInput, case_owner_scope, name_case_owner
from services.notify import OutboxNotifier, render
from services.orgchart import default_chart
from services.supervision import SuperviseInput, supervise

NOW = datetime(2026, 3, 2, 23, 30, tzinfo=SHANGHAI)


def ctx(data=None, case_id=17, ports=None) -> HandlerContext:
    return HandlerContext(case_id=case_id, element_id="Task_x", now=NOW, actor="registrar", data=data or {},
                          ports=ports or {})


def test_case_number_carries_place_date_channel_and_sequence_but_no_personal_data():
    c = ctx({"petitioner": {"id_number": "410121198001021234", "phone": "13800001234"}})
    out = issue_case_number(NumberInput(channel="来信", location="county_a"), c)
    assert out["case_no"] == "XF4101212026030202000017"  # 23:30 Beijing time is still 2 March
    assert out["query_code"] == "" and out["query_code_hash"] is None  # no code made here, none kept
    kept = issue_case_number(NumberInput("来信", "county_a"), ctx({"query_code_hash": "scrypt$1$8$1$00$00"}))
    assert kept["query_code_hash"] == "scrypt$1$8$1$00$00" and kept["query_code"] == ""
    assert out["registering_unit"] == "city_bureau"
    with pytest.raises(ValueError, match="信访形式"):
        issue_case_number(NumberInput(channel="飞鸽传书", location="county_a"), c)


def test_query_codes_differ_and_are_kept_as_keyed_hashes():
    from services.index_key import IndexKey
    from services.query_code import ALPHABET, issue, matches

    key = IndexKey.from_secret_key("test")
    issued = [issue(key) for _ in range(20)]
    assert len({code for code, _ in issued}) == 20 and len({h for _, h in issued}) == 20
    code, stored = issued[0]
    assert len(code) == 10 and set(code) <= set(ALPHABET) and code not in stored
    assert stored.startswith(f"hmac-sha256${key.key_id}$")
    assert matches(code, stored, key) and matches(f" {code.lower()} ", stored, key)
    assert not matches(issued[1][0], stored, key) and not matches(code, issued[1][1], key)
    assert not matches(code, stored) and not matches(code, stored, IndexKey.from_secret_key("other"))
    assert not matches(code, None, key) and not matches("", stored, key) and not matches(code, "sha256$x", key)
    assert not matches(code, "hmac-sha256$x", key) and not matches(code, f"hmac-sha256${key.key_id}$zz$", key)


def test_a_case_is_opened_by_its_hash_of_either_scheme_or_by_a_code_issued_before_hashing():
    from services.index_key import IndexKey
    from services.query_code import case_matches, hash_code, scrypt_hash

    key = IndexKey.from_secret_key("test")
    hashed = {"registration": {"case_no": "XF1", "query_code": "", "query_code_hash": hash_code("ABCDEFGH23", key)}}
    assert case_matches("abcdefgh23", hashed, key) and not case_matches("ABCDEFGH24", hashed, key)
    old = {"registration": {"case_no": "XF1", "query_code": "", "query_code_hash": scrypt_hash("ABCDEFGH23")}}
    assert old["registration"]["query_code_hash"].startswith("scrypt$16384$8$1$")
    assert case_matches("abcdefgh23 ", old, key) and case_matches("ABCDEFGH23", old)
    assert not case_matches("ABCDEFGH24", old, key)
    legacy = {"registration": {"case_no": "XF1", "query_code": "QGKUZSEEYR"}}
    assert case_matches("qgkuzseeyr ", legacy) and not case_matches("QGKUZSEEYX", legacy)
    assert not case_matches("", legacy) and not case_matches("ABCDEFGH23", {"registration": {"query_code": ""}})


def test_responsible_unit_from_the_table_and_never_a_silent_fallback():
    found = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a", "转送"), ctx())
    assert (found["unit"], found["county"], found["assigning_unit"]) == ("county_a_hrss", "county_a", "city_bureau")
    with pytest.raises(ValueError, match="候选责任单位 county_a_ecology"):  # never a silent fallback
        resolve_responsible_unit(ResolveUnitInput("county_a_ecology", "county_a", "交办"), ctx())
    with pytest.raises(ValueError, match="问题发生地"):
        resolve_responsible_unit(ResolveUnitInput("x", "nowhere"), ctx())


def test_dispatch_tells_the_unit_and_the_petitioner():
    outbox = OutboxNotifier()
    a = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a", "转送"), ctx())
    out = dispatch_case(DispatchInput(a, "XF1"), ctx(ports={"notifier": outbox}))
    assert [n["template"] for n in outbox.sent] == ["交办通知", "去向告知"]
    assert "东城县人力资源和社会保障局" in outbox.sent[1]["text"] and out["at"] == NOW.isoformat()


def test_accusations_go_to_discipline_without_telling_the_petitioner_where():
    out = route_out(RouteOutInput("纪检监察", "county_b", "XF1"), ctx({"respondent_level": "县管"}))
    assert out["unit"] == "county_b_cdi" and [n["to"] for n in out["notices"]] == [[{"unit": "county_b_cdi",
                                                                                    "role": "receiver"}]]
    litigation = route_out(RouteOutInput("诉讼", "county_a", "XF1"), ctx())
    assert litigation["unit"] == "county_a_court" and len(litigation["notices"]) == 2


def test_review_one_level_up_and_re_review_one_more():
    assert review_body(ReviewBodyInput("county_a_hrss", "复查"), ctx())["unit"] == "county_a"
    assert review_body(ReviewBodyInput("county_a_hrss", "复核"), ctx())["unit"] == "city"
    assert review_body(ReviewBodyInput("county_a", "复查"), ctx())["unit"] == "city"
    assert review_body(ReviewBodyInput("county_a", "复核"), ctx())["unit"] == "prov"


def test_escalation_tiers_climb_from_where_the_matter_arose():
    county = escalate(EscalateInput("county", "county_b", "XF1"), ctx())
    assert (county["joint_meeting"], county["next_level"], county["is_top"]) == ("county_b_jm", "city", False)
    city = escalate(EscalateInput("city", "county_b"), ctx())
    assert (city["joint_meeting"], city["next_level"]) == ("city_jm", "province")
    top = escalate(EscalateInput("province", "county_b"), ctx())
    assert (top["joint_meeting"], top["is_top"], top["next_level"]) == ("prov_jm", True, None)
    with pytest.raises(ValueError):
        escalate(EscalateInput("nation", "county_b"), ctx())


def test_supervision_reaches_the_unit_and_its_head_and_opens_a_list_row():
    c = ctx({"case_no": "XF9"})
    lists = supervise(SuperviseInput("督办", "county_a_hrss", "办理并拟写答复意见"), c)
    [row] = lists["督办"].values()
    assert {"unit": "county_a_hrss", "role": "leader"} in row["notified"] and row["status"] == "待反馈"
    assert [(k, p.get("register"), p.get("action")) for k, p in c.effects] == [
        ("register", "supervision", "open"), ("start_case", None, None)]  # the unit's feedback task
    assert c.effects[1][1]["process_key"] == "supervision_feedback"
    reminder = ctx({"case_no": "XF9", "four_lists": lists})
    lists = supervise(SuperviseInput("催办", "county_a_hrss", "签收", lead=3), reminder)
    assert len(lists["督办"]) == 2
    assert [p["action"] for _, p in reminder.effects] == ["open", "close"]  # a reminder needs no feedback
    with pytest.raises(ValueError):
        supervise(SuperviseInput("约谈", "county_a_hrss", "x"), ctx())


def test_case_owner_and_stabilisation_rows_hold_responsibilities_only():
    scope = case_owner_scope(ScopeInput("county_a_housing"), ctx({"is_group_or_policy": True}))
    assert (scope["county"], scope["county_office"], scope["group_or_policy"]) == ("county_a", "county_a_office", True)
    c = ctx({"petitioner": {"name": "张某"}})
    lists = name_case_owner(OwnerInput("赵副县长", ["county_a_housing"], "county_a", "county_a_housing", "XF1"), c)
    assert lists["包案"]["包案-XF1"]["leader"] == "赵副县长"
    assert "张某" not in str(lists["稳控"])
    with pytest.raises(ValueError, match="专班"):
        name_case_owner(OwnerInput("赵副县长", [], "county_a", "county_a_housing", "XF1"), ctx())


def test_templates_fill_every_field_or_show_what_is_missing():
    assert render("登记回执", {"case_no": "XF1", "query_code": "ABC"}).count("{") == 0
    assert "ABC" not in render("登记回执", {"case_no": "XF1", "query_code": "ABC"})  # the code is never in a notice
    assert "{unit_name}" in render("去向告知", {"case_no": "XF1", "dispatch_type": "转送"})
    with pytest.raises(LookupError):
        render("不存在的模板", {})


def test_every_handler_is_registered_and_takes_a_dataclass():
    registry = register_all(HandlerRegistry())
    for name in ("issue_case_number", "resolve_responsible_unit", "dispatch_case", "route_out", "merge_repeat",
                 "review_body", "notify", "supervise", "record_list_entry", "case_owner_scope", "name_case_owner",
                 "escalate", "pass_down"):
        assert registry.get(name).parameters(), name


def test_the_organisation_chart_resolves_through_the_hierarchy():
    chart = default_chart()
    assert chart.level_of("county_a_hrss").code == "county_a"
    assert chart.petition_office("county_a_hrss").code == "county_a_office"
    assert chart.level_up("county_a_hrss").code == "city" and chart.level_up("prov") is None
    assert chart.adcode("county_b_office") == "410122"


def test_the_petitioners_sms_copies_render_with_the_outbox_catalogue():
    """The outbox renders strictly (a missing field is a dead letter): each copy this module asks for must exist
    in processes/templates/ and render from the fields the handlers give it."""
    templates = Path(__file__).resolve().parents[2] / "processes" / "templates"
    catalogue_module = pytest.importorskip("services.notify_templates")
    if not templates.exists():
        pytest.skip("no outbox template catalogue in processes/templates/")
    from services.notices import default_catalogue  # the notice catalogue names each copy and its fields

    catalogue = catalogue_module.TemplateCatalogue.load(templates)
    fields = {"case_no": "XF4101212026030202000017", "dispatch_type": "转送", "unit_name": "东城县人力资源和社会保障局",
              "reason": "已申请劳动仲裁", "new_due": "2026-05-08", "served_on": "2026-03-09",
              "requested_on": "2026-03-05"}
    copies = {n.key: n for n in default_catalogue().notices.values() if n.outbox and n.outbox.channel == "sms"}
    assert copies
    for ours, notice in copies.items():
        theirs = notice.outbox.template
        rendered = catalogue.render(theirs, catalogue.latest(theirs), notice.outbox_fields(fields, "2026-03-02"))
        assert "XF4101212026030202000017" in rendered.body, ours


def test_a_petitioner_notice_with_a_phone_goes_to_the_outbox_as_sms():
    c = ctx({"case_no": "XF1", "petitioner": {"phone": "13800001234"}})
    a = resolve_responsible_unit(ResolveUnitInput("county_a_hrss", "county_a", "转送"), c)
    dispatch_case(DispatchInput(a, "XF1"), c)
    [(kind, payload)] = c.effects
    assert (kind, payload["channel"], payload["recipient"], payload["template"]) == (
        "notify", "sms", "13800001234", "transfer_notice")
    assert payload["data"]["to_unit"] == "东城县人力资源和社会保障局"
