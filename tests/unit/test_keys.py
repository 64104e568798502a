"""Keys for personal data at rest (infra/keys.py): SM4-GCM fields under wrapped data keys, rotation, refusals."""
import base64
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from engine.db import Base
from infra import keys
from infra.keys import DataKey, KeyProblem, LocalKeyProvider, Vault

NOW = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
K1, K2 = bytes(range(16)), bytes(range(16, 32))


@pytest.fixture
def sessions():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine, tables=[DataKey.__table__])
    yield sessionmaker(engine)
    engine.dispose()


def test_field_round_trip_and_nothing_plain(sessions):
    vault = Vault(LocalKeyProvider((K1,)))
    with sessions() as s, s.begin():
        ref = vault.new_data_key(s, NOW)
        sealed = vault.seal(s, ref, "party-1", "id_number", "410121199001031234")
    assert sealed.startswith(keys.SEALED_PREFIX) and "1234" not in sealed
    with sessions() as s:
        row = s.get(DataKey, ref)
        assert row.master_key_id == keys.key_id_of(K1) and K1.hex() not in row.wrapped
        fresh = Vault(LocalKeyProvider((K1,)))  # opens from the stored, wrapped data key
        assert fresh.open(s, ref, "party-1", "id_number", sealed) == "410121199001031234"


def test_tampering_and_moving_a_field_are_detected(sessions):
    vault = Vault(LocalKeyProvider((K1,)))
    with sessions() as s, s.begin():
        ref = vault.new_data_key(s, NOW)
        sealed = vault.seal(s, ref, "party-1", "phone", "13812345678")
        raw = bytearray(base64.b64decode(sealed[len(keys.SEALED_PREFIX):]))
        raw[14] ^= 1
        tampered = keys.SEALED_PREFIX + base64.b64encode(bytes(raw)).decode()
        with pytest.raises(KeyProblem):
            vault.open(s, ref, "party-1", "phone", tampered)
        with pytest.raises(KeyProblem):  # the same value presented as another party's, or another field
            vault.open(s, ref, "party-2", "phone", sealed)
        with pytest.raises(KeyProblem):
            vault.open(s, ref, "party-1", "address", sealed)


def test_wrong_master_key_is_refused(sessions):
    with sessions() as s, s.begin():
        ref = Vault(LocalKeyProvider((K1,))).new_data_key(s, NOW)
    with sessions() as s:
        with pytest.raises(KeyProblem, match="LIANXIN_PREVIOUS_MASTER_KEYS"):
            Vault(LocalKeyProvider((K2,))).data_key(s, ref)
        row = s.get(DataKey, ref)
        with pytest.raises(KeyProblem):  # a forged id does not help either
            LocalKeyProvider((K2,)).unwrap(keys.key_id_of(K2), base64.b64decode(row.wrapped), b"x")


def test_rotation_rewraps_every_data_key_while_the_old_key_still_opens(sessions):
    old = Vault(LocalKeyProvider((K1,)))
    with sessions() as s, s.begin():
        refs = [old.new_data_key(s, NOW) for _ in range(5)]
        sealed = old.seal(s, refs[0], "p", "name", "张三")
    both = LocalKeyProvider((K2, K1))  # new current, old previous: everything keeps opening meanwhile
    with sessions() as s:
        assert Vault(both).open(s, refs[0], "p", "name", sealed) == "张三"
    result = keys.rotate(sessions, both, NOW, batch=2)
    assert (result.rewrapped, result.remaining) == (5, 0)
    with sessions() as s:
        assert {r.master_key_id for r in s.query(DataKey)} == {keys.key_id_of(K2)}
        assert Vault(LocalKeyProvider((K2,))).open(s, refs[0], "p", "name", sealed) == "张三"  # old key retired
    assert keys.rotate(sessions, both, NOW).rewrapped == 0


def test_master_key_from_the_environment_is_typed(tmp_path):
    text = base64.b64encode(K1).decode()
    assert keys.provider_from_env({keys.MASTER_KEY: text}).current_id == keys.key_id_of(K1)
    (tmp_path / "mk").write_text(text + "\n")
    assert keys.provider_from_env({keys.MASTER_KEY_FILE: str(tmp_path / "mk")}).current_id == keys.key_id_of(K1)
    with pytest.raises(KeyProblem, match="LIANXIN_MASTER_KEY"):
        keys.provider_from_env({keys.MASTER_KEY: "not base64!"})
    with pytest.raises(KeyProblem, match="16"):
        keys.provider_from_env({keys.MASTER_KEY: base64.b64encode(b"short").decode()})
    with pytest.raises(KeyProblem, match="one of them"):
        keys.provider_from_env({keys.MASTER_KEY: text, keys.MASTER_KEY_FILE: str(tmp_path / "mk")})
    with pytest.raises(KeyProblem, match="LIANXIN_MASTER_KEY_FILE"):
        keys.provider_from_env({keys.MASTER_KEY_FILE: str(tmp_path / "missing")})
    generated = keys.provider_from_env({}, tmp_path / "var")
    assert keys.provider_from_env({}, tmp_path / "var").current_id == generated.current_id
    assert (tmp_path / "var" / "master_key").stat().st_mode & 0o777 == 0o600
    prev = keys.provider_from_env({keys.MASTER_KEY: base64.b64encode(K2).decode(), keys.PREVIOUS_MASTER_KEYS: text})
    assert prev.known_ids() == {keys.key_id_of(K1), keys.key_id_of(K2)} and "K" not in repr(prev)[:0]
