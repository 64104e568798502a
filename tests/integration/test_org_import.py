"""Importing the organisation (services/org_import.py, `lianxin org import`, /admin/organisation): every problem
listed with its sheet and row and nothing changed; changes applied, journaled and seen by the handlers' chart;
units in use refused; the routing's coverage checked at import and at deployment. Runs on both databases."""
from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
import yaml
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from engine.definitions import DefinitionError, collect_files
from infra.accounts import Membership, Unit, User
from services import org_import
from services.organisation import load_organisation
from services.store.organisation import OrgChange
from web.app import create_app

ROOT = Path(__file__).resolve().parents[2]
ORG = ROOT / "processes" / "organisation.yaml"


@pytest.fixture
def org(container):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ORG, demo_users=True)
    container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="test")
    return container


def tiers(c):
    return c.extras["org_chart"].current().tiers


def snapshot(c) -> tuple:
    with c.session_factory() as s:
        return (sorted((u.code, u.name, u.kind, u.parent_code) for u in s.scalars(select(Unit))),
                sorted((m.user_id, m.role, m.unit_code, m.include_subunits) for m in s.scalars(select(Membership))),
                s.scalar(select(func.count()).select_from(User)),
                s.scalar(select(func.count()).select_from(OrgChange)))


def run(c, name, content, actor="admin", dry_run=False):
    return org_import.run(c.session_factory, name, content, tiers(c), actor=actor, at=c.clock.now(), dry_run=dry_run)


def demo_doc() -> dict:
    doc = yaml.safe_load(ORG.read_text(encoding="utf-8"))
    return {"units": doc["units"], "users": doc["demo_users"]}


def exported(c) -> Workbook:
    with c.session_factory() as s:
        return load_workbook(io.BytesIO(org_import.workbook(s)))


def xlsx(wb: Workbook) -> bytes:
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_yaml_file_with_problems_lists_every_one_with_its_line_and_changes_nothing(org):
    before = snapshot(org)
    text = ORG.read_text(encoding="utf-8")
    text = text.replace("  - {code: county_a_t3, name: 东城县柳河乡, kind: township, parent: county_a}",
                        "  - {code: county_a_t3, name: 东城县柳河乡, kind: village, parent: county_a}\n"
                        "  - {code: county_a_env, name: 重复的单位, kind: department, parent: county_a}\n"
                        "  - {code: loop_x, name: 甲, kind: department, parent: loop_y}\n"
                        "  - {code: loop_y, name: 乙, kind: department, parent: loop_x}\n"
                        "  - {code: orphan, name: 丙, kind: department, parent: nowhere}")
    text = text.replace("  - {username: a_env, name: 东城县生态环境局承办人肖某, roles: [{role: unit_handler, unit: county_a_env}]}",
                        "  - {username: a_env, name: 东城县生态环境局承办人肖某, roles: []}\n"
                        "  - {username: x1, name: 某甲, roles: [{role: chief, unit: county_a_env}]}\n"
                        "  - {username: x2, name: 某乙, roles: [{role: unit_handler, unit: county_z}]}")
    with pytest.raises(org_import.ImportRefused) as refused:
        run(org, "organisation.yaml", text.encode("utf-8"))
    issues = [str(i) for i in refused.value.issues]
    line = {n + 1: t for n, t in enumerate(text.splitlines())}

    def at(fragment: str) -> int:
        return next(n for n, t in line.items() if fragment in t)
    expected = [
        (f"（第 {at('kind: village')} 行）", "类别“village”未知"),
        (f"（第 {at('name: 重复的单位')} 行）", "单位代码 county_a_env 重复"),
        (f"（第 {at('code: orphan')} 行）", "上级单位 nowhere 不在文件中"),
        ("", "上级单位构成循环：loop_x → loop_y → loop_x"),
        (f"（第 {at('roles: []')} 行）", "用户 a_env 没有任何角色"),
        (f"（第 {at('username: x1')} 行）", "角色“chief”未知"),
        (f"（第 {at('username: x2')} 行）", "角色 unit_handler 的单位 county_z 不在文件的单位中"),
    ]
    for where, what in expected:
        assert any(where in i and what in i for i in issues), (where, what, issues)
    assert snapshot(org) == before


def test_an_xlsx_file_with_problems_names_the_sheet_and_row_and_changes_nothing(org):
    before = snapshot(org)
    wb = exported(org)
    units, people = wb["单位"], wb["人员"]
    units.append(["county_a_t9", "东城县新镇", "township", "county_a_t9", ""])  # its own parent: a cycle
    units.append(["county_a_env", "又一个生态环境局", "department", "county_a", ""])
    units.append(["bad unit", "", "bureau", "county_a", "12"])
    people.append(["newbie", "新人", "", "county_a_env", "否"])
    people.append(["x3", "某丙", "unit_handler", "county_q", "是"])
    people.append(["x4", "某丁", "unit_handler", "county_a_env", "也许"])
    n = units.max_row
    with pytest.raises(org_import.ImportRefused) as refused:
        run(org, "org.xlsx", xlsx(wb))
    issues = [str(i) for i in refused.value.issues]
    m = people.max_row
    expected = [
        (f"单位 第 {n - 2} 行", "上级单位构成循环"),
        (f"单位 第 {n - 1} 行", "单位代码 county_a_env 重复"),
        (f"单位 第 {n} 行", "缺少 name"),
        (f"单位 第 {n} 行", "类别“bureau”未知"),
        (f"单位 第 {n} 行", "行政区划代码“12”应为 6 位数字"),
        (f"单位 第 {n} 行", "单位代码“bad unit”只能由字母"),
        (f"人员 第 {m - 2} 行", "缺少角色（role）"),
        (f"人员 第 {m - 1} 行", "角色 unit_handler 的单位 county_q 不在文件的单位中"),
        (f"人员 第 {m} 行", "含下级（subunits）应为 是/否"),
    ]
    for where, what in expected:
        assert any(i.startswith(where) and what in i for i in issues), (where, what, issues)
    assert snapshot(org) == before


def test_the_exported_workbook_imports_as_no_change(org):
    plan, change_id = run(org, "org.xlsx", xlsx(exported(org)))
    assert plan.empty() and change_id is None
    plan, change_id = run(org, "organisation.yaml", yaml.safe_dump(demo_doc(), allow_unicode=True).encode("utf-8"))
    assert plan.empty() and change_id is None


def test_an_xlsx_import_applies_journals_and_the_handlers_chart_sees_it(org):
    chart = org.extras["org_chart"]
    assert not chart.current().has("county_a_t4")
    wb = exported(org)
    wb["单位"].append(["county_a_t4", "东城县北岭镇", "township", "county_a", ""])
    for row in wb["单位"].iter_rows(min_row=2):
        if row[0].value == "county_a_t3":
            row[1].value = "东城县柳河镇"
    wb["人员"].append(["a_t4", "北岭镇承办人罗某", "unit_handler", "county_a_t4", "否"])
    wb["人员"].append(["a_t4_head", "北岭镇镇长孔某", "leader", "county_a_t4", "否"])
    for row in wb["人员"].iter_rows(min_row=2):  # the env handler also answers for the township from now on
        if row[0].value == "a_env":
            row[4].value = "是"
    plan, change_id = run(org, "org.xlsx", xlsx(wb), actor="admin")
    assert change_id is not None
    assert [u["code"] for u in plan.units["added"]] == ["county_a_t4"]
    assert [(u["code"], u["after"]["name"]) for u in plan.units["changed"]] == [("county_a_t3", "东城县柳河镇")]
    assert {(m["username"], m["role"], m["unit"]) for m in plan.memberships["added"]} == {
        ("a_t4", "unit_handler", "county_a_t4"), ("a_t4_head", "leader", "county_a_t4")}
    assert [(m["username"], m["subunits"]) for m in plan.memberships["changed"]] == [("a_env", True)]
    with org.session_factory() as s:
        row = s.get(OrgChange, change_id)
        assert (row.actor, row.source) == ("admin", "org.xlsx") and row.at == org.clock.now()
        changes = json.loads(row.changes)
        assert changes["units"]["added"][0]["code"] == "county_a_t4"
        assert s.scalar(select(User).where(User.username == "a_t4")).display_name == "北岭镇承办人罗某"
        assert s.get(Unit, "county_a_t3").name == "东城县柳河镇"
    chart.refresh()
    assert chart.current().name("county_a_t4") == "东城县北岭镇"
    with org.session_factory() as s:
        assert org_import.journal(s)[0]["id"] == change_id


def test_a_yaml_import_removes_a_unit_and_its_roles_and_journals_it(org):
    doc = demo_doc()
    doc["units"] = [u for u in doc["units"] if u["code"] != "city_org"]
    doc["users"] = [u for u in doc["users"] if u["username"] not in ("c_org", "c_org_head", "org_city")] + [
        {"username": "org_city", "name": "市委组织部干部监督科收件人", "roles": [{"role": "receiver", "unit": "city_cdi"}]},
        {"username": "c_org", "name": "市委组织部承办人韩某", "roles": [{"role": "unit_handler", "unit": "city_civil"}]},
        {"username": "c_org_head", "name": "市委组织部负责人冯某", "roles": [{"role": "leader", "unit": "city_civil"}]}]
    plan, change_id = run(org, "organisation.yaml", yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"))
    assert [u["code"] for u in plan.units["removed"]] == ["city_org"]
    assert {(m["username"], m["unit"]) for m in plan.memberships["removed"]} == {("c_org", "city_org"),
                                                                              ("c_org_head", "city_org"),
                                                                              ("org_city", "city_org")}
    with org.session_factory() as s:
        assert s.get(Unit, "city_org") is None
        assert json.loads(s.get(OrgChange, change_id).changes)["units"]["removed"][0]["code"] == "city_org"


def test_a_unit_in_use_by_a_case_is_not_removed(org):
    case = org.runtime.start("petition_case", {"channel": "来信", "title": "噪声", "request": "处理", "category": "环境保护",
                                        "location": "county_a", "registering_unit": "county_a_office"}, actor="registrar")
    before = snapshot(org)
    doc = demo_doc()
    doc["units"] = [u for u in doc["units"] if u["code"] != "county_a_office"]
    doc["users"] = [dict(u, roles=[r for r in u["roles"] if r["unit"] != "county_a_office"]) for u in doc["users"]]
    doc["users"] = [u for u in doc["users"] if u["roles"]]
    with pytest.raises(org_import.ImportRefused) as refused:
        run(org, "organisation.yaml", yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"))
    [in_use] = [str(i) for i in refused.value.issues if "仍有案件使用它" in str(i)]
    assert "county_a_office" in in_use and (case.data["case_no"] in in_use or f"案件 {case.id}" in in_use), in_use
    assert snapshot(org) == before


def test_an_import_that_leaves_a_routed_unit_without_a_holder_is_refused_with_the_list(org):
    before = snapshot(org)
    doc = demo_doc()
    for u in doc["users"]:
        if u["username"] in ("a_env", "b_t2"):
            u["roles"] = [{"role": "registrar", "unit": "city_bureau"}]
    with pytest.raises(org_import.ImportRefused) as refused:
        run(org, "organisation.yaml", yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"))
    issues = [str(i) for i in refused.value.issues]
    assert any("county_a_env" in i and "unit_handler" in i for i in issues), issues
    assert any("county_b_t2" in i and "unit_handler" in i for i in issues), issues
    assert len(issues) == 2, issues
    assert snapshot(org) == before


def test_a_unit_nothing_routes_to_without_a_holder_is_only_a_warning(org):
    doc = demo_doc()
    doc["units"].append({"code": "county_a_stats", "name": "东城县统计局", "kind": "department", "parent": "county_a"})
    plan, change_id = run(org, "organisation.yaml", yaml.safe_dump(doc, allow_unicode=True).encode("utf-8"))
    assert change_id is not None
    assert any("county_a_stats" in w and "unit_handler" in w for w in plan.warnings), plan.warnings
    assert not any("county_a_stats" in w and "leader" in w for w in plan.warnings)  # the county leader heads it


def test_deployment_is_refused_when_the_routing_table_reaches_a_unit_nobody_holds(org):
    with org.session_factory() as s, s.begin():
        user = s.scalar(select(User).where(User.username == "c_env"))
        s.query(Membership).filter(Membership.user_id == user.id).delete()
    routing = (ROOT / "processes" / "routing.dmn").read_text(encoding="utf-8")
    files = collect_files([str(ROOT / "processes")])
    for f in files:  # a new version of the table, so that the bundle is deployed again
        if f.name == "routing.dmn":
            f.content = routing.replace("谁主管谁负责：生态环境部门", "谁主管谁负责：生态环境主管部门").encode("utf-8")
    with pytest.raises(DefinitionError) as refused:
        org.runtime.deploy(files, actor="designer")
    messages = [str(p) for p in refused.value.problems]
    assert len(messages) == 1 and "city_env" in messages[0] and "unit_handler" in messages[0], messages


def test_deployment_without_any_handler_yet_is_not_refused(container):
    with container.session_factory() as s, s.begin():
        load_organisation(s, ORG, demo_users=False)
    versions = container.runtime.deploy(collect_files([str(ROOT / "processes")]), actor="init")
    assert any(v.process_key == "petition_case" for v in versions)


def test_the_admin_page_is_for_admins_only(org):
    app = create_app(org)
    content = yaml.safe_dump(demo_doc(), allow_unicode=True).encode("utf-8")
    for user, status in (("handler", 403), ("bureau", 403), ("auditor", 403), ("admin", 200)):
        client = app.test_client()
        r = client.post("/api/session", json={"username": user, "password": "demo"})
        assert r.status_code == 201
        token = r.get_json()["csrf_token"]
        assert client.get("/admin/organisation").status_code == status, user
        assert client.get("/admin/organisation/export.xlsx").status_code == status, user
        r = client.post("/admin/organisation/apply", data={"csrf_token": token, "file": (io.BytesIO(content), "o.yaml")},
                        content_type="multipart/form-data")
        assert r.status_code == status, user
    assert snapshot(org)[3] == 0  # the admin's import of the same organisation changed nothing


def test_the_admin_page_previews_refuses_and_applies(org):
    client = create_app(org).test_client()
    token = client.post("/api/session", json={"username": "admin", "password": "demo"}).get_json()["csrf_token"]
    wb = exported(org)
    wb["单位"].append(["county_b_t4", "西山县东岭乡", "township", "county_b", ""])
    wb["人员"].append(["b_t4", "东岭乡承办人", "unit_handler", "county_b_t4", "否"])
    good = xlsx(wb)
    wb["人员"].append(["b_t5", "某某", "nobody", "county_b_t4", "否"])
    r = client.post("/admin/organisation/preview", data={"csrf_token": token, "file": (io.BytesIO(xlsx(wb)), "o.xlsx")},
                    content_type="multipart/form-data")
    assert r.status_code == 422 and "角色“nobody”未知" in r.get_data(as_text=True)
    r = client.post("/admin/organisation/preview", data={"csrf_token": token, "file": (io.BytesIO(good), "o.xlsx")},
                    content_type="multipart/form-data")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "county_b_t4" in page and 'name="content_b64"' in page
    assert snapshot(org)[3] == 0
    r = client.post("/admin/organisation/apply", data={"csrf_token": token, "filename": "o.xlsx",
                                                       "content_b64": base64.b64encode(good).decode()})
    assert r.status_code == 200 and 'id="import-applied"' in r.get_data(as_text=True)
    assert "county_b_t4" in client.get("/admin/organisation").get_data(as_text=True)  # in the journal
    assert snapshot(org)[3] == 1


def test_an_administrator_cannot_import_away_their_own_admin_role(org):
    before = snapshot(org)
    doc = demo_doc()
    for u in doc["users"]:
        if u["username"] == "admin":
            u["roles"] = [{"role": "auditor", "unit": "city", "subunits": True}]
    content = yaml.safe_dump(doc, allow_unicode=True).encode("utf-8")
    with pytest.raises(org_import.ImportRefused) as refused:
        run(org, "organisation.yaml", content, actor="admin")
    assert [i.message for i in refused.value.issues if "admin" in i.message][0].startswith("导入后 admin 将不再担任系统管理员")
    assert snapshot(org) == before
    plan, change_id = run(org, "organisation.yaml", content, actor="cli")  # another administrator may
    assert change_id is not None and {(m["username"], m["role"]) for m in plan.memberships["removed"]} == {("admin", "admin")}
