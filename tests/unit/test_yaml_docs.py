"""infra/yaml_docs.py: a YAML text parsed once, every caller getting the same document as yaml.safe_load and its own copy."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from infra import yaml_docs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(p.name for p in (ROOT / "processes").glob("*.yaml")))
def test_the_shipped_files_parse_as_yaml_safe_load_parses_them(name):
    text = (ROOT / "processes" / name).read_text(encoding="utf-8")
    assert yaml_docs.safe_load(text) == yaml.safe_load(text)
    assert yaml_docs.safe_load(text.encode("utf-8")) == yaml.safe_load(text)  # parsed again: the cached one
    assert yaml_docs.safe_load(text) == yaml.safe_load(text)


def test_each_caller_gets_its_own_copy_and_a_change_to_it_is_not_seen_by_the_next():
    text = "units:\n  - code: a\n    tags: [x]\n"
    first = yaml_docs.safe_load(text)
    first["units"][0]["tags"].append("changed")
    first["units"].append({"code": "b"})
    assert yaml_docs.safe_load(text) == {"units": [{"code": "a", "tags": ["x"]}]}


def test_aliases_stay_one_object_within_a_copy_as_yaml_makes_them():
    doc = yaml_docs.safe_load("base: &b {n: 1}\nother: *b\n")
    assert doc["base"] is doc["other"]


def test_a_text_that_does_not_parse_raises_every_time():
    for _ in range(2):
        with pytest.raises(yaml.YAMLError):
            yaml_docs.safe_load("a: [unclosed\n")


def test_an_edited_text_is_parsed_again_and_the_number_of_kept_documents_is_bounded():
    assert yaml_docs.safe_load("n: 1\n") == {"n": 1}
    assert yaml_docs.safe_load("n: 2\n") == {"n": 2}
    for i in range(yaml_docs.MAX_DOCUMENTS + 5):
        yaml_docs.safe_load(f"i: {i}\n")
    assert len(yaml_docs._DOCS) == yaml_docs.MAX_DOCUMENTS
    assert yaml_docs.safe_load("n: 1\n") == {"n": 1}
