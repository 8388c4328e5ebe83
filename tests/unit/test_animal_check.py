"""The animal check's pure rule (model/animal_check.py): the classifier's mass on other animals
against its mass on the named kind, and the crop round the animal."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from edge_captioner.model.animal_check import class_mass, grown, other_animal

CAT, ANIMALS = ((281, 285),), ((0, 397),)


def probs(**at: float) -> np.ndarray:
    p = np.zeros(1000, np.float32)
    for index, value in at.items():
        p[int(index[1:])] = value
    return p


def test_class_mass_sums_inclusive_ranges():
    p = probs(i281=0.5, i285=0.25, i286=0.125, i7=0.0625)
    assert class_mass(p, CAT) == 0.75
    assert class_mass(p, ((7, 7), (281, 281))) == 0.5625


def test_a_lion_called_a_cat_is_another_animal():
    assert other_animal(probs(i291=0.9, i281=0.01), CAT, ANIMALS)


def test_a_cat_is_a_cat_even_among_other_animals():
    assert not other_animal(probs(i281=0.4, i286=0.3), CAT, ANIMALS)


def test_mass_on_things_that_are_not_animals_counts_for_neither():
    """A cat printed on a mug: the classifier says mug, a little cat, no other animal."""
    assert not other_animal(probs(i504=0.84, i285=0.004), CAT, ANIMALS)
    assert not other_animal(probs(i504=0.99), CAT, ANIMALS)  # nothing either way: kept


def test_a_tie_keeps_the_animal():
    assert not other_animal(probs(i281=0.25, i291=0.25), CAT, ANIMALS)


@given(st.lists(st.floats(0, 1), min_size=4, max_size=4), st.integers(1, 5000),
       st.integers(1, 5000), st.floats(1, 4))
def test_the_crop_is_a_non_empty_rectangle_inside_the_frame(corners, width, height, grow):
    x1, x2 = sorted(corners[:2])
    y1, y2 = sorted(corners[2:])
    a, b, c, d = grown((x1, y1, x2, y2), width, height, grow)
    assert 0 <= a < c <= width and 0 <= b < d <= height


def test_the_crop_grows_about_the_box_centre():
    assert grown((0.4, 0.4, 0.6, 0.6), 1000, 500, 1.5) == (350, 175, 650, 325)


def test_the_explanation_says_what_the_classifier_saw_and_what_was_not_said():
    from edge_captioner.cli.caption import format_findings
    from edge_captioner.model.perception import Findings, Found

    findings = Findings(objects=[
        Found("cat", 0.8, (0.1, 0.1, 0.9, 0.9), "cat", classified="tabby"),
        Found("dog", 0.6, (0.0, 0.0, 0.5, 0.5), None, classified="hare"),
        Found("person", 0.7, (0.2, 0.0, 0.4, 1.0), "person", posture="standing")])
    assert format_findings(findings) == (
        "cat 0.80 [0.10,0.10,0.90,0.90] (classifier: tabby), "
        "dog 0.60 [0.00,0.00,0.50,0.50] (classifier: hare; not said), "
        "person 0.70 [0.20,0.00,0.40,1.00] standing")
