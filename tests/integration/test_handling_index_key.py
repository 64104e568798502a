"""The repeat index keeps petitioners' ID numbers and phones only as keyed digests (HMAC-SHA256 with a key
derived from the deployment's secret key): a stolen database does not give them away by brute force, and a
changed secret key, or digests from before keying, are recomputed by the next repeat search. Both databases."""
from __future__ import annotations

import hashlib
import hmac

from sqlalchemy import select, update

from services import registration as reg
from services.index_key import IndexKey
from services.store.handling import PetitionerKey

from .test_handling_api import PETITION, app, desk  # noqa: F401  (fixtures)

PHONE, ID_NUMBER = "13812345678", "410121199001031234"
ANOTHER = dict(PETITION, title="再次反映工资问题", location="county_b", category="城乡建设", subcategory=None,
               request="仍未拿到工资")


def _rows(container, case_id=None, kinds=("id", "phone")):
    """The repeat keys (ID number, phone); the case search's name digests are asked for with `kinds`."""
    with container.session_factory() as s:
        q = select(PetitionerKey).where(PetitionerKey.kind.in_(kinds))
        if case_id is not None:
            q = q.where(PetitionerKey.case_id == case_id)
        return [(r.case_id, r.kind, r.digest, r.key_id) for r in s.scalars(q)]


def _unkeyed_guesses(value: str, kind: str) -> set[str]:
    """What an attacker with the database but not the key would try."""
    return {hashlib.sha256(x.encode()).hexdigest() for x in
            (value, f"{kind}:{value}", f"lianxin-petitioner:{kind}:{value}", f"+86{value}")}


def test_digests_are_hmac_with_the_deployments_key(desk, container):
    case = desk.post("registrar", "/api/cases", PETITION).get_json()
    rows = _rows(container, case["id"])
    key = IndexKey.from_secret_key(container.settings.secret_key)
    assert {(kind, key_id) for _, kind, _, key_id in rows} == {("id", key.key_id), ("phone", key.key_id)}
    by_kind = {kind: digest for _, kind, digest, _ in rows}
    derived = hmac.new(container.settings.secret_key.encode(), b"lianxin petitioner index v1", hashlib.sha256).digest()
    assert by_kind["phone"] == hmac.new(derived, f"phone:{PHONE}".encode(), hashlib.sha256).hexdigest()
    assert by_kind["id"] == hmac.new(derived, f"id:{ID_NUMBER}".encode(), hashlib.sha256).hexdigest()
    names = _rows(container, kinds=("name",))
    assert [(kind, digest) for _, kind, digest, _ in names] == [
        ("name", hmac.new(derived, f"name:{PETITION['petitioners'][0]['name']}".encode(), hashlib.sha256).hexdigest())]
    assert by_kind["phone"] not in _unkeyed_guesses(PHONE, "phone")
    assert by_kind["id"] not in _unkeyed_guesses(ID_NUMBER, "id")
    # the key itself is nowhere in the database: a digest made with another key does not match
    assert IndexKey.from_secret_key("another-deployment").digest("phone", PHONE) != by_kind["phone"]


def test_a_changed_secret_key_rekeys_the_index_and_repeats_are_still_found(desk, container):
    first = desk.post("registrar", "/api/cases", PETITION).get_json()
    old = IndexKey.from_secret_key(container.settings.secret_key)
    container.settings.secret_key = "rotated-secret-key"
    new = IndexKey.from_secret_key(container.settings.secret_key)
    assert new.key_id != old.key_id
    r = desk.post("registrar", "/api/cases/repeats", ANOTHER)  # same phone and ID, other place and category
    found = {c["case_id"]: c for c in r.get_json()["repeats"]}
    assert first["id"] in found and "同一联系电话" in found[first["id"]]["reasons"]
    rows = _rows(container)
    assert rows and {key_id for *_, key_id in rows} == {new.key_id}
    assert {d for _, _, d, _ in rows} == {new.digest("id", ID_NUMBER), new.digest("phone", PHONE)}


def test_unkeyed_digests_from_before_the_upgrade_are_replaced(desk, container):
    first = desk.post("registrar", "/api/cases", PETITION).get_json()
    with container.session_factory() as s, s.begin():  # as migration 0007 leaves an old index
        for kind, value in (("id", ID_NUMBER), ("phone", PHONE)):
            s.execute(update(PetitionerKey).where(PetitionerKey.case_id == first["id"], PetitionerKey.kind == kind)
                      .values(key_id=None, digest=hashlib.sha256(f"lianxin-petitioner:{kind}:{value}".encode())
                              .hexdigest()))
    reg._REKEYED.clear()  # a process started after the upgrade
    r = desk.post("registrar", "/api/cases/repeats", ANOTHER)
    assert first["id"] in {c["case_id"] for c in r.get_json()["repeats"]}
    key = IndexKey.from_secret_key(container.settings.secret_key)
    assert sorted(_rows(container, first["id"])) == sorted([
        (first["id"], "id", key.digest("id", ID_NUMBER), key.key_id),
        (first["id"], "phone", key.digest("phone", PHONE), key.key_id)])
    # nothing stale is left, so the next search does not look again
    assert reg.rekey(container.session_factory, container.runtime, key) == 0


def test_rekey_goes_through_every_case_batch_by_batch(desk, container):
    ids = [desk.post("registrar", "/api/cases", dict(PETITION, petitioners=[dict(PETITION["petitioners"][0],
                                                                              phone=f"1391234567{i}")])).get_json()["id"]
           for i in range(3)]
    container.settings.secret_key = "rotated-again"
    key = IndexKey.from_secret_key(container.settings.secret_key)
    assert reg.rekey(container.session_factory, container.runtime, key, batch=1) == 3
    rows = _rows(container)
    assert {r[0] for r in rows} == set(ids) and {r[3] for r in rows} == {key.key_id}
    assert {r[2] for r in rows if r[1] == "phone"} == {key.digest("phone", f"1391234567{i}") for i in range(3)}
