"""Issue #23, point 6: a closed case past its retention rule (processes/retention.yaml) has its personal data
erased by destroying its data key; the case, its statistics and its journal still verify, and the case page and
the API say the data was erased under the rule. Not yet due, open and already erased cases are kept. Both
databases."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine.store import Case
from infra import keys
from infra.security_log import SecurityEvent
from services import retention
from services.store.erasures import Erasure
from services.store.parties import Party
from web.cli.main import main

from . import test_handling_api as handling
from .test_handling_api import PETITION, ROOT
from .test_parties_at_rest import _env

app, desk = handling.app, handling.desk  # the fixtures of the handling desk

RULES = "default_years: 30\ncategories:\n  政法综治: 50\n"
LATER = timedelta(days=366 * 31)  # past 30 years, well before 50


def _rules():
    return retention.parse(RULES, retention.known_categories(ROOT / "processes"))


def _closed(desk, first_id: int, **changes) -> int:
    """A case closed at registration: merged into the open case `first_id` (a repeat)."""
    form = dict(PETITION, title="再次反映", merge_into=first_id, **changes)
    r = desk.post("registrar", "/api/cases", form)
    assert r.status_code == 201 and r.get_json()["status"] == "completed", r.get_json()
    return r.get_json()["id"]


@pytest.fixture
def office(desk, container):
    open_id = desk.post("registrar", "/api/cases", PETITION).get_json()["id"]
    due_id = _closed(desk, open_id, petitioners=[{"name": "欧阳明远", "phone": "13687654321",
                                                  "id_number": "11010519880608731X"}])
    later_id = _closed(desk, open_id, category="政法综治", subcategory="矛盾纠纷",
                       petitioners=[{"name": "李四", "phone": "13900000000"}])
    return open_id, due_id, later_id


def _stats(desk):
    r = desk.get("bureau", "/api/stats?from=2026-03-01&to=2026-03-31&live=1")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_closed_case_past_its_rule_is_erased_and_everything_still_verifies(desk, container, office, tmp_path):
    open_id, due_id, later_id = office
    before = _stats(desk)
    now = container.clock.now() + LATER
    with container.session_factory() as s:
        assert [d.case_id for d in retention.due(s, now, _rules())] == [due_id]  # open and not-yet-due are kept
        assert retention.due(s, container.clock.now(), _rules()) == []
    with container.session_factory() as s, s.begin():
        rule = retention.due(s, now, _rules())[0].rule
        assert retention.erase(s, due_id, rule, 30, "test", now)
        assert not retention.erase(s, open_id, rule, 30, "test", now)  # an open case is never erased
    container.extras["vault"].forget()
    with container.session_factory() as s:
        [key_ref] = set(s.scalars(select(Party.key_ref).where(Party.case_id == due_id)))
        assert s.get(keys.DataKey, key_ref) is None  # crypto-shredded
        assert retention.due(s, now, _rules()) == []  # erased once
        [event] = s.scalars(select(SecurityEvent).where(SecurityEvent.kind == "erasure")).all()
        assert json.loads(event.detail)["case_id"] == due_id and "13687654321" not in event.detail
    with container.session_factory() as s, s.begin():
        assert not retention.erase(s, due_id, rule, 30, "test", now)
    for case_id in (open_id, due_id, later_id):
        assert container.runtime.verify(case_id).ok
    assert _stats(desk) == before  # the statistics still count it
    shown = desk.get("registrar", f"/api/cases/{due_id}").get_json()
    assert shown["erasure"]["rule"] == rule and shown["erasure"]["erased_at"].startswith(str(now.year))
    assert shown["data"]["petitioner"]["phone"] == "136****4321"
    page = desk.get("registrar", f"/cases/{due_id}").get_data(as_text=True)
    assert 'id="erasure"' in page and "按保存期限规则删除" in page and rule in page
    kept = desk.get("registrar", f"/api/cases/{later_id}").get_json()
    assert kept["erasure"] is None and kept["data"]["petitioner"]["phone"] == "13900000000"
    assert 'id="erasure"' not in desk.get("registrar", f"/cases/{open_id}").get_data(as_text=True)
    verified = CliRunner().invoke(main, ["audit", "verify"], env=_env(container), catch_exceptions=False)
    assert verified.exit_code == 0, verified.output


def test_retention_run_erases_once_and_a_dry_run_changes_nothing(desk, container, office):
    open_id, due_id, later_id = office
    later = (container.clock.now() + LATER).isoformat()
    env = _env(container)

    def run(*args):
        result = CliRunner().invoke(main, ["retention", "run", "--now", later, *args], env=env,
                                    catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    def erased():
        with container.session_factory() as s:
            return (list(s.scalars(select(Erasure.case_id))), s.scalar(select(func.count()).select_from(keys.DataKey)))

    before = erased()
    dry = run("--dry-run")
    assert "将删除" in dry and "1 件" in dry and erased() == before
    first = run()
    assert "删除（erased）" in first and "1 件" in first
    assert erased()[0] == [due_id] and erased()[1] == before[1] - 1
    assert "0 件" in run() and erased()[0] == [due_id]  # running twice erases once
    with container.session_factory() as s:
        assert s.get(Case, open_id).status != "completed" and s.get(Case, later_id).status == "completed"
    assert container.runtime.verify(due_id).ok


@pytest.mark.parametrize(("text", "row"), [
    ("default_years: 30\ncategories:\n  不存在的分类: 10\n", "categories.不存在的分类"),
    ("default_years: 0\n", "default_years"),
    ("default_years: 30\ncategories:\n  劳动社保: 10.5\n", "categories.劳动社保"),
    ("default_years: 30\ncategories:\n  劳动社保: 101\n", "categories.劳动社保"),
])
def test_a_malformed_retention_file_is_refused_naming_the_row(text, row):
    with pytest.raises(retention.RetentionProblem, match=row.replace(".", r"\.")):
        retention.parse(text, retention.known_categories(ROOT / "processes"))


def test_the_shipped_retention_file_loads():
    rules = retention.load(ROOT / "processes")
    assert 1 <= rules.default_years <= 100 and all(1 <= y <= 100 for y in rules.by_category.values())
