"""Grounded captions (en, zh): exact canonical wording, paraphrases, and the reader that inverts them."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion.grounded.captions import SEVERAL, canonical, mentions, normalise, paraphrases
from conversion.world.scenes import KINDS, PLACES
from edge_captioner.bundle.vocab import tokenize

CASES = [
    # counts, place, English, Chinese
    ({}, "front_door", "no one at the front door", "前门口没有人"),
    ({}, "living_room", "no one in the living room", "客厅里没有人"),
    ({}, "driveway", "no one in the driveway", "车道上没有人"),
    ({}, None, "no one in view", "画面里没有人"),
    ({"person": 0, "cat": 0}, "kitchen", "no one in the kitchen", "厨房里没有人"),
    ({"person": 1}, "front_door", "a person at the front door", "前门口有一个人"),
    ({"dog": 1}, "living_room", "a dog in the living room", "客厅里有一只狗"),
    ({"cat": 1}, "kitchen", "a cat in the kitchen", "厨房里有一只猫"),
    ({"bicycle": 1}, "backyard", "a bicycle in the backyard", "后院里有一辆自行车"),
    ({"car": 1}, "driveway", "a car in the driveway", "车道上有一辆汽车"),
    ({"person": 0, "car": 1}, "driveway", "a car in the driveway", "车道上有一辆汽车"),
    ({"package": 1}, "front_door", "a package at the front door", "前门口有一个包裹"),
    ({"package": 3}, "front_door", "three packages at the front door", "前门口有三个包裹"),
    ({"person": 1}, None, "a person", "画面里有一个人"),
    ({"cat": 2, "dog": 0}, None, "two cats", "画面里有两只猫"),
    ({"cat": 1, "dog": 1, "person": 2}, "front_door", "two people, a dog and a cat at the front door",
     "前门口有两个人、一只狗和一只猫"),
    ({"person": 1, "package": 2}, "front_door", "a person and two packages at the front door",
     "前门口有一个人和两个包裹"),
    ({"car": 2, "bicycle": 1}, "driveway", "a bicycle and two cars in the driveway",
     "车道上有一辆自行车和两辆汽车"),
    ({"person": 4}, "driveway", "several people in the driveway", "车道上有几个人"),
    ({"person": 9, "dog": 3}, "backyard", "several people and three dogs in the backyard",
     "后院里有几个人和三只狗"),
    ({k: 1 for k in KINDS}, "unknown", "a person, a dog, a cat, a bicycle, a car and a package",
     "画面里有一个人、一只狗、一只猫、一辆自行车、一辆汽车和一个包裹"),
]


@pytest.mark.parametrize("counts, place, en, zh", CASES)
def test_canonical_exact(counts, place, en, zh):
    assert canonical(counts, place, "en") == en
    assert canonical(counts, place, "zh") == zh
    expected = normalise(counts, place)
    assert mentions(en, "en") == expected
    assert mentions(zh, "zh") == expected


def test_normalise_caps_drops_zeros_and_orders():
    assert normalise({"package": 2, "person": 7, "cat": 0}, "unknown") == (
        {"person": SEVERAL, "package": 2}, None)
    assert list(normalise({"car": 1, "dog": 1}, "driveway")[0]) == ["dog", "car"]


@pytest.mark.parametrize("counts, place, lang", [
    ({"horse": 1}, None, "en"), ({"person": -1}, None, "en"), ({"person": 1.5}, None, "en"),
    ({}, "garage", "en"), ({}, None, "fr"),
])
def test_bad_input_is_refused(counts, place, lang):
    with pytest.raises(ValueError):
        canonical(counts, place, lang)


def test_paraphrase_examples():
    seen = {lang: set() for lang in ("en", "zh")}
    for seed in range(12):
        for lang in seen:
            seen[lang] |= set(paraphrases({"person": 1}, "front_door", lang, np.random.default_rng(seed), 6))
    assert {"there is a person at the front door", "a person is at the front door",
            "someone is at the front door", "someone at the front door"} <= seen["en"]
    assert {"有人在前门口", "前门口出现了一个人", "有一个人在前门口",
            "摄像头拍到前门口有一个人"} <= seen["zh"]
    empty = paraphrases({}, "front_door", "en", np.random.default_rng(0), 6)
    assert sorted(empty) == sorted(["nobody at the front door", "there is no one at the front door",
                                    "there is nobody at the front door", "no one is at the front door",
                                    "nobody is at the front door"])
    assert len(paraphrases({}, "kitchen", "zh", np.random.default_rng(0), 6)) == 5
    mixed = paraphrases({"person": 5, "bicycle": 2}, None, "en", np.random.default_rng(1), 40)
    assert any("more than three people" in p for p in mixed) and any("bikes" in p for p in mixed)


def test_paraphrases_are_distinct_deterministic_and_not_canonical():
    counts, place = {"person": 2, "dog": 1, "package": 1}, "front_door"
    for lang in ("en", "zh"):
        a = paraphrases(counts, place, lang, np.random.default_rng(5), 8)
        assert a == paraphrases(counts, place, lang, np.random.default_rng(5), 8)
        assert len(a) == 7 == len(set(a)) and canonical(counts, place, lang) not in a


counts_st = st.dictionaries(st.sampled_from(KINDS), st.integers(0, 5))
places_st = st.sampled_from((*PLACES, None))
langs_st = st.sampled_from(("en", "zh"))
_KIND_WORDS = {"en": {"person": ("person", "people", "someone"), "dog": ("dog",), "cat": ("cat",),
                      "bicycle": ("bicycle", "bike"), "car": ("car",), "package": ("package", "parcel")},
               "zh": {"person": ("人",), "dog": ("狗",), "cat": ("猫",), "bicycle": ("自行车", "单车"),
                      "car": ("汽车",), "package": ("包裹", "快递")}}
_EMPTY_WORDS = {"en": ("no one", "nobody"), "zh": ("没", "空无一人")}


def _check_grounded(text, counts, lang):
    """Never a kind with count 0; "no one" exactly when nothing was found."""
    for kind, words in _KIND_WORDS[lang].items():
        if not counts.get(kind):
            masked = text
            for negation in ("没有人", "没人", "空无一人", "一个人也", "一个人都", "任何人"):
                masked = masked.replace(negation, "")
            assert not any(w in masked for w in words), (text, kind)
    assert any(w in text for w in _EMPTY_WORDS[lang]) == (not any(counts.values())), text


@settings(max_examples=300, deadline=None)
@given(counts_st, places_st, langs_st)
def test_canonical_round_trips(counts, place, lang):
    text = canonical(counts, place, lang)
    assert mentions(text, lang) == normalise(counts, place)
    _check_grounded(text, counts, lang)


@settings(max_examples=150, deadline=None)
@given(counts_st, places_st, langs_st, st.integers(0, 2**32 - 1))
def test_paraphrases_round_trip(counts, place, lang, seed):
    expected = normalise(counts, place)
    for text in paraphrases(counts, place, lang, np.random.default_rng(seed), 6):
        assert mentions(text, lang) == expected, text
        _check_grounded(text, counts, lang)


def _all_captions(lang):
    """Canonical captions covering every phrase: each kind at each count, every pair, everything."""
    rng = np.random.default_rng(0)
    dicts = [{}] + [{k: n} for k in KINDS for n in range(1, SEVERAL + 1)]
    dicts += [{a: 2, b: 1} for a, b in itertools.combinations(KINDS, 2)] + [dict.fromkeys(KINDS, 5)]
    canon, para = set(), set()
    for counts, place in itertools.product(dicts, (*PLACES, None)):
        canon.add(canonical(counts, place, lang))
        para.update(paraphrases(counts, place, lang, rng, 12))
    return canon, para


def test_vocabulary_stays_small():
    sizes = {}
    for lang in ("en", "zh"):
        canon, para = _all_captions(lang)
        v_canon = {t for c in canon for t in tokenize(c, lang)}
        v_all = v_canon | {t for c in para for t in tokenize(c, lang)}
        sizes[lang] = (len(v_canon), len(v_all))
    print("grounded vocabulary (canonical, with paraphrases):", sizes)
    assert sizes["en"][0] <= 35 and sizes["en"][1] <= 50
    assert sizes["zh"][0] <= 40 and sizes["zh"][1] <= 60
