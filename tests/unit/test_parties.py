"""services/parties.py: sealing start data into parties, resolving references, and the masked copy when the
parties cannot be opened."""
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from engine.db import Base
from infra.keys import DataKey, KeyProblem, LocalKeyProvider, Vault
from services import parties
from services.store.parties import Party

NOW = datetime(2026, 12, 7, tzinfo=UTC)
PERSON = {"name": "张三", "id_number": "410121199001031234", "phone": "13812345678", "address": "东城县人民路1号",
          "relation": "本人"}


@pytest.fixture
def s():
    engine = create_engine("sqlite://")  # SQLite does not enforce the party's foreign key to its case
    Base.metadata.create_all(engine, tables=[DataKey.__table__, Party.__table__])
    with sessionmaker(engine)() as session, session.begin():
        yield session
    engine.dispose()


def test_start_data_keeps_references_and_masked_values_only(s):
    vault = Vault(LocalKeyProvider((bytes(16),)))
    sealed, plain = parties.seal_start_data(s, vault, {"title": "t", "petitioners": [PERSON]}, NOW)
    first = sealed["petitioner"]
    assert sealed["petitioners"] == [first] and sealed[parties.REFS] == [first[parties.REF]]
    assert first["phone"] == "138****5678" and first["name"] == "张*" and first["relation"] == "本人"
    assert PERSON["id_number"] not in repr(sealed) and PERSON["address"] not in repr(sealed)
    s.flush()
    for party in s.query(Party):
        party.case_id = None  # not attached yet: resolve by the plain mapping, as the index does
    assert parties.resolve(sealed, plain)["petitioner"]["id_number"] == PERSON["id_number"]
    resolved = parties.resolve([{"x": sealed}], plain)
    assert resolved[0]["x"]["petitioners"][0]["address"] == PERSON["address"]


def test_unopenable_parties_leave_the_masked_copy(s, monkeypatch):
    vault = Vault(LocalKeyProvider((bytes(16),)))
    sealed, _ = parties.seal_start_data(s, vault, {"petitioners": [PERSON]}, NOW)
    s.flush()
    s.query(Party).update({Party.case_id: 7})
    other = Vault(LocalKeyProvider((bytes(range(16)),)))  # another office's master key
    with pytest.raises(KeyProblem):
        parties.case_parties(s, other, 7)
    assert parties.resolve_case(s, other, 7, sealed) == sealed
    assert parties.resolve_case(s, vault, 7, sealed)["petitioner"]["phone"] == PERSON["phone"]
