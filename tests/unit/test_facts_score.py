"""Scoring captions' facts against hand labels (conversion/facts/score.py): the figures of the
model card come from these rules."""

from conversion.facts.score import Score, add_image, overclaims
from edge_captioner.scene.facts import make_facts

KINDS = ["person", "car", "truck", "dog"]


def test_a_kind_or_count_not_there_is_an_overclaim_a_miss_is_not():
    label = {"counts": {"person": [2, 3], "car": 1}, "persons": [{"posture": "standing"}] * 2}
    assert overclaims(make_facts({"person": 3, "car": 1}), label, KINDS) == []
    assert overclaims(make_facts({"person": 1}), label, KINDS) == []  # fewer: a miss
    assert overclaims(make_facts({"person": 4}), label, KINDS) == ["person 4 (labelled [2, 3])"]
    assert overclaims(make_facts({"dog": 1}), label, KINDS) == ["dog 1 (labelled 0)"]
    assert overclaims(make_facts({"person": 10}), label, KINDS) == ["person 10 (labelled [2, 3])"]


def test_lying_said_of_people_labelled_standing_is_an_overclaim():
    label = {"counts": {"person": 2}, "persons": [{"posture": "standing"}, {"posture": "sitting"}]}
    said = make_facts({"person": 2}, {("lying", None): 1})
    assert overclaims(said, label, KINDS) == ["1 lying (labelled 0)"]
    score = Score()
    add_image(score, "x", said, said, label, KINDS, fallback=False)
    assert score.lying_wrong == 1 and score.overclaims == 1


def test_counting_by_ranges():
    score = Score()
    label = {"counts": {"person": [5, 7], "car": 1}}
    add_image(score, "a", make_facts({"person": 4, "truck": 1}), make_facts({"person": 4}), label,
              KINDS, fallback=True)
    person, car, truck = score.kinds["person"], score.kinds["car"], score.kinds["truck"]
    assert (person.right, person.false, person.missed) == (4, 0, 1)
    assert (car.right, car.false, car.missed) == (0, 0, 1)
    assert (truck.right, truck.false, truck.missed) == (0, 1, 0)
    assert score.crowd_frames == 1 and score.crowd_within_one == 1 and score.fallbacks == 1


def test_someone_there_counts_images_not_people():
    """The doorbell's question: of the images surely with a person, those whose facts say
    someone; of those surely without one, those whose facts say someone anyway. An image whose
    label allows none or some ([0, 2]) is in neither."""
    score = Score()
    for name, people, found in (("crowd", [8, 11], 4), ("missed", 1, 0), ("door", 1, 1),
                                ("empty", 0, 0), ("false", 0, 2), ("maybe", [0, 2], 1)):
        facts = make_facts({"person": found} if found else {})
        add_image(score, name, facts, facts, {"counts": {"person": people}}, KINDS, fallback=False)
    figures = score.to_json()
    assert figures["someone_there"] == {"images": 3, "said": 2}
    assert figures["no_one_there"] == {"images": 2, "someone_said": 1}
