"""`lianxin init`: migrate, seed the calendar, deploy processes/, load the organisation and (demo) data.

Idempotent: running it again (every `make run`) keeps all data; unchanged processes keep their version.
"""
from __future__ import annotations

import re

from sqlalchemy import func, select

from engine.definitions import collect_files
from engine.store import Case
from infra import keys, security_log
from infra.migrate import upgrade
from services import party_migration
from services.organisation import demo_logins, load_organisation


def initialise(c, *, demo: bool = False) -> list[str]:
    from engine.calendar import seed_from_chinesecalendar

    report = []
    upgrade(c.engine)
    report.append("数据库已就绪（database migrated）")
    # Personal data of cases registered before the party table: out of state and journal, verified per case.
    moved = party_migration.move_out(c.runtime, c.extras["vault"], c.clock.now())
    if moved.moved or moved.refused:
        keys.record(c.session_factory, c.clock.now(), "lianxin init", step="parties_moved_out",
                    cases=len(moved.moved), refused=[case_id for case_id, _ in moved.refused])
        report.append(f"个人信息迁出：{len(moved.moved)} 件" + (f"，{len(moved.refused)} 件未通过校验，"
                      f"请运行 lianxin parties migrate 查看（{len(moved.refused)} refused）" if moved.refused else ""))
    now = c.clock.now()
    with c.session_factory() as s, s.begin():
        seeded = seed_from_chinesecalendar(s, at=now)
    changed = sum(1 for v in seeded.values() if v in ("created", "updated"))
    report.append(f"工作日历：{len(seeded)} 年（chinesecalendar），本次更新 {changed} 年")
    # The organisation first: deployment checks that every unit the routing table can reach has people
    # (services/org_coverage.py).
    org_file = c.settings.processes_dir / "organisation.yaml"
    with c.session_factory() as s, s.begin():
        org = load_organisation(s, org_file, demo_users=demo)
        if org["added_units"] or org["added_users"]:
            security_log.append_in(s, at=now, actor="lianxin init", kind="organisation_change",
                                   detail={"file": org_file.name, **org})
    report.append(f"组织机构：{org['units']} 个单位")
    files = collect_files([str(c.settings.processes_dir)])
    versions = c.runtime.deploy(files, actor="init", comment="lianxin init")
    for v in versions:
        report.append(f"流程 {v.process_key} v{v.version}{'（新版本）' if v.created else ''}")
    if demo:
        from .demo import load_demo_cases

        with c.session_factory() as s:
            existing = s.scalar(select(func.count()).select_from(Case))
        if not existing:
            report.extend(load_demo_cases(c))
        logins = demo_logins(org_file)
        named = [(u, n) for u, n in logins if not re.match(r"^[abcp]_", u)]
        report.append("演示账号（密码 demo）：" + "、".join(f"{u}（{n}）" for u, n in named)
                      + f"；另有各单位承办人和负责人 {len(logins) - len(named)} 个（如 a_env、c_edu_head，见 docs/organisation.md）")
    return report
