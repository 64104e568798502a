"""`lianxin` as a user runs it: init twice keeps data, deploy reports problems one per line and exits 1."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from web.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def run(args, tmp_path, **extra_env):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    env.update(extra_env)
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def count_cases(tmp_path) -> int:
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        n = conn.execute(text("select count(*) from case_instance")).scalar_one()
    engine.dispose()
    return n


def test_init_twice_keeps_the_data(tmp_path):
    first = run(["init", "--demo"], tmp_path)
    assert first.exit_code == 0, first.output
    assert "simple_case v1（新版本）" in first.output and "演示账号" in first.output
    demo_cases = count_cases(tmp_path)
    assert demo_cases >= 12  # 4 simple demo cases and 8 petition cases in different states
    second = run(["init", "--demo"], tmp_path)
    assert second.exit_code == 0
    assert "simple_case v1\n" in second.output  # unchanged content keeps its version
    assert count_cases(tmp_path) == demo_cases


def test_deploy_reports_each_problem_and_deploys_nothing(tmp_path):
    assert run(["init"], tmp_path).exit_code == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        deployed = conn.execute(text("select count(*) from process_definition")).scalar_one()
    engine.dispose()
    bad = tmp_path / "bad"
    bad.mkdir()
    text_ = (ROOT / "processes" / "simple_case.bpmn").read_text(encoding="utf-8")
    (bad / "simple_case.bpmn").write_text(
        text_.replace('id="choose_unit"', 'id="choose_unitt"').replace("approved == True", "approved ==")
        .replace("workdays(5)", "v2"), encoding="utf-8")
    for form in (ROOT / "processes" / "forms").iterdir():
        (bad / form.name).write_bytes(form.read_bytes())
    result = run(["deploy", str(bad)], tmp_path)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("simple_case.bpmn:")]
    assert len(lines) >= 2
    assert any(" Task_choose_unit: " in line and "choose_unitt" in line for line in lines)
    assert any(" Flow_approved: " in line for line in lines)
    assert "未部署任何文件" in result.output
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("select count(*) from process_definition")).scalar_one() == deployed
    engine.dispose()


def test_calendar_due_prints_the_date_first(tmp_path):
    assert run(["init"], tmp_path).exit_code == 0
    result = run(["calendar", "due", "2026-09-22", "--days", "15"], tmp_path)
    assert result.exit_code == 0
    assert result.output.splitlines()[0] == "2026-10-08"


def test_audit_verify_exits_1_on_tampering(tmp_path):
    assert run(["init", "--demo"], tmp_path).exit_code == 0
    assert run(["audit", "verify"], tmp_path).exit_code == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as conn:
        conn.execute(text("update journal_event set data = '{}' where case_id = 2 and seq = 2"))
    engine.dispose()
    result = run(["audit", "verify"], tmp_path)
    assert result.exit_code == 1
    assert "案件 2: 第 2 号事件起校验失败" in result.output


def test_audit_seal_seals_an_upgraded_journal_once_and_refuses_stripped_seals(tmp_path):
    assert run(["init", "--demo"], tmp_path).exit_code == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.begin() as conn:  # the journal as it stood before 0009_journal_seal
        conn.execute(text("update journal_event set seal = null"))
    result = run(["audit", "verify"], tmp_path)
    assert result.exit_code == 1 and "lianxin audit seal" in result.output
    result = run(["audit", "seal"], tmp_path)
    assert result.exit_code == 0, result.output
    assert "被拒绝" in result.output and ", refused 0）" in result.output
    assert run(["audit", "verify"], tmp_path).exit_code == 0
    with engine.begin() as conn:
        conn.execute(text("update journal_event set seal = null where case_id = 2"))
    result = run(["audit", "seal"], tmp_path)
    engine.dispose()
    assert result.exit_code == 1 and "案件 2: 未加封：事件 1 写于启用封印之后却没有封印" in result.output
    assert run(["audit", "verify"], tmp_path).exit_code == 1


def test_commands_before_init_say_to_run_init(tmp_path):
    result = run(["deploy", str(ROOT / "processes")], tmp_path)
    assert result.exit_code == 1
    assert "lianxin init" in result.output
