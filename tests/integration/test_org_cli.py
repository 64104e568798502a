"""`lianxin org import|export|check` as an operator runs them: every problem on its own line with sheet and row,
exit 1 and nothing changed; a good file applied and journaled; the export is a workbook that imports as no change."""
from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import create_engine, text

from web.cli.main import main

ROOT = Path(__file__).resolve().parents[2]


def run(args, tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return CliRunner().invoke(main, args, env=env, catch_exceptions=False)


def count(tmp_path, table: str) -> int:
    engine = create_engine(f"sqlite:///{tmp_path / 'cli.db'}")
    with engine.connect() as conn:
        n = conn.execute(text(f"select count(*) from {table}")).scalar_one()  # noqa: S608 - a fixed table name
    engine.dispose()
    return n


def test_org_import_export_and_check(tmp_path):
    assert run(["init"], tmp_path).exit_code == 0
    assert count(tmp_path, "membership") == 0
    # The shipped organisation file, as an office's own: its people get accounts (without passwords yet).
    first = run(["org", "import", str(ROOT / "processes" / "organisation.yaml")], tmp_path)
    assert first.exit_code == 0, first.output
    assert "新用户：a_env 东城县生态环境局承办人肖某" in first.output and "已导入组织机构（变更记录 1）" in first.output
    memberships = count(tmp_path, "membership")
    assert memberships > 100 and count(tmp_path, "org_change") == 1
    assert run(["org", "check"], tmp_path).exit_code == 0

    book = tmp_path / "org.xlsx"
    assert run(["org", "export", str(book)], tmp_path).exit_code == 0
    again = run(["org", "import", str(book)], tmp_path)
    assert again.exit_code == 0 and "未作改动" in again.output

    wb = load_workbook(book)
    wb["单位"].append(["county_a_t5", "东城县某镇", "hamlet", "county_x", ""])
    wb["人员"].append(["a_t5", "某镇承办人", "unit_handler", "county_a_t5", "否"])
    for row in wb["人员"].iter_rows(min_row=2):
        if row[0].value == "c_edu":  # the city's education bureau would be left without a handler
            row[2].value = "registrar"
    wb.save(book)
    units_row, people_row = wb["单位"].max_row, wb["人员"].max_row
    bad = run(["org", "import", str(book)], tmp_path)
    assert bad.exit_code == 1
    lines = bad.output.splitlines()
    assert any(f"单位 第 {units_row} 行" in line and "类别“hamlet”未知" in line for line in lines), bad.output
    assert any(f"单位 第 {units_row} 行" in line and "上级单位 county_x 不在文件中" in line for line in lines)
    assert "组织机构未作任何改动" in bad.output
    # the file's own problems first; once they are fixed, the coverage of the routing
    wb["单位"].delete_rows(units_row)
    wb["人员"].delete_rows(people_row)
    wb.save(book)
    gap = run(["org", "import", str(book)], tmp_path)
    assert gap.exit_code == 1 and "city_edu" in gap.output and "unit_handler" in gap.output, gap.output
    assert count(tmp_path, "membership") == memberships and count(tmp_path, "org_change") == 1
