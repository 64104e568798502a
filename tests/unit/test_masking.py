"""Masking of petitioners' personal data in lists."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.masking import (
    mask_address,
    mask_id_number,
    mask_name,
    mask_petitioner,
    mask_petitioners,
    mask_phone,
)


@pytest.mark.parametrize("raw, masked", [
    ("410121199001031234", "410121********1234"),
    ("41012119900101123X", "410121********123X"),
    ("G1234567", "G1****67"),
    ("", ""),
    (None, ""),
])
def test_id_number(raw, masked):
    assert mask_id_number(raw) == masked


@pytest.mark.parametrize("raw, masked", [
    ("13812345678", "138****5678"),
    ("+8613812345678", "+86138****5678"),
    ("138 1234 5678", "138****5678"),
    ("0371-65432100", "0371-******00"),
    ("110", "***"),
])
def test_phone(raw, masked):
    assert mask_phone(raw) == masked


def test_address_keeps_the_administrative_part_only():
    assert mask_address("某某省某某市东城县幸福路18号3单元") == "某某省某某市东城县******"
    assert mask_address("东城县人民路1号") == "东城县*****"
    assert "18号" not in mask_address("幸福路18号")


def test_name_keeps_the_surname():
    assert mask_name("张三") == "张*"
    assert mask_name("王小明") == "王**"
    assert mask_name("欧阳娜娜") == "欧阳**"
    assert mask_name("John Smith") == "J*** S****"


def test_petitioner_record_and_case_data():
    p = {"name": "李四", "id_number": "410121199001031234", "phone": "13812345678", "address": "东城县人民路1号",
         "role": "代表"}
    masked = mask_petitioner(p)
    assert masked == {"name": "李*", "id_number": "410121********1234", "phone": "138****5678",
                      "address": "东城县*****", "role": "代表"}
    assert p["phone"] == "13812345678"  # the original is untouched
    data = mask_petitioners({"title": "欠薪", "petitioner": p, "petitioners": [p, {"name": "赵五"}]})
    assert data["petitioner"]["phone"] == "138****5678"
    assert [x["name"] for x in data["petitioners"]] == ["李*", "赵*"]
    assert data["title"] == "欠薪"


def test_masking_has_one_home():
    """Contact data in outbox listings and logs, and phones on the public SMS path, are masked by
    services/masking.py; no other module keeps a masker of its own."""
    root = Path(__file__).resolve().parents[2]
    own = re.compile(r"^def (mask_\w+)|^_(EMAIL|PHONE|MOBILE) = re\.compile", re.M)
    others = {str(p.relative_to(root)): own.findall(p.read_text(encoding="utf-8"))
              for top in ("engine", "services", "web") for p in (root / top).rglob("*.py")
              if p.name != "masking.py"}
    assert {k: v for k, v in others.items() if v} == {}
