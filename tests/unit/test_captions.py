"""Synthetic reference captions (en, zh) and the mention reader that evaluation relies on."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion.world.captions import canonical_en, canonical_zh, write_captions
from conversion.world.mentions import parse_caption
from conversion.world.scenes import (
    KINDS,
    MAX_OBJECTS,
    PLACES,
    SPOTS,
    ObjectGroup,
    Scene,
    canonical_order,
    sample_scene,
)


def scene(place, *groups, lighting="day"):
    return Scene(place, lighting, canonical_order([ObjectGroup(*g) for g in groups], place))


def test_canonical_english_examples():
    assert canonical_en(scene("front_door", ("person", "red", 1, "door", "standing"))) == (
        "a person at the front door"
    )
    assert canonical_en(
        scene("living_room", ("cat", "grey", 2, "sofa", "lying"), lighting="night")
    ) == "two grey cats on the sofa at night"
    assert canonical_en(
        scene(
            "front_door",
            ("package", "brown", 1, "porch", "placed"),
            ("dog", "orange", 1, "door", "sitting"),
            ("person", "blue", 1, "door", "standing"),
        )
    ) == "a person and an orange dog at the front door and a package on the front porch"
    assert canonical_en(scene("driveway", lighting="lights_on")) == (
        "an empty driveway with the lights on"
    )


def test_canonical_chinese_examples():
    assert canonical_zh(scene("front_door", ("person", "red", 1, "door", "standing"))) == "前门口有一个人"
    assert canonical_zh(
        scene("living_room", ("cat", "grey", 2, "sofa", "lying"), lighting="night")
    ) == "夜里，客厅的沙发上有两只灰色的猫"
    assert canonical_zh(scene("driveway", ("car", "red", 1, "driveway", "parked"))) == (
        "车道上有一辆红色的汽车"
    )
    assert canonical_zh(scene("kitchen")) == "厨房里空无一人"


@pytest.mark.parametrize("language", ["en", "zh"])
@pytest.mark.parametrize("n", [5, 8])
def test_distinct_captions_canonical_first(language, n):
    rng = np.random.default_rng(0)
    for _ in range(300):
        s = sample_scene(rng)
        captions = write_captions(s, language, rng, n)
        assert len(captions) == n == len(set(captions))
        assert captions[0] == (canonical_en if language == "en" else canonical_zh)(s)


def test_paraphrases_really_vary():
    """Not one template with a word swapped: many different first words/structures."""
    rng = np.random.default_rng(1)
    openings = {"en": set(), "zh": set()}
    for _ in range(200):
        s = sample_scene(rng)
        for language in openings:
            for caption in write_captions(s, language, rng, 5)[1:]:
                openings[language].add(caption[:2] if language == "zh" else caption.split()[0])
    assert len(openings["en"]) >= 8
    assert len(openings["zh"]) >= 8


def test_sampled_scenes_are_plausible():
    rng = np.random.default_rng(2)
    seen_kinds, seen_places, seen_counts = set(), set(), set()
    for _ in range(2000):
        s = sample_scene(rng)
        assert 0 <= s.n_objects <= MAX_OBJECTS
        kinds = [g.kind for g in s.groups]
        assert len(kinds) == len(set(kinds))  # one group per kind
        for g in s.groups:
            assert g.kind in SPOTS[s.place][g.where]
        assert s.groups == canonical_order(s.groups, s.place)
        seen_kinds.update(kinds)
        seen_places.add(s.place)
        seen_counts.update(g.count for g in s.groups)
        assert Scene.from_record(s.to_record()) == s
    assert seen_kinds == set(KINDS) and seen_places == set(PLACES) and seen_counts == {1, 2, 3}


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), language=st.sampled_from(["en", "zh"]))
def test_every_reference_caption_reads_back_as_its_scene(seed, language):
    """Evaluation's mention reader understands every phrasing the writers use."""
    rng = np.random.default_rng(seed)
    s = sample_scene(rng)
    for caption in write_captions(s, language, rng, 8):
        mentions = parse_caption(caption, language)
        assert mentions.place == s.place, caption
        assert mentions.counts == s.counts(), caption


@pytest.mark.parametrize(
    "language,caption,place,counts",
    [
        ("en", "two dogs and a cat by the fence", "backyard", {"dog": 2, "cat": 1}),
        ("en", "nobody at the front door", "front_door", {}),
        ("en", "a dog with no cat on the couch", "living_room", {"dog": 1}),
        ("en", "cats in the kitchen", "kitchen", {"cat": 2}),
        ("zh", "车库门前有一辆蓝色的自行车", "driveway", {"bicycle": 1}),
        ("zh", "车道上没有人", "driveway", {}),
        ("zh", "有人站在家门口", "front_door", {"person": 1}),
        ("zh", "后院的草坪上有三只小狗", "backyard", {"dog": 3}),
    ],
)
def test_mentions_of_model_like_captions(language, caption, place, counts):
    mentions = parse_caption(caption, language)
    assert (mentions.place, mentions.counts) == (place, counts)
