"""Steps for stats.feature: the KPIs, drill-down and frozen months through the HTTP API, as the bureau uses them."""
from __future__ import annotations

from pytest_bdd import parsers, then, when


def _kpi(office, user, period, label, live=False):
    r = office.get(user, f"/api/stats?period={period}{'&live=1' if live else ''}")
    assert r.status_code == 200, r.get_json()
    found = [k for k in r.get_json()["kpis"] if k["label"] == label]
    assert found, [k["label"] for k in r.get_json()["kpis"]]
    return found[0]


def _check(kpi, expected: str):
    if "/" in expected:
        numerator, denominator = (int(x) for x in expected.split("/"))
        assert (kpi["numerator"], kpi["denominator"]) == (numerator, denominator), kpi
    else:
        assert kpi["numerator"] == int(expected) and kpi["denominator"] is None, kpi


@then(parsers.parse('"{user}" 看到 "{period}" 的 "{label}" 是 {expected}'))
def sees_figure(office, user, period, label, expected):
    _check(_kpi(office, user, period, label), expected)


@then(parsers.parse('"{user}" 看到 "{period}" 实时计算的 "{label}" 是 {expected}'))
def sees_live_figure(office, user, period, label, expected):
    _check(_kpi(office, user, period, label, live=True), expected)


@then(parsers.parse('"{user}" 点开 "{period}" 的 "{label}"，看到的是最近登记的那一件'))
def drills_down(office, user, period, label):
    kpi = _kpi(office, user, period, label)
    r = office.get(user, f"/api/stats/cases?period={period}&kpi={kpi['key']}")
    assert r.status_code == 200, r.get_json()
    assert [c["id"] for c in r.get_json()["cases"]] == [office.case_id]


@when(parsers.parse('"{user}" 冻结 "{period}" 的统计数据'))
def freezes(office, user, period):
    r = office.post(user, "/api/stats/snapshots", json={"period": period})
    assert r.status_code == 201, r.get_json()


@then(parsers.parse('"{user}" 再次冻结 "{period}" 的统计数据被拒绝，理由是 "{reason}"'))
def freeze_refused(office, user, period, reason):
    r = office.post(user, "/api/stats/snapshots", json={"period": period})
    assert r.status_code == 409 and reason in r.get_json()["error"]["message"], r.get_json()


@then(parsers.parse('"{user}" 不能查看 "{unit}" 的统计'))
def refused_unit(office, user, unit):
    r = office.get(user, f"/api/stats?unit={unit}")
    assert r.status_code == 403, r.get_json()
