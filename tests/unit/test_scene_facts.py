"""From what the perception found to the facts a caption may state; the facts vector; the mirrored look."""

from dataclasses import dataclass

import numpy as np
import pytest

from edge_captioner.bundle.sections import FactsSpec
from edge_captioner.model.detections import merge_mirrored, mirror_box
from edge_captioner.model.evidence import facts_vector
from edge_captioner.scene.facts import KINDS, MANY, PLACES, POSE_GROUPS, make_facts
from edge_captioner.scene.from_findings import facts_of, least_sure


@dataclass
class Seen:
    kind: str | None
    score: float
    box: tuple
    posture: str | None = None
    pose_score: float | None = None


def facts(objects, place=None, **thresholds):
    return facts_of(objects, place=place, thresholds=thresholds, default=0.5)


def test_objects_below_their_kinds_threshold_are_not_facts():
    objects = [Seen("person", 0.45, (0, 0, .1, .3)), Seen("person", 0.8, (.5, 0, .6, .3)),
               Seen("truck", 0.45, (0, .5, .4, .9)), Seen(None, 0.9, (0, 0, 1, 1))]
    assert facts(objects).count_of == {"person": 1}
    assert facts(objects, person=0.4, truck=0.4).count_of == {"person": 2, "truck": 1}


def test_a_caption_is_as_sure_as_the_least_sure_object_it_states():
    sure, sofa = Seen("person", 0.9, (0, 0, .3, .9)), Seen("couch", 0.35, (0, .4, 1, 1))
    unsure = Seen("person", 0.35, (.5, 0, .8, .9))
    rescued = Seen("person", 0.35, (.5, 0, .8, .9), "standing", pose_score=0.9)
    kinds = ("person",)
    assert least_sure([sure, unsure, sofa], kinds, {}, 0.5) == 0.9  # unsure: not stated
    # a person the pose model rescued is stated, so the caption is no surer than them
    assert least_sure([sure, rescued], kinds, {}, 0.5) == 0.35
    assert least_sure([], kinds, {}, 0.5) == 1.0


def test_counts_are_never_capped_below_what_was_found():
    objects = [Seen("person", 0.9, (i / 20, 0, i / 20 + .04, .2)) for i in range(14)]
    f = facts(objects)
    assert f.count_of == {"person": 14}
    assert f.said().count_of == {"person": MANY}


def test_among_sure_people_one_just_under_the_threshold_counts_unless_it_doubles_one():
    a, b = Seen("person", 0.9, (0, 0, .2, .8)), Seen("person", 0.7, (.3, 0, .5, .8))
    half_hidden = Seen("person", 0.52, (.6, .1, .8, .9))
    on_a = Seen("person", 0.53, (.05, 0, .25, .8))  # IoU 0.6 with a: a second box on them
    unsure = Seen("person", 0.45, (.8, .1, 1, .9))
    th = {"person": 0.55}
    assert facts([a, b, half_hidden, on_a, unsure], **th).count_of == {"person": 3}
    # never from fewer than two sure people: no one, or one, stays so
    assert facts([a, half_hidden, unsure], **th).count_of == {"person": 1}
    assert facts([half_hidden, Seen("person", 0.54, (.3, 0, .5, .8))], **th).count_of == {}
    # a person the pose model rescued is a sure one
    rescued = Seen("person", 0.35, (.3, 0, .5, .8), "standing", pose_score=0.9)
    assert facts([a, rescued, half_hidden], **th).count_of == {"person": 3}
    # each one kept is a sure one for the next: two boxes on one hidden person count once
    twice = Seen("person", 0.51, (.62, .1, .82, .9))
    assert facts([a, b, half_hidden, twice], **th).count_of == {"person": 3}
    # other kinds are never kept this way
    assert facts([a, b, Seen("car", 0.52, (0, .8, .3, 1))], **th, car=0.55).count_of == {
        "person": 2}


def test_a_second_box_on_part_of_a_person_is_not_a_second_person():
    th = {"person": 0.55}
    whole = Seen("person", 0.6, (.27, .07, .44, .46), "standing")
    upper = Seen("person", 0.85, (.27, .07, .45, .31))  # nested, as wide: the same person
    assert facts([whole, upper], **th).count_of == {"person": 1}
    # a child in front of an adult: inside their box, but much narrower
    child = Seen("person", 0.8, (.30, .25, .38, .46))
    assert facts([whole, child], **th).count_of == {"person": 2}
    # side by side, overlapping: not nested
    beside = Seen("person", 0.7, (.35, .07, .52, .46))
    assert facts([whole, beside], **th).count_of == {"person": 2}
    # the surer box stays, whatever the order they come in
    assert facts([upper, whole, beside], **th) == facts([beside, whole, upper], **th)
    assert facts([upper, whole, beside], **th).count_of == {"person": 2}


def test_a_person_sitting_inside_a_sofa_box_sits_on_the_sofa():
    sofa = Seen("sofa", 0.7, (.2, .4, .8, .9))
    sitting = Seen("person", 0.9, (.3, .3, .45, .85), "sitting")
    lying = Seen("person", 0.9, (.5, .5, .78, .8), "lying")
    standing = Seen("person", 0.9, (.85, .1, .95, .9), "standing")
    f = facts([sofa, sitting, lying, standing], "living_room")
    assert {g.pose: g.count for g in f.people} == {("sitting", "sofa"): 1, ("lying", "sofa"): 1,
                                                    ("standing", None): 1}
    # a lying person far from any furniture is lying, on nothing said
    assert facts([Seen("person", .9, (.1, .7, .5, .9), "lying")]).people[0].pose == ("lying", None)
    # a sofa too unsure to be a fact holds no one
    weak = Seen("sofa", 0.3, sofa.box)
    assert facts([weak, sitting]).people[0].pose == ("sitting", None)


def test_lying_on_a_chair_is_not_said():
    chair = Seen("chair", 0.8, (.2, .4, .6, .9))
    f = facts([chair, Seen("person", .9, (.25, .5, .55, .85), "lying")])
    assert f.people[0].pose == ("lying", None)


def test_a_bundle_without_words_for_a_posture_says_the_person_without_one():
    f = facts_of([Seen("person", .9, (0, 0, .2, .5), "sitting")], place=None, kinds=("person",),
                 pose_groups=(("standing", None),), thresholds={}, default=.5)
    assert f.people[0].pose is None


SPEC = FactsSpec(KINDS, POSE_GROUPS, PLACES, 9, {}, 0.5)


def test_the_facts_vector_is_one_hot_per_group_and_place():
    f = make_facts({"person": 3, "truck": 12, "box": 1}, {("lying", None): 1}, "front_door")
    v = facts_vector(f, SPEC)
    assert v.shape == (SPEC.length,) and set(np.unique(v)) == {0.0, 1.0}
    width = SPEC.count_width
    groups = v[: (len(KINDS) - 1 + len(POSE_GROUPS) + 1) * width].reshape(-1, width)
    assert (groups.sum(axis=1) == 1).all()
    others = list(KINDS[1:])
    assert groups[others.index("truck")].argmax() == width - 1  # many
    assert groups[others.index("box")].argmax() == 1
    lying = len(others) + POSE_GROUPS.index(("lying", None))
    assert groups[lying].argmax() == 1 and groups[-1].argmax() == 2  # 2 of unknown posture
    assert v[-len(PLACES) - 1:].argmax() == PLACES.index("front_door")
    assert facts_vector(make_facts({}), SPEC)[-1] == 1.0  # no place


def test_the_mirrored_look_gives_the_same_detections_mirrored():
    a = [(0, 0.8, (.1, .2, .3, .9)), (0, 0.6, (.6, .1, .7, .5)), (16, 0.55, (.4, .6, .6, .9))]
    b = [(0, 0.7, (.11, .21, .31, .88)), (2, 0.52, (.0, .0, .2, .2))]
    merged = merge_mirrored(a, b)
    mirror = lambda ds: [(label, score, mirror_box(box)) for label, score, box in ds]  # noqa: E731
    swapped = merge_mirrored(mirror(b), mirror(a))
    assert [(lab, pytest.approx(s)) for lab, s, _ in merged] == [(lab, s) for lab, s, _ in swapped]
    for (_, _, box), (_, _, other) in zip(merged, swapped, strict=True):
        assert np.allclose(box, mirror_box(other))
    assert merged[0][0] == 0 and merged[0][1] == pytest.approx(0.75)  # the pair: mean score
    assert sorted(round(s, 3) for _, s, _ in merged) == [0.26, 0.275, 0.3, 0.75]  # the rest halved
