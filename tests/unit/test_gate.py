"""The scene-change gate on synthetic scenes: noise, JPEG and exposure steps are not changes; a
person walking in is."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from edge_captioner.service.gate import GateDecision, SceneChangeGate, change_between, thumbnail

THRESHOLD = 0.02


def porch(width: int = 640, height: int = 480) -> np.ndarray:
    """A textured BGR scene in the mid tones: a wall gradient, a door, a window, a plant."""
    y, x = np.mgrid[0:height, 0:width]
    wall = 70 + 60 * x / width + 20 * y / height
    image = np.dstack([wall * 0.9, wall, wall * 1.1]).astype(np.uint8)
    cv2.rectangle(image, (380, 120), (500, 420), (40, 60, 90), -1)  # door
    cv2.rectangle(image, (80, 100), (260, 240), (170, 150, 120), -1)  # window
    cv2.circle(image, (160, 380), 50, (40, 110, 50), -1)  # plant
    cv2.line(image, (0, 430), (width, 430), (90, 90, 90), 6)  # step
    return image


def with_noise(image: np.ndarray, rng: np.random.Generator, sigma: float = 4.0) -> np.ndarray:
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    return cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1], cv2.IMREAD_COLOR)


def with_person(image: np.ndarray, x: int = 260) -> np.ndarray:
    """A person-sized dark figure (about 1/10 of a VGA frame) standing in front of the wall."""
    image = image.copy()
    cv2.rectangle(image, (x, 140), (x + 100, 440), (30, 30, 150), -1)
    cv2.circle(image, (x + 50, 115), 30, (120, 140, 190), -1)
    return image


def gate_with_reference(image: np.ndarray, **kwargs) -> SceneChangeGate:
    gate = SceneChangeGate(kwargs.pop("threshold", THRESHOLD), kwargs.pop("max_interval_s", 300.0),
                           **kwargs)
    assert gate.check(image, 0.0) == GateDecision(True, "first", 1.0)
    gate.accept(image, 0.0)
    return gate


def test_noise_and_jpeg_never_trigger():
    rng = np.random.default_rng(1)
    scene = porch()
    gate = gate_with_reference(with_noise(scene, rng))
    for i in range(40):
        frame = with_noise(scene, rng)
        if i % 2:
            frame = jpeg(frame, quality=int(rng.integers(40, 95)))
        decision = gate.check(frame, 1.0 + i)
        assert not decision.run and decision.reason == "unchanged", (i, decision)
        assert decision.change < THRESHOLD / 4


@pytest.mark.parametrize("factor", [1.15, 0.85])
def test_global_brightness_step_does_not_trigger(factor):
    scene = porch()
    gate = gate_with_reference(scene)
    brighter = np.clip(scene * factor, 0, 255).astype(np.uint8)
    decision = gate.check(with_noise(brighter, np.random.default_rng(2)), 1.0)
    assert decision.reason == "unchanged" and decision.change < THRESHOLD / 2


def test_offset_brightness_step_does_not_trigger():
    scene = porch()
    gate = gate_with_reference(scene)
    brighter = np.clip(scene.astype(np.int16) + 30, 0, 255).astype(np.uint8)
    assert gate.check(brighter, 1.0).reason == "unchanged"


def test_person_walking_in_triggers():
    scene = porch()
    gate = gate_with_reference(scene)
    decision = gate.check(with_person(with_noise(scene, np.random.default_rng(3))), 1.0)
    assert decision.run and decision.reason == "changed"
    assert decision.change > 0.05


def test_person_and_exposure_step_together_still_trigger():
    scene = porch()
    gate = gate_with_reference(scene)
    frame = np.clip(with_person(scene) * 1.15, 0, 255).astype(np.uint8)
    assert gate.check(frame, 1.0).reason == "changed"


def test_lights_off_triggers():
    scene = porch()
    gate = gate_with_reference(scene)
    assert gate.check((scene // 8).astype(np.uint8), 1.0).reason == "changed"


def test_heartbeat_after_max_interval():
    scene = porch()
    gate = gate_with_reference(scene, max_interval_s=60.0)
    assert gate.check(scene, 59.0).reason == "unchanged"
    decision = gate.check(scene, 60.0)
    assert decision.run and decision.reason == "heartbeat"
    gate.accept(scene, 60.0)
    assert gate.check(scene, 61.0).reason == "unchanged"


def test_force_runs_once_even_too_soon():
    scene = porch()
    gate = gate_with_reference(scene, min_interval_s=10.0)
    gate.force()
    assert gate.forced
    decision = gate.check(scene, 0.5)
    assert decision.run and decision.reason == "forced" and decision.change == 0.0
    assert not gate.forced
    assert gate.check(scene, 0.6).reason == "unchanged"


def test_force_before_any_reference():
    gate = SceneChangeGate(THRESHOLD, 300.0)
    gate.force()
    assert gate.check(porch(), 0.0) == GateDecision(True, "forced", 1.0)


def test_min_interval_holds_back_a_change():
    scene = porch()
    gate = gate_with_reference(scene, min_interval_s=5.0)
    person = with_person(scene)
    assert gate.check(person, 4.9).reason == "too_soon"
    assert not gate.check(person, 4.9).run
    assert gate.check(scene, 4.9).reason == "unchanged"  # nothing to hold back
    assert gate.check(person, 5.0).reason == "changed"
    gate.min_interval_s = 20.0  # an interval command changes it on the fly
    assert gate.check(person, 6.0).reason == "too_soon"


def test_reference_is_the_last_accepted_frame_so_slow_drift_triggers():
    scene = porch()
    gate = gate_with_reference(scene)
    # a person stepping in 4 px at a time: each frame barely differs from the previous one ...
    steps = [with_person(scene, x=-100 + 4 * i) for i in range(60)]
    thumbs = [thumbnail(step) for step in steps]
    assert max(change_between(a, b) for a, b in zip(thumbs, thumbs[1:], strict=False)) < THRESHOLD
    # ... but the gate compares with the frame it last captioned, so the drift adds up
    decisions = [gate.check(frame, 1.0 + i) for i, frame in enumerate(steps)]
    first = next(i for i, d in enumerate(decisions) if d.run)
    assert decisions[first].reason == "changed"
    gate.accept(steps[first], 1.0 + first)
    assert gate.check(steps[first], 2.0 + first).reason == "unchanged"


def test_unaccepted_run_is_offered_again():
    """A caption that failed (no accept) leaves the reference where it was."""
    scene = porch()
    gate = gate_with_reference(scene)
    person = with_person(scene)
    assert gate.check(person, 1.0).run
    assert gate.check(person, 2.0).run
    fresh = SceneChangeGate(THRESHOLD, 300.0)
    assert fresh.check(scene, 0.0).reason == "first" and fresh.check(scene, 1.0).reason == "first"


@pytest.mark.parametrize("shape", [(480, 640), (480, 640, 1), (480, 640, 4), (1080, 1920, 3), (1, 1, 3)])
def test_image_layouts(shape):
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, shape, dtype=np.uint8)
    gate = gate_with_reference(image)
    assert gate.check(image, 1.0).reason == "unchanged"


def test_rejects_non_images():
    gate = SceneChangeGate(THRESHOLD, 300.0)
    for bad in (np.zeros((4, 4), np.float32), np.zeros((0, 4), np.uint8), np.zeros((4, 4, 2), np.uint8)):
        with pytest.raises(ValueError):
            gate.check(bad, 0.0)


@settings(max_examples=150, deadline=None)
@given(
    first=hnp.arrays(np.uint8, st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3]))),
    second=hnp.arrays(np.uint8, st.one_of(
        st.tuples(st.integers(1, 64), st.integers(1, 64)),
        st.tuples(st.integers(1, 64), st.integers(1, 64), st.sampled_from([1, 3])))),
)
def test_any_small_image_never_raises(first, second):
    gate = SceneChangeGate(THRESHOLD, 300.0, min_interval_s=0.5)
    for now, image in enumerate([first, second, first[..., 0], second]):
        decision = gate.check(image, float(now))
        assert 0.0 <= decision.change <= 1.0
        if decision.run:
            gate.accept(image, float(now))
