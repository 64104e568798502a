"""Keys for personal data at rest: a master key outside the database, data keys inside it (wrapped), and fields
sealed with SM4-GCM (GB/T 32907-2016, from `cryptography`, never written by hand here).

Three layers, as a key custodian expects them:

- The **master key** (密钥加密密钥) never enters the database. It comes from the environment: LIANXIN_MASTER_KEY (16
  bytes, base64) or LIANXIN_MASTER_KEY_FILE (a file holding that base64 text), and during a rotation the keys
  it replaces in LIANXIN_PREVIOUS_MASTER_KEYS (base64, separated by spaces). Anything malformed is refused with
  the variable's name. Without either variable a key is generated once into `var/master_key` (like the secret
  key), which suits a demo and tests, not an office: docs/data-protection.md says who keeps the key.
  `KeyProvider` is the port: it wraps and unwraps data keys and never hands the master key out, so a hardware
  security module or a KMS can implement it later without any change above it.
- **Data keys** (数据加密密钥): one per case file (a random 16-byte SM4 key), stored in `data_key` only wrapped by
  the master key (SM4-GCM, the data key's reference as associated data), with the id of the master key that
  wrapped it. Erasing a case's personal data for good is deleting its data key.
- **Fields**: each personal field of a party is sealed on its own with SM4-GCM under its case file's data key,
  with a fresh 96-bit nonce and associated data naming the key, the party and the field, so a sealed value
  copied to another party, case or field does not open.

Rotation (`rotate`): with the new master key current and the old one still listed as previous, every data key
is re-wrapped under the new key in small transactions. Nothing stops meanwhile: each data key names the master
key that wrapped it, and the provider opens with either, so sealed fields are never touched.
"""
from __future__ import annotations

import base64
import binascii
import os
import secrets
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from engine.db import Base
from engine.store import UTC_DT

from . import security_log

MASTER_KEY = "LIANXIN_MASTER_KEY"
MASTER_KEY_FILE = "LIANXIN_MASTER_KEY_FILE"
PREVIOUS_MASTER_KEYS = "LIANXIN_PREVIOUS_MASTER_KEYS"
KEY_BYTES = 16  # SM4 keys are 128 bits
NONCE_BYTES = 12
OPEN_KEYS_HELD = 4096
SEALED_PREFIX = "sm4gcm1$"  # a sealed field: the scheme, then base64(nonce | ciphertext | tag)


class KeyProblem(ValueError):
    """A key that is missing, malformed or does not open what it is asked to open."""


def sm4_gcm_seal(key: bytes, plain: bytes, associated: bytes) -> bytes:
    nonce = secrets.token_bytes(NONCE_BYTES)
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(associated)
    body = enc.update(plain) + enc.finalize()
    return nonce + body + enc.tag


def sm4_gcm_open(key: bytes, sealed: bytes, associated: bytes) -> bytes:
    if len(sealed) < NONCE_BYTES + 16:
        raise KeyProblem("密文过短（sealed value too short）")
    nonce, body, tag = sealed[:NONCE_BYTES], sealed[NONCE_BYTES:-16], sealed[-16:]
    dec = Cipher(algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(associated)
    try:
        return dec.update(body) + dec.finalize()
    except InvalidTag as err:
        raise KeyProblem("密文校验失败：密钥不对或密文被改动（wrong key, or the sealed value was altered）") from err


def key_id_of(key: bytes) -> str:
    """A short id of a master key (SM3 of a label and the key); tells nothing about the key."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"lianxin master key id|" + key)
    return digest.finalize().hex()[:16]


# ---------------------------------------------------------------- the port and the local adapter

class KeyProvider(Protocol):
    """Wraps and unwraps data keys under a master key it never hands out (a key file today, an HSM or KMS later)."""

    @property
    def current_id(self) -> str: ...

    def known_ids(self) -> frozenset[str]: ...

    def wrap(self, data_key: bytes, associated: bytes) -> tuple[str, bytes]:
        """(id of the master key used, the wrapped data key) under the current master key."""

    def unwrap(self, master_key_id: str, wrapped: bytes, associated: bytes) -> bytes:
        """The data key, if `master_key_id` is one this provider holds; else KeyProblem."""


@dataclass(frozen=True)
class LocalKeyProvider:
    """Master keys held in memory, read from the environment or a key file: the current one first."""
    keys: tuple[bytes, ...]

    def __post_init__(self):
        if not self.keys:
            raise KeyProblem("没有主密钥（no master key）")
        for k in self.keys:
            if not isinstance(k, bytes) or len(k) != KEY_BYTES:
                raise KeyProblem(f"主密钥必须是 {KEY_BYTES} 字节（an SM4 master key has {KEY_BYTES} bytes）")

    @property
    def current_id(self) -> str:
        return key_id_of(self.keys[0])

    def known_ids(self) -> frozenset[str]:
        return frozenset(key_id_of(k) for k in self.keys)

    def wrap(self, data_key: bytes, associated: bytes) -> tuple[str, bytes]:
        return self.current_id, sm4_gcm_seal(self.keys[0], data_key, associated)

    def unwrap(self, master_key_id: str, wrapped: bytes, associated: bytes) -> bytes:
        key = next((k for k in self.keys if key_id_of(k) == master_key_id), None)
        if key is None:
            raise KeyProblem(f"数据密钥由主密钥 {master_key_id} 包装，但未配置该主密钥"
                            f"（data key wrapped by master key {master_key_id}, which is not configured: set it "
                            f"in {PREVIOUS_MASTER_KEYS} until `lianxin keys rotate` has finished）")
        return sm4_gcm_open(key, wrapped, associated)

    def __repr__(self) -> str:  # never print a key
        return f"LocalKeyProvider(current={self.current_id}, keys={len(self.keys)})"


def parse_master_key(text: str, where: str) -> bytes:
    """A master key from its base64 text; anything else is refused naming `where` (the variable or the file)."""
    try:
        raw = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as err:
        raise KeyProblem(f"{where} 不是有效的 base64（{where} must be base64 of {KEY_BYTES} bytes）") from err
    if len(raw) != KEY_BYTES:
        raise KeyProblem(f"{where} 解码后为 {len(raw)} 字节，SM4 主密钥应为 {KEY_BYTES} 字节"
                        f"（{where} must decode to {KEY_BYTES} bytes, not {len(raw)}）")
    return raw


def new_master_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def provider_from_env(environ: Mapping[str, str] | None = None, var_dir: Path | None = None) -> LocalKeyProvider:
    """The master keys the environment names (see the module's docstring); `var_dir/master_key` when it names none."""
    env = os.environ if environ is None else environ
    if env.get(MASTER_KEY) and env.get(MASTER_KEY_FILE):
        raise KeyProblem(f"{MASTER_KEY} 与 {MASTER_KEY_FILE} 只能设置一个（set one of them, not both）")
    if env.get(MASTER_KEY):
        current = parse_master_key(env[MASTER_KEY], MASTER_KEY)
    elif env.get(MASTER_KEY_FILE):
        path = Path(env[MASTER_KEY_FILE])
        try:
            text = path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as err:
            raise KeyProblem(f"{MASTER_KEY_FILE}: 无法读取密钥文件（cannot read the key file: {err}）") from err
        current = parse_master_key(text, f"{MASTER_KEY_FILE} ({path.name})")
    else:
        current = _stored_master_key(var_dir)
    previous = tuple(parse_master_key(t, PREVIOUS_MASTER_KEYS) for t in env.get(PREVIOUS_MASTER_KEYS, "").split())
    return LocalKeyProvider((current, *[k for k in previous if k != current]))


def _stored_master_key(var_dir: Path | None) -> bytes:
    if var_dir is None:
        raise KeyProblem(f"未配置主密钥（set {MASTER_KEY} or {MASTER_KEY_FILE}）")
    path = Path(var_dir) / "master_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(new_master_key_text() + "\n")
    return parse_master_key(path.read_text(encoding="ascii"), str(path.name))


# ---------------------------------------------------------------- data keys

class DataKey(Base):
    """One case file's data key, wrapped by the master key `master_key_id`; `ref` is what sealed fields name."""
    __tablename__ = "data_key"
    ref: Mapped[str] = mapped_column(String(36), primary_key=True)
    master_key_id: Mapped[str] = mapped_column(String(16), index=True)
    wrapped: Mapped[str] = mapped_column(Text)  # base64(nonce | wrapped key | tag)
    created_at: Mapped[datetime] = mapped_column(UTC_DT)
    rewrapped_at: Mapped[datetime | None] = mapped_column(UTC_DT, nullable=True)


def _wrap_ad(ref: str) -> bytes:
    return f"lianxin data key v1|{ref}".encode()


def _field_ad(key_ref: str, owner: str, name: str) -> bytes:
    return f"lianxin field v1|{key_ref}|{owner}|{name}".encode()


@dataclass
class Vault:
    """Seals and opens personal fields with data keys kept in `data_key`, through a KeyProvider."""
    provider: KeyProvider
    _open_keys: dict[str, bytes] = field(default_factory=dict, repr=False)

    def new_data_key(self, s: Session, now: datetime) -> str:
        """A fresh data key, stored wrapped in the session's transaction; returns its reference."""
        row = self.new_data_key_row(now)
        s.add(row)
        return row.ref

    def new_data_key_row(self, now: datetime) -> DataKey:
        """`new_data_key`'s row, for a caller that adds it to its session itself (with the rows sealed under it);
        the key seals at once."""
        ref = str(uuid.uuid4())
        key = secrets.token_bytes(KEY_BYTES)
        master_id, wrapped = self.provider.wrap(key, _wrap_ad(ref))
        self._remember(ref, key)
        return DataKey(ref=ref, master_key_id=master_id, wrapped=base64.b64encode(wrapped).decode("ascii"),
                       created_at=now)

    def data_key(self, s: Session, ref: str) -> bytes:
        key = self._open_keys.get(ref)
        if key is None:
            row = s.get(DataKey, ref)
            if row is None:
                raise KeyProblem(f"数据密钥 {ref} 不存在（已销毁或从未创建）（no data key {ref}: erased, or never made）")
            key = self.provider.unwrap(row.master_key_id, base64.b64decode(row.wrapped), _wrap_ad(ref))
            self._remember(ref, key)
        return key

    def _remember(self, ref: str, key: bytes) -> None:
        if len(self._open_keys) >= OPEN_KEYS_HELD:  # a long-running process keeps only recent keys unwrapped
            self._open_keys.clear()
        self._open_keys[ref] = key

    def seal(self, s: Session, key_ref: str, owner: str, name: str, value: str | None) -> str | None:
        """`value` sealed for field `name` of `owner` (a party's reference) under data key `key_ref`."""
        if value is None or value == "":
            return None
        sealed = sm4_gcm_seal(self.data_key(s, key_ref), str(value).encode("utf-8"), _field_ad(key_ref, owner, name))
        return SEALED_PREFIX + base64.b64encode(sealed).decode("ascii")

    def open(self, s: Session, key_ref: str, owner: str, name: str, sealed: str | None) -> str | None:
        if not sealed:
            return None
        if not sealed.startswith(SEALED_PREFIX):
            raise KeyProblem(f"字段 {name} 不是已加密的值（field {name} is not a sealed value）")
        raw = base64.b64decode(sealed[len(SEALED_PREFIX):])
        return sm4_gcm_open(self.data_key(s, key_ref), raw, _field_ad(key_ref, owner, name)).decode("utf-8")

    def seal_bytes(self, s: Session, key_ref: str, owner: str, content: bytes) -> bytes:
        """`content` (an attachment) sealed under data key `key_ref` for `owner`: nonce | ciphertext | tag."""
        return sm4_gcm_seal(self.data_key(s, key_ref), content, _field_ad(key_ref, owner, "content"))

    def open_bytes(self, s: Session, key_ref: str, owner: str, sealed: bytes) -> bytes:
        return sm4_gcm_open(self.data_key(s, key_ref), sealed, _field_ad(key_ref, owner, "content"))

    def forget(self) -> None:
        """Drop the unwrapped keys held in memory (after a rotation, or at the end of a batch job)."""
        self._open_keys.clear()


@dataclass(frozen=True)
class Rotation:
    rewrapped: int
    remaining: int
    current_id: str


def rotate(session_factory: Callable[[], Session], provider: KeyProvider, now: datetime,
           batch: int = 200) -> Rotation:
    """Re-wrap every data key not wrapped by the current master key, `batch` keys per transaction; what is in
    use meanwhile keeps opening (each key names its master key, and the provider holds the old one too)."""
    done = 0
    while True:
        with session_factory() as s, s.begin():
            rows = list(s.scalars(select(DataKey).where(DataKey.master_key_id != provider.current_id)
                                  .order_by(DataKey.ref).limit(batch).with_for_update(skip_locked=True)))
            for row in rows:
                key = provider.unwrap(row.master_key_id, base64.b64decode(row.wrapped), _wrap_ad(row.ref))
                master_id, wrapped = provider.wrap(key, _wrap_ad(row.ref))
                row.master_key_id, row.wrapped = master_id, base64.b64encode(wrapped).decode("ascii")
                row.rewrapped_at = now
        done += len(rows)
        if len(rows) < batch:
            break
    with session_factory() as s:
        remaining = len(s.scalars(select(DataKey.ref).where(DataKey.master_key_id != provider.current_id)).all())
    return Rotation(done, remaining, provider.current_id)


def record(session_factory: Callable[[], Session], now: datetime, actor: str, **detail) -> None:
    """A key-management step in the security log (which key ids, how many keys; never a key)."""
    with session_factory() as s, s.begin():
        security_log.append_in(s, at=now, actor=actor, kind="key_management", detail=detail)
