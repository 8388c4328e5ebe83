"""Simulated real-world encoder findings for synthetic scenes (the grounded decoder's training
input) and the evidence vector both training and the device build from findings."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from conversion.grounded.simulated_encoder import ANIMAL_CUES, PLACE_CUES, ErrorModel, simulate
from conversion.world.scenes import KINDS, PLACES, ObjectGroup, Scene, sample_scene
from edge_captioner.bundle.sections import EvidenceSpec
from edge_captioner.model.evidence import evidence
from edge_captioner.model.perception import Findings, Found

SPEC = EvidenceSpec(kinds=KINDS, slots=4, places=PLACES, kind_cues=ANIMAL_CUES,
                    place_cues=PLACE_CUES)


def _scene(kind: str, count: int = 1, lighting: str = "day") -> Scene:
    return Scene("driveway", lighting, [ObjectGroup(kind, "red", count, "driveway", "standing")])


def _rate(kind: str, lighting: str = "day", n: int = 3000) -> float:
    """How often a lone object of a kind is found (no false positives)."""
    rng, model = np.random.default_rng(1), ErrorModel(false_per_frame=0)
    return sum(any(o.label == kind for o in simulate(_scene(kind, lighting=lighting), rng,
                                                      model).objects) for _ in range(n)) / n


def test_recall_follows_the_error_model():
    model = ErrorModel()
    # some boxes are small (x small_recall): a little under the medium-size recall
    day = _rate("person")
    assert model.recall["person"] * 0.85 < day < model.recall["person"] + 0.02  # 3000 draws
    night = _rate("person", "night")
    assert night == pytest.approx(day * model.night_recall, abs=0.03)
    assert _rate("cat") < day


def test_packages_are_never_detected_and_false_positives_stay_low():
    rng = np.random.default_rng(2)
    for _ in range(500):
        found = simulate(_scene("package", 3), rng)
        assert all(o.kind != "package" for o in found.objects)
        assert all(0.5 <= o.score <= 0.6 for o in found.objects)  # only false positives here
    empty = [simulate(Scene("kitchen", "day", []), rng) for _ in range(3000)]
    per_frame = np.mean([len(f.objects) for f in empty])
    # uniform on 0.3..0.6: a third pass the 0.5 threshold
    assert per_frame == pytest.approx(ErrorModel().false_per_frame / 3, abs=0.03)


def test_a_cat_is_sometimes_also_scored_a_dog_lower():
    rng = np.random.default_rng(3)
    confused = 0
    for _ in range(1000):
        objects = simulate(_scene("cat"), rng, ErrorModel(false_per_frame=0)).objects
        cats = [o.score for o in objects if o.label == "cat"]
        dogs = [o.score for o in objects if o.label == "dog"]
        if cats and dogs:
            confused += 1
            assert max(dogs) <= max(cats)
    assert 50 < confused < 200  # 0.25 of found cats, when the dog box passes 0.5


def test_supported_says_what_the_findings_hold():
    from conversion.grounded.train import supported

    rng = np.random.default_rng(4)
    for _ in range(2000):
        scene = sample_scene(rng)
        findings = simulate(scene, rng)
        counts, place = supported(findings, None)
        assert sum(counts.values()) == sum(o.kind is not None for o in findings.objects)
        assert "package" not in counts
        assert place in (None, *PLACES)
        assert supported(findings, "kitchen")[1] == "kitchen"
        assert supported(findings, "garden shed")[1] is None


def test_classifier_cues_are_a_top_five_distribution():
    rng = np.random.default_rng(5)
    for _ in range(300):
        classes = simulate(sample_scene(rng), rng).classes
        assert len(classes) <= 5 and sum(p for _, p in classes) <= 1.0 + 1e-6
        assert [p for _, p in classes] == sorted((p for _, p in classes), reverse=True)


def test_evidence_vector_layout():
    findings = Findings(objects=[Found("person", 0.9, (0, 0, 1, 1), "person"),
                                 Found("person", 0.6, (0, 0, 1, 1), "person"),
                                 Found("tie", 0.7, (0, 0, 1, 1), None)],
                        classes=[("Egyptian cat", 0.5), ("doormat", 0.2), ("patio", 0.1)])
    v = evidence(findings, SPEC, "front_door")
    assert v.shape == (SPEC.length,) and v.dtype == np.float32
    assert v[:4].tolist() == pytest.approx([0.9, 0.6, 0, 0])  # person scores, highest first
    assert v[4:24].sum() == 0  # no dog, cat, bicycle, car, package detection
    cues = 24 + KINDS.index("cat")
    assert v[cues] == pytest.approx(0.5)
    places = 24 + len(KINDS)
    # patio is a cue for both the front door and the backyard
    assert v[places] == pytest.approx(0.3) and v[places + PLACES.index("backyard")] == \
        pytest.approx(0.1)
    configured = places + len(PLACES)
    assert v[configured:].tolist() == [1, 0, 0, 0, 0, 0, 0]
    assert evidence(findings, SPEC, None)[configured:].tolist() == [0, 0, 0, 0, 0, 0, 1]
    assert evidence(findings, SPEC, "the shed")[configured:].tolist() == [0, 0, 0, 0, 0, 1, 0]


_found = st.builds(Found, st.sampled_from(["person", "cat", "tie", "car"]),
                   st.floats(0, 1), st.just((0.0, 0.0, 1.0, 1.0)),
                   st.sampled_from([None, *KINDS]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_found, max_size=30),
       st.lists(st.tuples(st.sampled_from(["doormat", "tabby", "pug", "wool"]), st.floats(0, 1)),
                max_size=5),
       st.sampled_from([None, "porch", *PLACES]))
def test_any_findings_give_a_vector_in_range(objects, classes, place):
    v = evidence(Findings(objects=objects, classes=classes), SPEC, place)
    assert v.shape == (SPEC.length,) and np.isfinite(v).all() and v.min() >= 0 and v.max() <= 1
    assert v[-len(PLACES) - 2:].sum() == 1
