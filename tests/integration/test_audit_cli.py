"""`lianxin audit verify` as an auditor runs it: by case number or id, progress on stderr, exit codes 0/1/2."""
from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from services.case_lookup import case_numbers
from web.cli.main import main


def run(args, tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_verify_by_case_number_with_progress_and_exit_codes(tmp_path):
    assert run(["init", "--demo"], tmp_path).exit_code == 0
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        total = conn.execute(text("select count(*) from case_instance")).scalar_one()
    with Session(engine) as s:  # petition cases get their number from the registration step
        numbers = case_numbers(s, list(range(1, total + 1)))
    case_id, case_no = min(numbers.items())
    assert case_no.startswith("XF")
    everything = run(["audit", "verify"], tmp_path)
    assert everything.exit_code == 0 and f"{total}/{total} 个案件校验通过" in everything.stdout
    assert f"{total}/{total}" in everything.stderr and "case" in everything.stderr  # the progress bar

    one = run(["audit", "verify", case_no], tmp_path)
    assert one.exit_code == 0 and "1/1 个案件校验通过" in one.stdout

    missing = run(["audit", "verify", "XF0000", case_no], tmp_path)
    assert missing.exit_code == 2 and "XF0000" in missing.stderr

    with engine.begin() as conn:
        conn.execute(text("update journal_event set actor = 'someone' where case_id = :c and seq = 3"), {"c": case_id})
    engine.dispose()
    failed = run(["audit", "verify", case_no, str(case_id)], tmp_path)
    assert failed.exit_code == 1
    assert f"案件 {case_id}: 第 3 号事件起校验失败" in failed.stdout and case_no in failed.stdout
    assert "0/1 个案件校验通过" in failed.stdout  # the same case named twice is checked once
