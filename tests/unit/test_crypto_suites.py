"""The cryptographic suites (engine/crypto.py, LIANXIN_CRYPTO): SM3 gives the standard's answers, HMAC-SM3 is
HMAC over SM3, an unknown setting is refused naming the allowed values, and what one suite made (seals, query
codes, case numbers) is still recognised after the suite is changed."""
from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes

from engine import crypto
from engine.journal import Sealer, event_hash
from services import case_numbers as numbering, query_code
from services.index_key import IndexKey
from web.settings import Settings

PREFIX = "4101212026030201"
AT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_sm3_known_answers():
    # GB/T 32905-2016, appendix A: "abc" and "abcd" repeated 16 times
    assert crypto.GM.hash_hex(b"abc") == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert crypto.GM.hash_hex(b"abcd" * 16) == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    assert crypto.STD.hash_hex(b"abc") == hashlib.sha256(b"abc").hexdigest()


def _sm3(data: bytes) -> bytes:
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def test_hmac_sm3_is_hmac_over_sm3_and_hmac_sha256_is_unchanged():
    key, message = b"k" * 20, b"lianxin journal seal"
    padded = key.ljust(64, b"\0")  # RFC 2104 with SM3's 64-byte block
    inner = _sm3(bytes(b ^ 0x36 for b in padded) + message)
    assert crypto.GM.hmac(key, message) == _sm3(bytes(b ^ 0x5C for b in padded) + inner)
    assert crypto.STD.hmac(key, message) == hmac.new(key, message, hashlib.sha256).digest()
    assert crypto.GM.mac_scheme == "hmac-sm3" and crypto.STD.mac_scheme == "hmac-sha256"


def test_each_suite_derives_its_own_key_with_its_own_fingerprint():
    std, gm = (s.derive("secret", b"label") for s in (crypto.STD, crypto.GM))
    assert std != gm and len(std) == len(gm) == 32
    assert crypto.STD.fingerprint(std) != crypto.GM.fingerprint(gm)
    assert len(crypto.GM.fingerprint(gm)) == 16


def test_an_unknown_setting_is_refused_naming_the_allowed_values(monkeypatch, tmp_path):
    monkeypatch.setenv("LIANXIN_CRYPTO", "sm4")
    with pytest.raises(ValueError, match=r"LIANXIN_CRYPTO must be one of std \(SHA-256 / HMAC-SHA256\), "
                                         r"gm \(SM3 / HMAC-SM3\), not 'sm4'"):
        Settings.from_env(var_dir=tmp_path, secret_key="s")
    for value, suite in (("gm", crypto.GM), ("std", crypto.STD), ("", crypto.STD)):
        monkeypatch.setenv("LIANXIN_CRYPTO", value)
        assert Settings.from_env(var_dir=tmp_path, secret_key="s").crypto_suite is suite
    monkeypatch.delenv("LIANXIN_CRYPTO")
    assert Settings.from_env(var_dir=tmp_path, secret_key="s").crypto == "std"  # the default
    with pytest.raises(ValueError, match="LIANXIN_CRYPTO must be one of"):
        Settings.from_env(var_dir=tmp_path, secret_key="s", crypto="GM ")  # no guessing at near misses


def test_event_hashes_use_the_recorded_algorithm():
    args = (7, 3, AT, "handler", "task.submitted", "Task_a", "{}", "0" * 64)
    sha, sm3 = event_hash(*args), event_hash(*args, "sm3")
    assert event_hash(*args, "sha256") == sha and sha != sm3 and len(sm3) == 64
    with pytest.raises(ValueError):
        event_hash(*args, "md5")


def test_a_sealer_seals_with_its_suite_and_checks_seals_of_either():
    gm, std = Sealer("secret", suite=crypto.GM), Sealer("secret")
    h = "ab" * 32
    assert gm.key_id != std.key_id and "secret" not in repr(gm)
    for sealer in (gm, std):  # whichever suite is chosen now, both kinds of seal verify
        assert sealer.problem(h, gm.seal(h, "sm3"), "sm3") is None
        assert sealer.problem(h, std.seal(h, "sha256"), "sha256") is None
        assert sealer.problem(h, std.seal(h), None) is None
    assert gm.seal(h, "sm3").startswith(gm.key_id + ":")
    assert "封印与内容不符" in gm.problem("cd" * 32, gm.seal(h, "sm3"), "sm3")
    relabelled = gm.problem(h, gm.seal(h, "sm3"), "sha256")  # an SM3 event passed off as SHA-256
    assert "算法" in relabelled and "another algorithm" in relabelled
    assert "LIANXIN_PREVIOUS_SECRET_KEYS" in Sealer("other", suite=crypto.GM).problem(h, gm.seal(h, "sm3"), "sm3")


def test_query_codes_record_their_suite_and_open_after_a_switch_either_way():
    std, gm = IndexKey.from_secret_key("secret"), IndexKey.from_secret_key("secret", crypto.GM)
    code, under_std = query_code.issue(std)
    gm_code, under_gm = query_code.issue(gm)
    assert under_std.startswith("hmac-sha256$") and under_gm.startswith(f"hmac-sm3${gm.key_id}$")
    for key in (std, gm):
        assert query_code.matches(code, under_std, key) and query_code.matches(gm_code, under_gm, key)
        assert query_code.check(code, {"query_code_hash": under_std}, key)
        assert query_code.check(gm_code.lower(), {"registration": {"query_code_hash": under_gm}}, key)
        assert not query_code.check(code, {"query_code_hash": under_gm}, key)
        assert not query_code.check(code, None, key)
    other = IndexKey.from_secret_key("another deployment", crypto.GM)
    assert not query_code.matches(gm_code, under_gm, other) and not query_code.matches(code, under_std, other)
    assert not query_code.matches(gm_code, under_gm, IndexKey(gm.secret))  # a bare key of the other suite
    assert not query_code.matches(gm_code, under_gm)  # useless without the key


def test_index_digests_differ_per_suite_so_a_switch_rekeys():
    std, gm = IndexKey.from_secret_key("secret"), IndexKey.from_secret_key("secret", crypto.GM)
    assert std.key_id != gm.key_id and std.digest("phone", "13812345678") != gm.digest("phone", "13812345678")
    assert gm.under(crypto.STD) == std and std.under(crypto.GM) == gm and "secret" not in repr(gm)


def test_case_numbers_follow_the_suite_and_numbers_of_either_are_found():
    std, gm = numbering.key_from_secret("secret"), numbering.key_from_secret("secret", crypto.GM)
    for n in (0, 1, 12345, 99_999):
        assert numbering.unpermute(numbering.permute(n, gm), gm) == n
    assert [numbering.serial(PREFIX, i, gm) for i in range(1, 6)] != \
        [numbering.serial(PREFIX, i, std) for i in range(1, 6)]
    keys = numbering.keys_for("secret")
    for key in (std, gm):
        number = "XF" + PREFIX + numbering.serial(PREFIX, 250_042, key)
        assert 250_042 in numbering.candidate_ids(number, keys, 300_000)
    assert "secret" not in repr(gm)


def test_docs_security_says_what_the_setting_does():
    text = (Path(__file__).resolve().parents[2] / "docs" / "security.md").read_text(encoding="utf-8")
    section = text[text.index("## 国密算法 (SM3)"):]
    section = section[:section.index("\n## ")]
    with pytest.raises(ValueError) as refused:
        crypto.suite("…")
    assert str(refused.value) in section.replace("\n", " ")
    for promise in ("`hmac-sm3$<key id>$<digest>`", "0012_journal_algorithm", "journal_event.hash_alg", "SM2",
                    "codes issued before the switch keep working", "lianxin audit verify"):
        assert promise in section
