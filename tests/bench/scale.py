"""Scale probe (`make bench`, part of tests/bench/run.py): the task list, the case search and /api/stats with
BENCH_SCALE_CASES cases (default 100,000) on SQLite and PostgreSQL, timed in process through the Flask test
client (the request as the app serves it: token, principal, query, JSON), p50 and p95 of BENCH_SCALE_RUNS (40)
requests each. Goal (issue #21): each under 50 ms p95.

The cases are not run through the workflow one by one (100,000 would take hours): the demo office is set up as
`make run` does (its demo cases in every state, among them an accusation on the discipline track) and a few
petitions are registered over the API (registration index, name, phone and ID digests); then every row of these
template cases, in every table that names a case (case_instance, work_item, journal_event, timer, party,
registration_index, petitioner_key, case_register, ...), is copied in bulk inserts with new ids until there are
BENCH_SCALE_CASES cases. Each copy gets its own case number and its own petitioner's name, phone and ID digests,
so that a search by a person finds one case among them, as it would in an office. The copies keep the template's
dates: every case falls in the period the statistics are asked for, the worst case for them.

`python -m tests.bench.scale` runs it alone (BENCH_SCALE_CASES=10000 for a quick look). BENCH_SCALE_KEEP=<folder>
keeps the databases (the SQLite file in that folder, the PostgreSQL database `lianxin_scale_<cases>`) and the next
run with the same BENCH_SCALE_CASES reuses them: it only migrates them to the head and times the requests.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sqlalchemy import MetaData, func, inspect, select, text  # noqa: E402

CASES = int(os.environ.get("BENCH_SCALE_CASES", "100000"))
RUNS = int(os.environ.get("BENCH_SCALE_RUNS", "40"))
GOAL_MS = 50.0
KEEP = os.environ.get("BENCH_SCALE_KEEP", "")
PG_URL = os.environ.get("LIANXIN_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
CASE_COLUMNS = ("case_id", "parent_case_id", "repeat_case_id", "original_case_id")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬"
PETITION = {"channel": "来访", "title": "拖欠工资", "request": "请求支付拖欠的三个月工资", "category": "劳动社保",
            "location": "county_a", "facts": "某公司拖欠工资三个月，多次协商未果。",
            "petitioners": [{"name": "张三", "phone": "13800000000", "id_number": "410121198001011239"}]}


def person(i: int) -> tuple[str, str, str]:
    """The i-th copy's petitioner: a three-character name, a phone and an ID number of its own."""
    a, b = divmod(i, len(GIVEN) * len(GIVEN))
    name = SURNAMES[a % len(SURNAMES)] + GIVEN[b // len(GIVEN)] + GIVEN[b % len(GIVEN)]
    if a >= len(SURNAMES):
        name += GIVEN[(a // len(SURNAMES)) % len(GIVEN)]
    return name, f"139{i:08d}", f"410121{19500101 + i % 500000:08d}{i % 10000:04d}"[:18]


# ---------------------------------------------------------------- the office and its template cases

def _app(url: str, tmp: Path):
    from engine.clock import SettableClock
    from tests.support.db import START, make_container
    from web.app import create_app

    if not (tmp / "processes").exists():
        shutil.copytree(ROOT / "processes", tmp / "processes")
    c = make_container(url, SettableClock(START), tmp, processes_dir=tmp / "processes")
    return c, create_app(c)


def _tokens(c) -> dict:
    from infra.accounts import User, create_token
    from tests.support.db import START

    tokens = {}
    with c.session_factory() as s, s.begin():
        for name in ("admin", "registrar", "handler", "bureau"):
            user = s.scalar(select(User).where(User.username == name))
            tokens[name] = {"Authorization": "Bearer " + create_token(s, user, "bench", START)}
    return tokens


def office(url: str, tmp: Path):
    """The demo office on `url` (migrated, organisation, processes, demo cases), six petitions registered over
    the API, three of them triaged; API tokens for the people the probe asks as."""
    from tests.support.db import _migrate_and_seed
    from web.setup import initialise

    _migrate_and_seed(url)
    c, app = _app(url, tmp)
    initialise(c, demo=True)
    tokens = _tokens(c)
    client = app.test_client()
    for i in range(6):
        r = client.post("/api/cases", json=PETITION, headers=tokens["registrar"])
        assert r.status_code == 201, r.get_json()
        if i % 2:
            case = client.get(f"/api/cases/{r.get_json()['id']}", headers=tokens["registrar"]).get_json()
            done = client.post(f"/api/tasks/{case['tasks'][0]['id']}/complete", headers=tokens["registrar"],
                               json={"data": {"route": "交办转送", "triage_note": "属地办理"}, "version": case["version"]})
            assert done.status_code == 200, done.get_json()
    return c, app, tokens


# ---------------------------------------------------------------- copying the template cases

def _case_tables(conn) -> list:
    """The tables holding rows of a case (a column naming a case), case_instance first."""
    meta = MetaData()
    meta.reflect(conn)
    tables = [t for t in meta.sorted_tables if t.name != "case_instance" and any(c in t.c for c in CASE_COLUMNS)]
    return [meta.tables["case_instance"], *tables]


def _unique_text_columns(conn, table) -> dict[str, int | None]:
    insp = inspect(conn)
    groups = [u["column_names"] for u in insp.get_unique_constraints(table.name)]
    groups += [i["column_names"] for i in insp.get_indexes(table.name) if i.get("unique")]
    groups.append([c.name for c in table.primary_key])
    return {col: getattr(table.c[col].type, "length", None) for group in groups for col in group
            if col not in CASE_COLUMNS and col != "id" and table.c[col].type.python_type is str}


def _span(conn, table) -> int:
    if "id" not in table.c or not table.c.id.primary_key:
        return 0
    return (conn.execute(select(func.max(table.c.id))).scalar() or 0) + 1


def _digest_of(kind: str, i: int, key, kept: str) -> str:
    """The i-th copy's own digest of its petitioner's name, phone or ID number (another kind: as it was)."""
    from services.registration import name_digest

    name, phone, id_number = person(i)
    if kind == "name":
        return name_digest(name, key)
    if kind in ("phone", "id"):
        return key.digest(kind, phone if kind == "phone" else id_number)
    return kept


def _copier(conn, table, key):
    """A function making the rows of copy `k` (case ids shifted by k * case span) from the template rows."""
    rows = [dict(r._mapping) for r in conn.execute(select(table))]
    span = _span(conn, table)
    unique = _unique_text_columns(conn, table)
    case_cols = [c for c in CASE_COLUMNS if c in table.c]
    shift_id = table.name == "case_instance"

    def copy_of(r: dict, k: int, case_span: int, first_case: int) -> dict:
        new = dict(r)
        if span:
            new["id"] = r["id"] + k * (case_span if shift_id else span)
        for col in case_cols:
            if r[col] is not None:
                new[col] = r[col] + k * case_span
        for col, length in unique.items():
            if r[col] is not None:  # unique per copy, within the column's length (a party's ref is 36 long)
                new[col] = (r[col][:length - len(f"-{k}")] if length else r[col]) + f"-{k}"
        if table.name == "petitioner_key":
            new["digest"] = _digest_of(r["kind"], new["case_id"] - first_case + 1, key, r["digest"])
            new["key_id"] = key.key_id
        return new

    def rows_of(k: int, case_span: int, first_case: int) -> list[dict]:
        return [copy_of(r, k, case_span, first_case) for r in rows]
    return rows, rows_of


def grow(c, key, total: int, batch: int = 200) -> int:
    """Copy the template cases until there are `total` cases; returns the number of cases made."""
    with c.engine.connect() as conn:
        tables = _case_tables(conn)
        copiers = [(t, *_copier(conn, t, key)) for t in tables]
        template = len(copiers[0][1])
        case_span = _span(conn, tables[0])
        first_case = conn.execute(select(func.min(tables[0].c.id))).scalar()
    copies = max(0, -(-total // template) - 1)
    for start in range(1, copies + 1, batch):
        with c.engine.begin() as conn:
            for table, _rows, rows_of in copiers:
                made = [r for k in range(start, min(start + batch, copies + 1))
                        for r in rows_of(k, case_span, first_case)]
                if made:
                    conn.execute(table.insert(), made)
    if c.engine.dialect.name == "postgresql":
        with c.engine.begin() as conn:
            for table in tables:
                if "id" in table.c and table.c.id.primary_key:
                    conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                      f"(SELECT max(id) FROM {table.name}))"))
        with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # as autovacuum would have by then: index-only scans can read
    else:
        with c.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return counted(c)


def counted(c) -> tuple[int, str]:
    """The number of cases and the name of a petitioner in the middle of them (the one the probe searches)."""
    with c.engine.connect() as conn:
        made = conn.execute(text("SELECT count(*) FROM case_instance")).scalar()
        first_case = conn.execute(text("SELECT min(id) FROM case_instance")).scalar()
        keyed = sorted(conn.execute(text("SELECT case_id FROM petitioner_key WHERE kind = 'name'")).scalars())
    return made, person(keyed[len(keyed) // 2] - first_case + 1)[0]


# ---------------------------------------------------------------- the requests

def requests_to_time(tokens: dict, searched: str) -> list[tuple[str, str, dict]]:
    return [
        ("task list, administrator (all, first page)", "/api/tasks?scope=all&limit=50", tokens["admin"]),
        ("task list, handler (unit, first page)", "/api/tasks?scope=unit&limit=20", tokens["handler"]),
        ("case search by name, administrator", f"/api/cases?q={searched}", tokens["admin"]),
        ("case search by title word, registrar", "/api/cases?q=拖欠工资", tokens["registrar"]),
        ("statistics /api/stats, bureau", "/api/stats", tokens["bureau"]),
    ]


def percentile(samples: list[float], p: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] * 1000


def time_requests(app, tokens: dict, searched: str, runs: int = RUNS) -> dict[str, dict]:
    """p50/p95 per request; the requests are interleaved round by round so machine noise hits all alike. One
    untimed round first (each process reads the organisation, the settings and the search keys once)."""
    client = app.test_client()
    todo = requests_to_time(tokens, searched)
    answers = {}
    for label, path, headers in todo:
        r = client.get(path, headers=headers)
        assert r.status_code == 200, (path, r.status_code, r.get_data(as_text=True)[:300])
        answers[label] = r.get_json()
    samples: dict[str, list[float]] = {label: [] for label, _, _ in todo}
    for _ in range(runs):
        for label, path, headers in todo:
            t0 = time.perf_counter()
            r = client.get(path, headers=headers)
            samples[label].append(time.perf_counter() - t0)
            assert r.status_code == 200
    return {label: {"p50": percentile(s, 50), "p95": percentile(s, 95), "answer": answers[label]}
            for label, s in samples.items()}


def probe(url: str, tmp: Path, total: int = CASES, reuse: bool = False) -> dict:
    logging.getLogger("lianxin").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    if reuse:  # a kept database: brought to the head (new indexes are built here, timed as the build)
        from infra.db import make_engine
        from infra.migrate import upgrade

        engine = make_engine(url)
        upgrade(engine)
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        engine.dispose()
        c, app = _app(url, tmp)
        tokens = _tokens(c)
        made, searched = counted(c)
    else:
        c, app, tokens = office(url, tmp)
        t0 = time.perf_counter()
        made, searched = grow(c, _index_key(c), total)
    build = time.perf_counter() - t0
    result = time_requests(app, tokens, searched)
    c.engine.dispose()
    return {"cases": made, "build_seconds": build, "searched": searched, "requests": result}


def _index_key(c):
    from services.index_key import IndexKey

    return IndexKey.from_secret_key(c.settings.secret_key, c.settings.crypto_suite)


def report(label: str, res: dict) -> list[tuple[str, float]]:
    print(f"  {label}: {res['cases']:,} cases (copied or migrated in {res['build_seconds']:.0f} s); {RUNS} requests each, "
          f"in process (Flask test client)")
    print(f"    {'request':<48} {'p50 ms':>8} {'p95 ms':>8} {'answer':>10}")
    out = []
    for name, r in res["requests"].items():
        answer = r["answer"]
        size = answer.get("total", len(answer.get("kpis", answer.get("tasks", []))))
        print(f"    {name:<48} {r['p50']:>8.1f} {r['p95']:>8.1f} {size:>10}")
        out.append((name, r["p95"]))
    return out


def _kept_pg_database(tmp: Path):
    """(url, do-nothing, whether it was there) for the kept PostgreSQL database of this size, made if missing."""
    from infra.db import make_engine

    admin_url = PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    name = f"lianxin_scale_{CASES}"
    try:
        admin = make_engine(admin_url).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            there = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
            if there is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception:
        return None
    return admin_url.rsplit("/", 1)[0] + "/" + name, lambda: None, there is not None and (tmp / "pg").exists()


def main() -> None:
    from tests.bench.timers import new_pg_database
    from tests.bench.verdict import judge_flag

    print(f"Scale: the task list, the case search and the statistics with {CASES:,} cases "
          f"(goal: each under {GOAL_MS:.0f} ms p95); load average {os.getloadavg()[0]:.2f}")
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(KEEP) / f"scale-{CASES}" if KEEP else Path(tmp)
        (tmp / "sqlite").mkdir(parents=True, exist_ok=True)
        db = tmp / "sqlite" / "scale.db"
        rows = report("SQLite", probe(f"sqlite:///{db}", tmp / "sqlite", reuse=db.exists()))
        worst["SQLite"] = max(p95 for _, p95 in rows)
        made = _kept_pg_database(tmp) if KEEP else new_pg_database(PG_URL)
        if made is None:
            print("  PostgreSQL: skipped (no server at LIANXIN_TEST_POSTGRES_URL)")
        else:
            url, drop = made[:2]
            (tmp / "pg").mkdir(exist_ok=True)
            try:
                rows = report("PostgreSQL", probe(url, tmp / "pg", reuse=len(made) > 2 and made[2]))
                worst["PostgreSQL"] = max(p95 for _, p95 in rows)
            finally:
                drop()
    for backend, p95 in worst.items():
        judge_flag(f"scale {CASES:,} cases, {backend}: task list, search, /api/stats p95", p95 < GOAL_MS,
                   f"slowest p95 {p95:.1f} ms", f"< {GOAL_MS:.0f} ms")
    print(f"  load average after: {os.getloadavg()[0]:.2f}\n")


if __name__ == "__main__":
    main()
