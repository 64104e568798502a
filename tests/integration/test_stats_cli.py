"""`lianxin stats freeze` and `lianxin stats show` as an operator runs them."""
from __future__ import annotations

from click.testing import CliRunner

from web.cli.main import main


def run(args, tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def test_freeze_a_month_once_and_show_it(tmp_path):
    assert run(["init"], tmp_path).exit_code == 0
    first = run(["stats", "freeze", "2026-03", "--actor", "市信访局", "--now", "2026-04-01T09:00:00+08:00"], tmp_path)
    assert first.exit_code == 0, first.output
    assert first.output.startswith("已冻结 2026-03（all）")
    again = run(["stats", "freeze", "2026-03"], tmp_path)
    assert again.exit_code == 1 and "已经冻结" in again.output
    shown = run(["stats", "show", "2026-03"], tmp_path)
    assert shown.exit_code == 0
    assert "统计期 2026-03（2026-03-01 至 2026-03-31），已冻结 2026-04-01T01:00:00+00:00" in shown.output
    assert "及时受理率: 0/0 = —" in shown.output
    bad = run(["stats", "show", "2026-3x"], tmp_path)
    assert bad.exit_code == 1 and "2026-03" in bad.output
    wrong_unit = run(["stats", "freeze", "2026-04", "--unit", "nowhere"], tmp_path)
    assert wrong_unit.exit_code == 1 and "nowhere" in wrong_unit.output
