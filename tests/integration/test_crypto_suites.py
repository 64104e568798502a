"""LIANXIN_CRYPTO switched from `std` to `gm` on a running office (docs/security.md, 国密算法): a case's chain
goes on in SM3 where it was SHA-256 and verifies under either setting; an SM3 event that is changed, rewritten
with a consistent chain or relabelled is caught; query codes, repeat searches and case numbers made under one
suite still work under the other. Both databases."""
from __future__ import annotations

import json

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import create_engine, inspect, select, text, update

from engine import crypto
from engine.journal import GENESIS, Sealer, event_hash
from engine.store import Case, JournalEvent
from infra.db import make_engine
from infra.migrate import alembic_config, current_revision, upgrade
from services.index_key import IndexKey
from services.store.handling import PetitionerKey
from tests.support.db import make_container
from tests.support.migrations import HEAD
from tests.support.web import office_app
from web.bootstrap import bootstrap
from web.cli.main import main
from web.settings import Settings

from .test_handling_api import PETITION, Desk

DATA = {"title": "工资拖欠", "category": "劳动社保", "location": "county_a",
        "petitioner": {"name": "张三丰", "phone": "13812345678"}}
ANOTHER = dict(PETITION, title="再次反映工资问题", location="county_b", category="城乡建设", subcategory=None,
               request="仍未拿到工资")


@pytest.fixture
def std(database_url, clock, tmp_path):
    c = make_container(database_url, clock, tmp_path / "std")
    c.extras["app"] = office_app(c)
    yield c
    c.engine.dispose()


@pytest.fixture
def gm(database_url, clock, tmp_path, std):
    """The same office after LIANXIN_CRYPTO=gm (same database, same secret key)."""
    c = make_container(database_url, clock, tmp_path / "gm", crypto="gm")
    c.extras["app"] = office_app(c, deploy=False)
    yield c
    c.engine.dispose()


def events(container, case_id: int) -> list[JournalEvent]:
    with container.session_factory() as s:
        return list(s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)
                              .order_by(JournalEvent.seq)))


def mixed_case(std, gm) -> int:
    """Registered while the office ran `std`, handled after it switched to `gm`."""
    case = std.runtime.start("simple_case", DATA, "registrar")
    gm.runtime.complete(case.tasks[0].id, {"signed": True, "note": "已电话联系"}, "handler")
    return case.id


def test_a_chain_switches_from_sha256_to_sm3_and_verifies_under_either_setting(std, gm):
    case_id = mixed_case(std, gm)
    rows = events(gm, case_id)
    algs = [r.hash_alg for r in rows]
    switch = algs.index("sm3")
    assert switch > 0 and set(algs[:switch]) == {"sha256"} and set(algs[switch:]) == {"sm3"}
    secret = gm.settings.secret_key
    for r in rows:  # each event hashed and sealed with the algorithm it records; the links stay as they were
        assert r.hash == event_hash(r.case_id, r.seq, r.at, r.actor, r.type, r.element_id, r.data, r.prev_hash,
                                    r.hash_alg)
        suite = crypto.by_hash_alg(r.hash_alg)
        assert r.seal.split(":")[0] == Sealer(secret, suite=suite).key_id
    assert rows[switch].prev_hash == rows[switch - 1].hash and rows[0].prev_hash == GENESIS
    assert event_hash(*(getattr(rows[switch], f) for f in ("case_id", "seq", "at", "actor", "type", "element_id",
                                                            "data", "prev_hash"))) != rows[switch].hash
    with gm.session_factory() as s:
        assert s.get(Case, case_id).last_hash == rows[-1].hash
    assert gm.runtime.verify(case_id).ok and std.runtime.verify(case_id).ok
    only_sm3 = gm.runtime.start("simple_case", DATA, "registrar").id
    assert {r.hash_alg for r in events(gm, only_sm3)} == {"sm3"}
    assert std.runtime.verify(only_sm3).ok  # switching back to std does not strand SM3 events


def rewrite(container, case_id: int, seq: int, actor: str) -> None:
    """Change who did event `seq` and compute its hash and every later one again with the algorithm each records,
    and the chain head: consistent afterwards, as a careful forger with database access leaves it."""
    with container.session_factory() as s, s.begin():
        prev = GENESIS
        for r in s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id).order_by(JournalEvent.seq)):
            if r.seq == seq:
                r.actor = actor
            r.prev_hash = prev
            r.hash = event_hash(r.case_id, r.seq, r.at, r.actor, r.type, r.element_id, r.data, prev, r.hash_alg)
            prev = r.hash
        s.execute(update(Case).where(Case.id == case_id).values(last_hash=prev))


def test_a_changed_sm3_event_is_caught_by_its_hash_and_a_rewritten_one_by_its_seal(std, gm):
    changed, rewritten, relabelled = (mixed_case(std, gm) for _ in range(3))
    seq = next(r.seq for r in events(gm, changed) if r.hash_alg == "sm3" and r.type == "task.submitted")
    with gm.session_factory() as s, s.begin():
        s.execute(text("update journal_event set data = :d where case_id = :c and seq = :s"),
                  {"d": json.dumps({"forged": True}), "c": changed, "s": seq})
    result = gm.runtime.verify(changed)
    assert not result.ok and result.first_bad_seq == seq and "事件内容与哈希不符" in result.reason

    rewrite(gm, rewritten, seq, actor="bureau")
    assert gm.runtime.verify(rewritten, seals=False).ok  # chain and replay alone are fooled
    for container in (gm, std):
        result = container.runtime.verify(rewritten)
        assert not result.ok and result.first_bad_seq == seq and "封印与内容不符" in result.reason

    with gm.session_factory() as s, s.begin():  # an SM3 event passed off as SHA-256, its hashes made again
        s.execute(text("update journal_event set hash_alg = 'sha256' where case_id = :c and seq = :s"),
                  {"c": relabelled, "s": seq})
    rewrite(gm, relabelled, seq, actor="handler")
    result = gm.runtime.verify(relabelled)
    assert not result.ok and result.first_bad_seq == seq and "事件的封印所用算法与事件记录的算法" in result.reason


def test_events_from_before_sealing_are_sealed_with_their_own_algorithm(std, gm):
    case_id = mixed_case(std, gm)
    with gm.session_factory() as s, s.begin():  # the SHA-256 part as it stood before 0009_journal_seal
        s.execute(text("update journal_event set seal = null where hash_alg = 'sha256'"))
    assert gm.runtime.seal_unsealed(actor="test")["events"] >= 1
    std_key = Sealer(gm.settings.secret_key).key_id
    assert {r.seal.split(":")[0] for r in events(gm, case_id) if r.hash_alg == "sha256"} == {std_key}
    assert gm.runtime.verify(case_id).ok and std.runtime.verify(case_id).ok


def test_codes_repeats_and_numbers_made_under_one_suite_work_under_the_other(std, gm):
    std_desk, gm_desk = Desk(std.extras["app"]), Desk(gm.extras["app"])
    before = std_desk.post("registrar", "/api/cases", PETITION).get_json()
    assert std.runtime.get_case(before["id"]).data["registration"]["query_code_hash"].startswith("hmac-sha256$")
    public = gm.extras["app"].test_client()
    assert public.get(f"/api/public/cases/{before['case_no']}?code={before['query_code']}").status_code == 200
    assert public.get(f"/api/public/cases/{before['case_no']}?code=ZZZZZZZZZZ").status_code == 404

    r = gm_desk.post("registrar", "/api/cases/repeats", ANOTHER)  # same phone and ID, other place and category
    found = {c["case_id"]: c for c in r.get_json()["repeats"]}
    assert before["id"] in found and "同一联系电话" in found[before["id"]]["reasons"]
    gm_key = IndexKey.from_secret_key(gm.settings.secret_key, crypto.GM)
    with gm.session_factory() as s:  # the index now holds HMAC-SM3 digests only
        assert set(s.scalars(select(PetitionerKey.key_id))) == {gm_key.key_id}

    after = gm_desk.post("registrar", "/api/cases", dict(PETITION, title="另一件事")).get_json()
    stored = gm.runtime.get_case(after["id"]).data["registration"]["query_code_hash"]
    assert stored == f"hmac-sm3${gm_key.key_id}${gm_key.digest('query_code', after['query_code'])}"
    assert {r.hash_alg for r in events(gm, after["id"])} == {"sm3"}
    back = std.extras["app"].test_client()  # and back to std: the SM3 case is found by number and code
    assert back.get(f"/api/public/cases/{after['case_no']}?code={after['query_code']}").status_code == 200
    r = std_desk.post("registrar", "/api/cases/repeats", ANOTHER)
    assert {before["id"], after["id"]} <= {c["case_id"] for c in r.get_json()["repeats"]}
    assert std.runtime.verify(after["id"]).ok and gm.runtime.verify(before["id"]).ok


def test_lianxin_audit_verify_passes_mixed_chains_and_names_a_changed_sm3_event(tmp_path, clock):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}

    def run(crypto_setting: str, *args: str):
        return CliRunner().invoke(main, ["audit", "verify", *args], env=dict(env, LIANXIN_CRYPTO=crypto_setting),
                                  catch_exceptions=False)

    assert CliRunner().invoke(main, ["init", "--demo"], env=env, catch_exceptions=False).exit_code == 0
    settings = {"database_url": env["LIANXIN_DATABASE_URL"], "var_dir": tmp_path / "var", "secret_key": ""}
    std, gm = (bootstrap(Settings.from_env(**settings, crypto=name), clock=clock) for name in ("std", "gm"))
    try:
        case_id = mixed_case(std, gm)
        gm.runtime.start("simple_case", DATA, "registrar")  # SM3 only
        with gm.session_factory() as s:
            total = len(s.scalars(select(Case.id)).all())
    finally:
        std.engine.dispose()
        gm.engine.dispose()
    for setting in ("gm", "std"):
        result = run(setting)
        assert result.exit_code == 0 and f"{total}/{total} 个案件校验通过" in result.stdout, result.stdout
    engine = create_engine(env["LIANXIN_DATABASE_URL"])
    with engine.begin() as conn:
        seq = conn.execute(text("select min(seq) from journal_event where case_id = :c and hash_alg = 'sm3'"),
                           {"c": case_id}).scalar_one()
        conn.execute(text("update journal_event set actor = 'someone' where case_id = :c and seq = :s"),
                     {"c": case_id, "s": seq})
    engine.dispose()
    failed = run("gm", str(case_id))
    assert failed.exit_code == 1 and f"案件 {case_id}: 第 {seq} 号事件起校验失败" in failed.stdout


def test_an_unknown_crypto_setting_stops_the_cli_before_it_touches_anything(tmp_path):
    env = {"LIANXIN_VAR_DIR": str(tmp_path / "var"), "LIANXIN_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
           "LIANXIN_CRYPTO": "sm2"}
    with pytest.raises(ValueError, match=r"LIANXIN_CRYPTO must be one of std .*, gm .*, not 'sm2'"):
        CliRunner().invoke(main, ["init"], env=env, catch_exceptions=False)
    assert not (tmp_path / "cli.db").exists()


def test_migration_0012_gives_existing_events_sha256_and_keeps_sm3_events_from_being_stranded(std, gm,
                                                                                             database_url):
    before = std.runtime.start("simple_case", DATA, "registrar").id
    engine = make_engine(database_url)
    cfg = alembic_config()
    try:
        with engine.begin() as conn:  # as the database stood before 0012
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011_sessions_tokens_limits")
            assert "hash_alg" not in {c["name"] for c in inspect(conn).get_columns("journal_event")}
        upgrade(engine)
        assert {r.hash_alg for r in events(std, before)} == {"sha256"} and std.runtime.verify(before).ok
        mixed_case(std, gm)
        with pytest.raises(RuntimeError, match="journal events are not SHA-256"), engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0011_sessions_tokens_limits")
        assert current_revision(engine) == HEAD
    finally:
        engine.dispose()
