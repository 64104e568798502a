"""Issue #23, points 1 and 2: a registered petitioner's ID number, phone, address and name appear nowhere in plain
text: not in the database file, a pg_dump, the journal or a `lianxin backup`; yet the registrar reads them in
full, a repeat search by ID number or by phone still finds the case, and the journal still verifies. Both
databases."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from engine.store import JournalEvent
from infra import keys
from infra.security_log import SecurityEvent
from services import parties
from services.store.parties import Party
from web.cli.main import main
from web.cli.ops import _pg_env

from .test_handling_api import PETITION, app, desk  # noqa: F401  (fixtures)

PERSON = {"name": "欧阳明远", "id_number": "11010519880608731X", "phone": "13687654321",
          "address": "东城县幸福路88号3单元502室"}
SECRET = dict(PETITION, petitioners=[PERSON], location="county_b")


def _forms(value: str) -> list[bytes]:
    """The ways a value could sit in a file: UTF-8, JSON-escaped ASCII, UTF-16 (a careless export)."""
    out = {value.encode("utf-8"), json.dumps(value).strip('"').encode("ascii"), value.encode("utf-16-le")}
    return sorted(out)


def _leaks(blob: bytes) -> list[str]:
    return [f"{field}={value}" for field, value in PERSON.items() for form in _forms(value) if form in blob]


def _env(container) -> dict:
    return {"LIANXIN_DATABASE_URL": container.settings.database_url, "LIANXIN_VAR_DIR": str(container.settings.var_dir),
            "LIANXIN_SECRET_KEY": container.settings.secret_key, "LIANXIN_MASTER_KEY": container.settings.master_key}


def _register(desk) -> int:
    r = desk.post("registrar", "/api/cases", SECRET)
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_personal_data_is_sealed_everywhere_at_rest(desk, container, tmp_path):
    case_id = _register(desk)
    # the registrar reads the petitioner in full (resolved from the party table)
    shown = desk.get("registrar", f"/api/cases/{case_id}").get_json()
    assert shown["data"]["petitioner"]["phone"] == PERSON["phone"]
    assert shown["data"]["petitioners"][0]["id_number"] == PERSON["id_number"]
    # an attachment (a copy of the ID card) is sealed under the same case's data key, and downloads as it was
    client, headers = desk.client("registrar")
    scan = f"身份证复印件 {PERSON['id_number']} {PERSON['address']}".encode()
    r = client.post(f"/api/cases/{case_id}/attachments", headers=headers, content_type="multipart/form-data",
                    data={"file": (io.BytesIO(scan), "id.txt", "text/plain")})
    assert r.status_code == 201, r.get_json()
    assert client.get(f"/api/cases/{case_id}/attachments/{r.get_json()['id']}").data == scan
    with container.session_factory() as s:
        [party] = s.scalars(select(Party).where(Party.case_id == case_id)).all()
        assert party.phone_sealed.startswith(keys.SEALED_PREFIX)
        journal = "\n".join(e.data for e in s.scalars(select(JournalEvent).where(JournalEvent.case_id == case_id)))
    assert not _leaks(journal.encode("utf-8")), "the journal holds plain personal data"
    assert party.ref in journal  # it carries the reference instead
    assert container.runtime.verify(case_id).ok
    # the whole database as stored
    url = container.settings.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[1]
        container.engine.dispose()  # WAL checkpointed into the file
        blob = b"".join(Path(p).read_bytes() for p in (path, path + "-wal") if os.path.exists(p))
    else:
        if not shutil.which("pg_dump"):
            pytest.skip("pg_dump not installed")
        blob = subprocess.run(["pg_dump", "--format=plain"], env=_pg_env(url), capture_output=True,
                              check=True).stdout
        assert b"CREATE TABLE public.party" in blob
    assert not _leaks(blob), "the database holds plain personal data"
    # and the operator's backup of it
    backup = tmp_path / "backup.bin"
    result = CliRunner().invoke(main, ["backup", str(backup)], env=_env(container), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert backup.stat().st_size > 0 and not _leaks(backup.read_bytes())


def test_search_by_id_number_or_phone_still_finds_the_case(desk, container):
    case_id = _register(desk)
    by_id = dict(PETITION, title="另一件事", location="county_a", category="城乡建设", subcategory=None,
                 request="别的请求", petitioners=[{"name": "某人", "id_number": PERSON["id_number"].lower()}])
    by_phone = dict(by_id, petitioners=[{"name": "某人", "phone": "+86 136 8765 4321"}])
    for form in (by_id, by_phone):
        found = desk.post("registrar", "/api/cases/repeats", form).get_json()["repeats"]
        assert case_id in {c["case_id"] for c in found}, form


def test_a_rotated_master_key_keeps_every_party_readable(desk, container, tmp_path):
    case_id = _register(desk)
    old = container.settings.master_key
    new = keys.new_master_key_text()
    env = dict(_env(container), LIANXIN_MASTER_KEY=new, LIANXIN_PREVIOUS_MASTER_KEYS=old)
    result = CliRunner().invoke(main, ["keys", "rotate"], env=env, catch_exceptions=False)
    assert result.exit_code == 0 and "剩余 0 个" in result.output, result.output
    retired = keys.Vault(keys.provider_from_env({keys.MASTER_KEY: new}))  # the old key is no longer needed
    with container.session_factory() as s:
        people = parties.case_parties(s, retired, case_id)
        assert list(people.values()) == [PERSON]
        with pytest.raises(keys.KeyProblem):  # and the old key alone opens nothing any more
            parties.case_parties(s, keys.Vault(keys.provider_from_env({keys.MASTER_KEY: old})), case_id)
    with container.session_factory() as s:  # the step is in the security log, with key ids and counts only
        [row] = s.scalars(select(SecurityEvent).where(SecurityEvent.kind == "key_management")).all()
        assert json.loads(row.detail)["rewrapped"] >= 1 and new not in row.detail
    status = CliRunner().invoke(main, ["keys", "status"], env=env, catch_exceptions=False)
    assert keys.key_id_of(keys.parse_master_key(new, "new")) in status.output


def test_erasing_a_cases_data_key_leaves_the_journal_and_replay_exact(desk, container):
    case_id = _register(desk)
    with container.session_factory() as s, s.begin():
        [key_ref] = set(s.scalars(select(Party.key_ref).where(Party.case_id == case_id)))
        s.delete(s.get(keys.DataKey, key_ref))  # the retention period is over: the personal data is gone for good
    container.extras["vault"].forget()
    assert container.runtime.verify(case_id).ok  # hash chain, seals and replay do not need the plain values
    shown = desk.get("registrar", f"/api/cases/{case_id}").get_json()  # the registrar now reads the masked copy
    assert shown["data"]["petitioner"]["phone"] == "136****4321"
