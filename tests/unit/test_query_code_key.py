"""What the docs promise about query codes and the secret key is what the code does: codes are kept as an HMAC
under a key derived from LIANXIN_SECRET_KEY, so replacing the secret key invalidates the codes already issued
(the README said the opposite: scrypt, independent of the key). Query codes are documented in docs/notifications.md,
the configuration table in docs/operations.md."""
from __future__ import annotations

import re
from pathlib import Path

from services import query_code
from services.index_key import IndexKey

DOCS = Path(__file__).resolve().parents[2] / "docs"
QUERY_CODES = DOCS / "notifications.md"
CONFIGURATION = DOCS / "operations.md"


def test_a_new_secret_key_no_longer_opens_codes_issued_under_the_old_one():
    old, new = IndexKey.from_secret_key("old secret"), IndexKey.from_secret_key("new secret")
    code, stored = query_code.issue(old)
    assert stored.startswith("hmac-sha256$")
    assert query_code.matches(code, stored, old)
    assert not query_code.matches(code, stored, new)
    legacy = query_code.scrypt_hash(code)  # the older scheme needs no key, so it survives a new one
    assert query_code.matches(code, legacy, new)


def test_the_docs_say_what_replacing_the_secret_key_does_to_query_codes():
    text = QUERY_CODES.read_text(encoding="utf-8")
    section = text[text.index("**查询码只保存摘要。**"):]
    section = section.split("\n\n")[0]  # the paragraph, also when it ends the page
    assert "不依赖 `LIANXIN_SECRET_KEY`" not in section.split("更早版本")[0]
    assert "加盐 scrypt 摘要" not in section
    assert "HMAC-SHA256" in section and "hmac-sha256$" in section
    assert re.search(r"更换密钥后，此前发出的查询码全部\s*失效", section)
    lines = CONFIGURATION.read_text(encoding="utf-8").splitlines()
    table_row = next(line for line in lines if line.startswith("| `LIANXIN_SECRET_KEY` | session"))
    assert "query codes" in table_row
