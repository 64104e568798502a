"""诉访分离 from the maintained route-out list (processes/route_outs.yaml), the 越级访 suggestion, their handlers,
告知书 and figures, on a small fixed data set: no database."""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from engine.clock import SHANGHAI
from engine.definitions import CompiledProcess
from engine.handlers import HandlerContext
from services import documents, route_outs
from services.casework import (
    NotAcceptedInput,
    NumberInput,
    RouteOutInput,
    SkipLevelInput,
    issue_case_number,
    not_accepted,
    route_out,
    send_back_skip_level,
)
from services.orgchart import default_chart
from services.registration import route_out_of
from services.repeat_originals import triage_problems
from services.stats import compute
from services.stats_facts import build_facts
from services.stats_settings import KpiSettings, parse_period

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)
SETTINGS = KpiSettings.load()


def ctx(data=None) -> HandlerContext:
    return HandlerContext(case_id=5, element_id="Task_x", now=NOW, actor="registrar", data=data or {}, ports={})


# ---------------------------------------------------------------- the list

def test_the_shipped_list_has_the_statutory_channels_with_body_and_basis():
    listed = route_outs.default_list()
    assert {"litigation", "arbitration", "labour_arbitration", "admin_reconsideration"} <= set(listed.codes())
    for c in listed.channels:
        assert c.name and c.en and "信访工作条例" in c.basis and {"county", "city"} <= set(c.bodies)


@pytest.mark.parametrize("value, location, body", [
    ("诉讼", "county_a_t1", "东城县人民法院"),  # the court of the organisation at the county
    ("litigation", "city", "市中级人民法院"),
    ("劳动人事争议仲裁", "county_b", "西山县劳动人事争议仲裁委员会"),
    ("行政复议", "county_a", "东城县人民政府"),
    ("仲裁", "county_a", "某某市仲裁委员会"),  # the county has none: the city's ({city})
])
def test_the_competent_body_is_the_one_of_the_area_where_the_matter_arose(value, location, body):
    listed = route_outs.default_list()
    assert listed.competent_body(listed.find(value), default_chart(), location).name == body


def test_an_unknown_channel_code_is_refused_naming_the_list():
    with pytest.raises(route_outs.RouteOutProblem) as err:
        route_outs.default_list().find("petition_review")
    assert "诉讼" in str(err.value) and "行政复议" in str(err.value)
    with pytest.raises(route_outs.RouteOutProblem):
        route_out(RouteOutInput("诉讼", "county_a", "XF1"), ctx({"route_out_channel": "信访复核"}))


@pytest.mark.parametrize("text, words", [
    ("channels: []", "至少一个"),
    ("channels:\n  - {code: Litigation, name: 诉讼, en: L, basis: b, bodies: {county: x}}", "code"),
    ("channels:\n  - {code: a, name: 诉讼, en: L, basis: b, bodies: {county: x}}\n"
     "  - {code: a, name: 仲裁, en: A, basis: b, bodies: {county: x}}", "重复"),
    ("channels:\n  - {code: a, name: 诉讼, en: L, basis: b, bodies: {town: x}}", "town"),
    ("channels:\n  - {code: a, name: 诉讼, en: L, bodies: {county: x}}", "basis"),
    ("channels:\n  - {code: a, name: 诉讼, en: L, basis: b, bodies: {county: '{village}法院'}}", "占位符"),
])
def test_a_malformed_list_is_refused_saying_what_to_fix(text, words):
    with pytest.raises(route_outs.RouteOutProblem) as err:
        route_outs.parse(text, ("county", "city", "province"))
    assert words in str(err.value)


def _process(sources: dict) -> CompiledProcess:
    return CompiledProcess("p", "p", "h", "{}", sources, {}, {}, True)


def test_deploy_refuses_a_form_whose_channels_differ_from_the_list(tmp_path):
    check = route_outs.deploy_check()
    names = route_outs.default_list().names()
    good = json.dumps({"properties": {"route_out_channel": {"enum": names}}})
    bad = json.dumps({"properties": {"route_out_channel": {"enum": names[:-1] + ["信访复核"]}}})
    assert check([_process({"triage.schema.json": good})]) == []
    [problem] = check([_process({"triage.schema.json": bad})])
    assert problem.file == "triage.schema.json" and "route_outs.yaml" in problem.message
    broken = tmp_path / "route_outs.yaml"
    broken.write_text("channels: []", encoding="utf-8")
    [problem] = route_outs.deploy_check(broken)([_process({})])
    assert problem.file == "route_outs.yaml"


def test_the_shipped_forms_offer_exactly_the_list():
    forms = Path(route_outs.DEFAULT_FILE).parent / "forms"
    sources = {p.name: p.read_text(encoding="utf-8") for p in forms.glob("*.json")}
    assert route_outs.form_problems(sources, route_outs.default_list()) == []
    assert sum("route_out_channel" in t for t in sources.values()) == 2  # triage and acceptance


# ---------------------------------------------------------------- the handlers and the notices

def test_a_route_out_tells_the_petitioner_the_channel_body_and_basis():
    out = route_out(RouteOutInput("诉讼", "county_a", "XF1"), ctx({"route_out_channel": "劳动人事争议仲裁"}))
    assert (out["channel"], out["unit_name"], out["unit"]) == ("labour_arbitration", "东城县劳动人事争议仲裁委员会", "")
    [to_petitioner] = out["notices"]  # no unit of the organisation to tell
    assert "劳动人事争议仲裁" in to_petitioner["text"] and "劳动争议调解仲裁法" in to_petitioner["text"]
    court = route_out(RouteOutInput("诉讼", "county_b", "XF1"), ctx())  # no channel named: litigation, as before
    assert court["channel"] == "litigation" and court["unit"] == "county_b_court" and len(court["notices"]) == 2


def test_not_accepted_for_another_channel_names_it_and_counts_as_routed_out():
    out = not_accepted(NotAcceptedInput("XF1", "对行政决定不服", "county_a"), ctx({"route_out_channel": "行政复议"}))
    assert out["channel"] == "admin_reconsideration" and out["route_out"]["unit_name"] == "东城县人民政府"
    assert "东城县人民政府" in out["text"] and out["at"] == NOW.isoformat()
    plain = not_accepted(NotAcceptedInput("XF1", "不属于本单位职责", "county_a"), ctx())
    assert plain["route_out"] is None and plain["channel"] == "" and "不属于本单位职责" in plain["text"]


def _units(code):
    return default_chart().name(code)


def test_the_route_out_notice_prints_channel_body_and_basis_from_triage_or_acceptance():
    data = {"case_no": "XF1", "title": "拖欠工资", "petitioner": {"name": "张某某"}, "registering_unit": "city_bureau",
            "routed_out": route_out(RouteOutInput("诉讼", "county_a", "XF1"), ctx({"route_out_channel": "行政复议"}))}
    notice = documents.build_notice("route_out", data, _units)
    text = "".join(notice.paragraphs)
    assert notice.title == "依法通过法定途径解决告知书" and "行政复议" in text and "东城县人民政府" in text
    assert notice.issuer == "市信访局"
    accepted = {"case_no": "XF1", "title": "拖欠工资", "petitioner": {"name": "张某某"},
                "assignment": {"unit": "county_a_hrss"},
                "acceptance_notice": not_accepted(NotAcceptedInput("XF1", "r", "county_a"),
                                                  ctx({"route_out_channel": "诉讼"}))}
    assert documents.build_notice("route_out", accepted, _units).issuer == "东城县人力资源和社会保障局"
    with pytest.raises(documents.NoticeUnavailable):
        documents.build_notice("route_out", {"case_no": "XF1", "title": "t", "petitioner": {"name": "张"}}, _units)


def test_an_earlier_route_out_is_recognised_on_its_case_data():
    routed = route_out(RouteOutInput("诉讼", "county_a", "XF1"), ctx({"route_out_channel": "仲裁"}))
    assert route_out_of({"routed_out": routed})["channel_name"] == "仲裁"
    assert route_out_of({"routed_out": {"kind": "纪检监察", "unit": "county_a_cdi"}}) is None  # an accusation
    assert route_out_of({"acceptance_notice": {"route_out": None}}) is None


# ---------------------------------------------------------------- 越级访

def test_a_county_matter_at_the_city_bureau_is_suggested_as_a_skipped_level():
    chart = default_chart()
    found = route_outs.skip_level(chart, "city_bureau", "county_a_t2")
    assert (found.office, found.area) == ("county_a_office", "county_a") and "第二十条" in found.reason
    assert route_outs.skip_level(chart, "city_bureau", "city") is None  # the city's own matter
    assert route_outs.skip_level(chart, "county_a_office", "county_a_t1") is None  # at its own level
    assert route_outs.skip_level(chart, "county_a_office", "county_b") is None  # another county's: not below
    number = issue_case_number(NumberInput("来访", "county_b"), ctx({"registering_unit": "city_bureau"}))
    assert "西山县信访局" in number["skip_level"]


def test_a_skipped_level_goes_to_the_competent_office_with_its_notice_and_only_for_a_lower_level():
    out = send_back_skip_level(SkipLevelInput("XF1", "county_b", "city_bureau"), ctx())
    assert (out["office"], out["area"]) == ("county_b_office", "county_b")
    assert [n["to"] for n in out["notices"]] == [[{"unit": "county_b_office", "role": "county_office"}],
                                                 [{"party": "petitioner"}]]
    assert "西山县信访局" in out["notices"][1]["text"]
    data = {"case_no": "XF1", "title": "t", "petitioner": {"name": "张某某"}, "registering_unit": "city_bureau",
            "skip_level": out}
    assert "西山县信访局" in "".join(documents.build_notice("skip_level", data, _units).paragraphs)
    with pytest.raises(ValueError, match="不是越级访"):
        send_back_skip_level(SkipLevelInput("XF1", "city", "city_bureau"), ctx())


def test_the_triage_refuses_a_skipped_level_the_registration_did_not_find():
    refused = triage_problems(None, None, 1, {"registration": {"skip_level": ""}}, {"route": "越级访"})
    assert "不是越级访" in refused["route"]
    assert triage_problems(None, None, 1, {"registration": {"skip_level": "问题发生地属东城县"}}, {"route": "越级访"}) == {}


# ---------------------------------------------------------------- the figures, on a fixed data set

def bj(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def _case(i, route, handler=None, result=None, at="2026-03-03T09:00:00"):
    case = SimpleNamespace(id=i, case_no=f"XF{i}", created_at=bj(at), status="completed", summary_json="{}")
    events = [SimpleNamespace(case_id=i, seq=1, at=bj(at), type="case.started", element_id=None,
                              data=json.dumps({"data": {"channel": "来访", "location": "county_a"}})),
              SimpleNamespace(case_id=i, seq=2, at=bj(at), type="task.completed", element_id="Task_triage",
                              data=json.dumps({"changes": {"route": [None, route]}}))]
    if handler:
        events.append(SimpleNamespace(case_id=i, seq=3, at=bj(at), type="service.called", element_id="Task_x",
                                      data=json.dumps({"handler": handler, "result": result})))
    return case, events


def test_routed_out_by_channel_and_skipped_levels_by_area():
    rows = [
        _case(1, "诉访分离", "route_out", {"kind": "诉讼", "channel": "litigation"}),
        _case(2, "诉访分离", "route_out", {"kind": "诉讼", "channel": "labour_arbitration"}),
        _case(3, "诉访分离", "route_out", {"kind": "诉讼", "unit": "county_a_court"}),  # before the list: litigation
        _case(4, "交办转送", "not_accepted", {"channel": "admin_reconsideration", "route_out": {}}),
        _case(5, "交办转送", "not_accepted", {"channel": "", "route_out": None}),  # not accepted, no channel
        _case(6, "检举控告", "route_out", {"kind": "纪检监察", "unit": "county_a_cdi"}),  # not a 诉访分离
        _case(7, "越级访", "send_back_skip_level", {"area": "county_a"}),
        _case(8, "越级访", "send_back_skip_level", {"area": "county_b"}),
        _case(9, "越级访", "send_back_skip_level", {"area": "county_a"}),
        _case(10, "诉访分离", "route_out", {"kind": "诉讼", "channel": "arbitration"}, at="2026-04-01T09:00:00"),
    ]
    facts = build_facts([c for c, _ in rows], [], [e for _, es in rows for e in es], SETTINGS)
    kpis = {k.key: k for k in compute(facts, parse_period("2026-03", SETTINGS), bj("2026-05-01T00:00:00"), SETTINGS)}
    assert (kpis["routed_out"].numerator, kpis["routed_out"].case_ids) == (4, [1, 2, 3, 4])
    assert kpis["routed_out.litigation"].case_ids == [1, 3]
    assert kpis["routed_out.labour_arbitration"].case_ids == [2]
    assert kpis["routed_out.admin_reconsideration"].case_ids == [4]
    assert kpis["routed_out.arbitration"].numerator == 0  # received in April
    assert (kpis["skip_level"].numerator, kpis["skip_level.county_a"].case_ids) == (3, [7, 9])
    assert kpis["skip_level.county_b"].label == "西山县越级访件数" and kpis["skip_level.county_b"].case_ids == [8]
    assert kpis["registered"].case_ids == [4, 5, 7, 8, 9]  # 越级访 is transferred to the competent office
    assert all(kpis[k].definition for k in kpis if k.startswith(("routed_out", "skip_level")))
