"""Likely repeats: bigram similarity measured on rewordings and on different matters, the 12-month window, and
the rule that makes a candidate."""
from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from services.repeats import SIMILAR, bigrams, judge, similarity, window_start

SAME = [  # the same complaint worded twice
    ("某某建筑公司拖欠三个月工资，要求支付", "要求某某建筑公司支付拖欠的三个月工资"),
    ("小区夜间施工噪声扰民，影响休息", "夜间施工噪声严重影响小区居民休息"),
    ("安置房至今未交付，要求尽快交房", "拆迁安置房迟迟未交付，要求交房"),
    ("养老保险待遇核定有误，要求重新核定", "要求重新核定养老保险待遇"),
]
DIFFERENT = [  # different matters of the same category
    ("某某建筑公司拖欠三个月工资，要求支付", "工伤认定久拖不决，要求尽快认定"),
    ("小区夜间施工噪声扰民，影响休息", "河道污水直排，要求治理"),
    ("安置房至今未交付，要求尽快交房", "公积金提取被拒，要求说明理由"),
    ("养老保险待遇核定有误，要求重新核定", "医保报销比例过低"),
]


def test_bigrams_ignore_punctuation_and_spaces():
    assert bigrams("欠 薪，要求") == ["欠薪", "薪要", "要求"]
    assert bigrams("") == [] and bigrams("a") == ["a"]


@pytest.mark.parametrize("a, b", SAME)
def test_rewordings_are_similar(a, b):
    assert similarity(a, b) >= SIMILAR


@pytest.mark.parametrize("a, b", DIFFERENT)
def test_different_matters_are_not(a, b):
    assert similarity(a, b) < SIMILAR


def test_similarity_is_symmetric_and_bounded():
    a, b = SAME[0]
    assert similarity(a, b) == similarity(b, a)
    assert similarity(a, a) == 1.0 and similarity(a, "") == 0.0


def test_window_is_twelve_months_back():
    assert window_start(datetime(2026, 3, 2, 1, tzinfo=UTC)) == datetime(2025, 3, 2, 1, tzinfo=UTC)
    assert window_start(datetime(2028, 2, 29, tzinfo=UTC)) == datetime(2027, 2, 28, tzinfo=UTC)


def row(**kw):
    base = dict(case_id=1, case_no="XF1", title="某某建筑公司拖欠三个月工资", request="要求支付",
                registered_at=datetime(2026, 1, 5, tzinfo=UTC), location="county_a", category="劳动社保",
                petitioner_masked="张*")
    return SimpleNamespace(**dict(base, **kw))


def test_candidate_rule():
    new = {"title": "拖欠三个月工资", "request": "要求某某建筑公司支付", "location": "county_a", "category": "劳动社保"}
    same_person = judge(new, row(title="完全不同", request="别的事", category="环境保护"), True, False)
    assert same_person is not None and same_person.reasons == ["同一证件号码"]
    similar_place = judge(new, row(), False, False)
    assert similar_place is not None and "同一问题发生地和内容分类" in similar_place.reasons
    assert judge(new, row(location="county_b"), False, False) is None  # similar text elsewhere: not a repeat
    assert judge(new, row(title="养老金", request="核对缴费年限"), False, False) is None
    assert same_person.score > 0 and similar_place.score > 0


def test_index_key_is_keyed_stable_and_never_printed():
    from services.index_key import IndexKey

    a, b = IndexKey.from_secret_key("secret-a"), IndexKey.from_secret_key("secret-b")
    assert a.digest("phone", "13812345678") == IndexKey.from_secret_key("secret-a").digest("phone", "13812345678")
    assert a.digest("phone", "13812345678") != b.digest("phone", "13812345678")
    assert a.digest("phone", "13812345678") != a.digest("id", "13812345678")
    assert a.key_id != b.key_id and len(a.key_id) == 16
    assert "secret" not in repr(a) and a.secret.hex() not in repr(a)
    with pytest.raises(ValueError):
        IndexKey.from_secret_key("")
