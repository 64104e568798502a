"""Steps for settings.feature: the designer edits settings.dmn and validates and deploys it over the HTTP API."""
from __future__ import annotations

from lxml import etree
from pytest_bdd import parsers, then, when


def _set_cell(text: str, output_name: str, value: str) -> str:
    """settings.dmn with the default rule's cell of `output_name` set to `value`."""
    root = etree.fromstring(text.encode("utf-8"))
    ns = {"d": etree.QName(root).namespace}
    table = root.find("d:decision/d:decisionTable", ns)
    names = [o.get("name") for o in table.findall("d:output", ns)]
    entry = table.find("d:rule", ns).findall("d:outputEntry", ns)[names.index(output_name)]
    entry.find("d:text", ns).text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode("utf-8")


@when(parsers.parse('设计员在流程 "{key}" 的时限设置中把 "{name}" 改为 "{value}" 并校验'),
      target_fixture="settings_edit")
def edit_and_validate(office, key, name, value):
    proc = office.get("designer", f"/api/designer/processes/{key}").get_json()
    edit = {"key": key, "base_definition_id": proc["definition_id"],
            "files": {"settings.dmn": _set_cell(proc["files"]["settings.dmn"], name, value)}}
    r = office.post("designer", f"/api/designer/processes/{key}/validate",
                    json={"base_definition_id": edit["base_definition_id"], "files": edit["files"]})
    assert r.status_code == 200, r.get_json()
    edit["result"] = r.get_json()
    return edit


@then(parsers.parse('校验不通过，问题在 "{file}" 的单元格 "{element_id}"'))
def validation_refused(settings_edit, file, element_id):
    result = settings_edit["result"]
    assert result["ok"] is False
    [problem] = result["problems"]
    assert (problem["file"], problem["element_id"]) == (file, element_id)
    assert isinstance(problem["line"], int) and problem["line"] > 1


@then(parsers.parse('问题说明中有 "{words}"'))
def problem_says(settings_edit, words):
    [problem] = settings_edit["result"]["problems"]
    assert words in problem["message"], problem["message"]


@when("设计员仍然部署这份修改", target_fixture="deploy_response")
def deploy_anyway(office, settings_edit):
    key = settings_edit["key"]
    return office.post("designer", f"/api/designer/processes/{key}/deploy",
                       json={"base_definition_id": settings_edit["base_definition_id"],
                             "files": settings_edit["files"], "comment": "办结时限改为90天"})


@then(parsers.parse('部署被拒绝，流程 "{key}" 仍只有版本 1'))
def deploy_refused_still_v1(office, settings_edit, deploy_response, key):
    assert deploy_response.status_code == 422
    assert deploy_response.get_json()["problems"] == settings_edit["result"]["problems"]
    versions = office.get("designer", f"/api/designer/processes/{key}/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == [1]


@when(parsers.parse('设计员部署这份修改，说明 "{comment}"'))
def deploy_edit(office, settings_edit, comment):
    assert settings_edit["result"]["ok"], settings_edit["result"]["problems"]
    r = office.post("designer", f"/api/designer/processes/{settings_edit['key']}/deploy",
                    json={"base_definition_id": settings_edit["base_definition_id"],
                          "files": settings_edit["files"], "comment": comment})
    assert r.status_code == 201, r.get_json()


@then(parsers.parse('流程 "{key}" 第 {a:d} 版与第 {b:d} 版的对比只有 "{file}" 有修改'), target_fixture="version_diff")
def diff_of_versions(office, key, a, b, file):
    r = office.get("designer", f"/api/designer/processes/{key}/diff?a={a}&b={b}")
    assert r.status_code == 200, r.get_json()
    diff = r.get_json()
    assert [(f["name"], f["change"]) for f in diff["files"]] == [(file, "changed")]
    assert diff["elements"] == [] and diff["forms"] == []
    return diff


@then(parsers.parse('对比列出决策表 "{table}" 第 {row:d} 行 "{column}" 从 "{old}" 改为 "{new}"'))
def diff_names_the_cell(version_diff, table, row, column, old, new):
    [decision] = version_diff["decisions"]
    assert decision["name"] == table
    assert [(c["row"], c["column"], c["old"], c["new"]) for c in decision["cells"]] == [(row, column, old, new)]


@then(parsers.parse('对比说明读取这一格的元素中有 "{element}"'))
def diff_names_the_readers(version_diff, element):
    [cell] = version_diff["decisions"][0]["cells"]
    assert element in cell["readers"], cell["readers"]
