"""The captions' language: canonical sentences, the reader, and the support check, in en and zh."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_captioner.scene.facts import KINDS, MANY, PLACES, POSE_GROUPS, make_facts
from edge_captioner.scene.phrase import canonical
from edge_captioner.scene.read import Unreadable, read
from edge_captioner.scene.support import faithful, supported


@st.composite
def facts(draw):
    kinds = draw(st.lists(st.sampled_from(KINDS), unique=True, max_size=5))
    counts = {k: draw(st.integers(1, 14)) for k in kinds}
    poses = {}
    left = counts.get("person", 0)
    for pose in draw(st.lists(st.sampled_from(POSE_GROUPS), unique=True, max_size=3)):
        if left:
            n = draw(st.integers(1, left))
            poses[pose] = n
            left -= n
    place = draw(st.one_of(st.none(), st.sampled_from(PLACES)))
    return make_facts(counts, poses, place)


@settings(max_examples=400, deadline=None)
@given(facts(), st.sampled_from(["en", "zh"]))
def test_the_reader_reads_back_what_the_canonical_sentence_states(f, lang):
    text = canonical(f, lang)
    assert read(text, lang) == f.said()
    assert supported(text, f, lang)


@pytest.mark.parametrize("counts, poses, place, en, zh", [
    ({}, {}, "front_door", "no one at the front door", "前门口没有人"),
    ({}, {}, None, "no one in view", "画面里没有人"),
    ({"person": 1}, {("standing", None): 1}, "front_door", "a person standing at the front door",
     "前门口有一个站着的人"),
    ({"person": 2, "cat": 1}, {("sitting", "sofa"): 2}, "living_room",
     "two people sitting on the sofa and a cat in the living room", "客厅里有两个坐在沙发上的人和一只猫"),
    ({"person": 2}, {("lying", None): 1}, None, "a person lying down and another person",
     "画面里有一个躺着的人和另外一个人"),
    ({"person": 12, "car": 2, "bus": 1}, {}, "driveway",
     "many people two cars and a bus in the driveway", "车道上有很多人两辆汽车和一辆公交车"),
    ({"umbrella": 1, "box": 3}, {}, None, "three boxes and an umbrella", "画面里有三个箱子和一把雨伞"),
    ({"person": 5, "truck": 1}, {("standing", None): 3}, None,
     "three people standing two other people and a truck", "画面里有三个站着的人另外两个人和一辆卡车"),
])
def test_canonical_sentences(counts, poses, place, en, zh):
    f = make_facts(counts, poses, place)
    assert canonical(f, "en") == en
    assert canonical(f, "zh") == zh


def test_counts_over_nine_are_many_never_fewer():
    f = make_facts({"person": 23})
    assert canonical(f, "en") == "many people"
    assert read("many people", "en").count_of == {"person": MANY}
    assert not supported("nine people", f, "en")


@pytest.mark.parametrize("text, lang", [
    ("three people and a car", "en"),  # found: two people
    ("two people", "en"),  # the car is left out: not the facts either
    ("two people lying down and a car", "en"),  # a posture not found
    ("two people and a car at the front door", "en"),  # a place not configured
    ("two people and two cars", "en"),
    ("a people and a car", "en"),
    ("two people a car a car", "en"),
    ("two person and a car", "en"),
    ("two people and a car and", "en"),
    ("画面里有三个人和一辆汽车", "zh"),
    ("画面里有两个人和一辆卡车", "zh"),
    ("画面里有两个躺着的人和一辆汽车", "zh"),
    ("前门口有两个人和一辆汽车", "zh"),
    ("画面里有两只人和一辆汽车", "zh"),
    ("画面里有两个人", "zh"),
    ("有两个人和一辆汽车", "zh"),
])
def test_a_caption_stating_what_was_not_found_is_not_supported(text, lang):
    f = make_facts({"person": 2, "car": 1})
    assert not supported(text, f, lang)
    assert faithful(text, f, lang) == (canonical(f, lang), True)


def test_punctuation_and_spacing_do_not_change_the_reading():
    f = make_facts({"person": 2, "dog": 1}, {}, "front_door")
    assert supported("前门口有两个人、和一只狗。", f, "zh")
    assert supported("Two people, and a dog at the front door.", f, "en")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60), st.sampled_from(["en", "zh"]))
def test_the_reader_takes_any_text_and_never_crashes(text, lang):
    try:
        read(text, lang)
    except Unreadable:
        pass


@settings(max_examples=150, deadline=None)
@given(facts(), st.sampled_from(["en", "zh"]))
def test_every_sentence_a_search_may_write_states_exactly_the_facts(f, lang):
    from edge_captioner.scene.phrase import sentences

    written = sentences(f, lang)
    assert written[0] == canonical(f, lang) and len(set(written)) == len(written)
    assert all(read(text, lang) == f.said() for text in written)
