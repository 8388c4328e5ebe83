"""A shipped facts bundle captions the camera's steady state when given one (`steady`, from the
worker's tracker): the real detector's objects go in over their thresholds, the caption states
exactly the objects and place the hook gives back, through the same constrained search and check;
the payload's `found.objects` stays the frame's raw detections. The objects under their thresholds go
to the hook apart (the tracker may only keep a track alive with them), never into the facts."""

from __future__ import annotations

import dataclasses

import pytest

from conversion.pretrained import photos
from edge_captioner.model.captioner import Captioner
from edge_captioner.scene.read import read


@pytest.fixture(scope="module")
def en() -> Captioner:
    return Captioner("default-en")


def test_the_caption_states_the_steady_objects_not_the_frame(en):
    frame = photos.load_photo("astronaut")
    given, unsure = [], []

    def nothing_confirmed_yet(objects, under):
        given.extend(objects)
        unsure.extend(under)
        return [], None

    result = en.caption(frame, place="front door", steady=nothing_confirmed_yet)
    assert [o.kind for o in given if o.kind == "person"] == ["person"]  # over the threshold
    spec = en.evidence_spec
    assert unsure and all(o.score < spec.thresholds.get(o.kind, spec.default_threshold)
                          for o in unsure)
    assert not {id(o) for o in unsure} & {id(o) for o in given}
    assert result.text == "no one in view"  # no place claimed: the hook gave none
    assert result.findings.facts.count_of == {}
    assert "person" in [o.kind for o in result.findings.objects]  # the raw detections stay
    assert result.findings.to_json()["kinds"] == {}

    # a hook that gave back the unsure objects would state none of them
    assert en.caption(frame, steady=lambda objects, under: (under, None)).text == "no one in view"
    confirmed = en.caption(frame, place="front door",
                           steady=lambda objects, under: (objects, "front door"))
    said = read(confirmed.text, "en")
    assert said.count_of == {"person": 1} and said.place == "front_door"
    assert not confirmed.fallback
    # the caption is as sure as the steady objects it states, not as this frame's detections
    person = next(o for o in given if o.kind == "person")
    less_sure = dataclasses.replace(person, score=0.56)
    steady = en.caption(frame, steady=lambda objects, under: ([less_sure], None))
    assert steady.confidence <= 0.56 < person.score


def test_without_the_hook_the_frame_is_captioned_as_before(en):
    frame = photos.load_photo("astronaut")
    assert read(en.caption(frame, place="front door").text, "en").count_of == {"person": 1}
