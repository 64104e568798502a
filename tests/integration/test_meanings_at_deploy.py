"""Deploy checks the element meanings (processes/meanings.yaml) against the processes it deploys: a meaning that
names an element the process lacks refuses the whole deployment with the file, the element and the reason."""
from __future__ import annotations

from pathlib import Path

import pytest

from engine.definitions import DefinitionError, collect_files
from services import element_meanings, notices

ROOT = Path(__file__).resolve().parents[2]


def processes():
    return collect_files([str(ROOT / "processes")])


def test_the_shipped_processes_deploy_with_their_meanings(container):
    assert container.runtime.bundle_checks, "the composition root registers the meanings check"
    deployed = container.runtime.deploy(processes(), actor="test")
    assert "petition_case" in {v.process_key for v in deployed}


def test_a_meaning_naming_a_missing_element_refuses_the_deployment(container, tmp_path):
    meanings = tmp_path / "meanings.yaml"
    text = (ROOT / "processes" / "meanings.yaml").read_text(encoding="utf-8")
    meanings.write_text(text.replace("rating: [Task_rating]", "rating: [Task_rating_secret]"), encoding="utf-8")
    container.runtime.bundle_checks = [element_meanings.deploy_check(meanings)]
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy(processes(), actor="test")
    [problem] = err.value.problems
    assert (problem.file, problem.element_id) == ("meanings.yaml", "Task_rating_secret")
    assert problem.line == text.splitlines().index("  rating: [Task_rating]") + 1
    assert "petition_case" in problem.message and "rating" in problem.message
    with pytest.raises(DefinitionError):
        container.runtime.check(processes())  # the designer's validation refuses the same


def test_an_unknown_meaning_refuses_the_deployment(container, tmp_path):
    meanings = tmp_path / "meanings.yaml"
    meanings.write_text("petition_case:\n  secret_route: [Task_route_discipline]\n", encoding="utf-8")
    container.runtime.bundle_checks = [element_meanings.deploy_check(meanings)]
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy(processes(), actor="test")
    assert [(p.file, p.line) for p in err.value.problems] == [("meanings.yaml", 2)]


def test_a_statistics_meaning_naming_an_element_the_process_lacks_refuses_the_deployment(container, tmp_path):
    """The statistics read the acceptance step by its meaning: a meaning that names no element of the deployed
    petition_case refuses it, naming the meaning."""
    meanings = tmp_path / "meanings.yaml"
    text = (ROOT / "processes" / "meanings.yaml").read_text(encoding="utf-8")
    meanings.write_text(text.replace("  acceptance: [Task_accept]\n", "  acceptance: [Task_accept_decision]\n"),
                        encoding="utf-8")
    container.runtime.bundle_checks = [element_meanings.deploy_check(meanings)]
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy(processes(), actor="test")
    [problem] = err.value.problems
    assert problem.element_id == "Task_accept_decision" and "acceptance" in problem.message
    assert problem.line == text.splitlines().index("  acceptance: [Task_accept]") + 1


def test_a_meaning_the_statistics_read_declared_by_no_process_refuses_the_deployment(container, tmp_path):
    meanings = tmp_path / "meanings.yaml"
    text = (ROOT / "processes" / "meanings.yaml").read_text(encoding="utf-8")
    meanings.write_text(text.replace("  reply: [Task_serve_reply]\n", ""), encoding="utf-8")
    container.runtime.bundle_checks = [element_meanings.deploy_check(meanings)]
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy(processes(), actor="test")
    [problem] = err.value.problems
    assert problem.file == "meanings.yaml" and "reply" in problem.message


# ---------------------------------------------------------------- the notice catalogue at deploy

def test_a_notify_task_naming_a_notice_the_catalogue_lacks_refuses_the_deployment(container, tmp_path):
    catalogue = tmp_path / "notices.yaml"
    text = (ROOT / "processes" / "notices.yaml").read_text(encoding="utf-8")
    catalogue.write_text(text.replace("  当场办结:\n", "  当场办结完毕:\n"), encoding="utf-8")
    container.runtime.bundle_checks = [notices.deploy_check(catalogue, ROOT / "processes" / "templates")]
    with pytest.raises(DefinitionError) as err:
        container.runtime.deploy(processes(), actor="test")
    [problem] = err.value.problems
    assert (problem.file, problem.element_id) == ("petition_case.bpmn", "Task_notify_onspot")
    assert problem.line and "当场办结" in problem.message


def test_a_wrong_catalogue_refuses_the_deployment(container, tmp_path):
    catalogue = tmp_path / "notices.yaml"
    text = (ROOT / "processes" / "notices.yaml").read_text(encoding="utf-8")
    catalogue.write_text(text.replace("channels: [journal, sms]", "channels: [journal, sms, pager]", 1),
                         encoding="utf-8")
    container.runtime.bundle_checks = [notices.deploy_check(catalogue, ROOT / "processes" / "templates")]
    with pytest.raises(DefinitionError) as err:
        container.runtime.check(processes())
    assert [(p.file, p.message.split(":")[0]) for p in err.value.problems] == [("notices.yaml", "去向告知")]
    assert "pager" in err.value.problems[0].message
