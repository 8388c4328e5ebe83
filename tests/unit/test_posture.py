"""posture(): hand-made keypoint sets, the false alarms "lying" must not raise, untrusted input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_captioner.model.pose import KEYPOINTS
from edge_captioner.model.posture import POSTURES, posture

_K = {name: i for i, name in enumerate(KEYPOINTS)}


def person(points: dict[str, tuple[float, float]], score: float = 0.8):
    """Keypoints from {part: (x, y)} (both sides get the same point unless named apart; parts
    not named are unseen), and the box around them with a small margin."""
    xy = np.zeros((17, 2))
    scores = np.zeros(17)
    for part, (x, y) in points.items():
        names = [part] if part in _K else [f"left_{part}", f"right_{part}"]
        for name in names:
            xy[_K[name]] = (x, y)
            scores[_K[name]] = score
    seen = xy[scores > 0]
    box = (*(seen.min(axis=0) - 0.03), *(seen.max(axis=0) + 0.03))
    return xy, scores, tuple(float(v) for v in box)


HEAD = {"nose": (0.5, 0.12), "eye": (0.5, 0.1), "ear": (0.5, 0.11)}
STANDING = {**HEAD, "shoulder": (0.5, 0.25), "elbow": (0.5, 0.4), "wrist": (0.5, 0.52),
            "hip": (0.5, 0.52), "knee": (0.5, 0.72), "ankle": (0.5, 0.92)}
# side view on a chair: thighs level, shins hanging
SITTING = {**HEAD, "shoulder": (0.5, 0.3), "elbow": (0.52, 0.42), "wrist": (0.6, 0.5),
           "hip": (0.5, 0.57), "knee": (0.68, 0.58), "ankle": (0.68, 0.82)}
# on the floor, seen from the side: head left, feet right, everything at about one height
LYING = {"nose": (0.12, 0.7), "eye": (0.12, 0.69), "ear": (0.14, 0.7),
         "shoulder": (0.25, 0.72), "elbow": (0.35, 0.74), "wrist": (0.45, 0.73),
         "hip": (0.5, 0.72), "knee": (0.7, 0.73), "ankle": (0.88, 0.74)}


def test_plain_postures():
    assert posture(*person(STANDING)) == "standing"
    assert posture(*person(SITTING)) == "sitting"
    assert posture(*person(LYING)) == "lying"


def test_lying_on_a_wide_frame_uses_true_angles():
    # x fractions of a 16:9 frame: the same body squeezed horizontally still lies
    squeezed = {k: (0.3 + (x - 0.3) * 9 / 16, y) for k, (x, y) in LYING.items()}
    assert posture(*person(squeezed), aspect=16 / 9) == "lying"


def test_bending_down_to_the_floor_is_not_lying():
    # torso horizontal, head down low, but the legs stand: the body is as tall as it is wide
    bending = {"nose": (0.22, 0.62), "eye": (0.22, 0.6), "ear": (0.24, 0.6),
               "shoulder": (0.32, 0.5), "elbow": (0.3, 0.62), "wrist": (0.28, 0.72),
               "hip": (0.6, 0.45), "knee": (0.6, 0.7), "ankle": (0.6, 0.93)}
    assert posture(*person(bending)) != "lying"


def test_crouching_is_not_lying():
    crouch = {**HEAD, "nose": (0.5, 0.4), "eye": (0.5, 0.38), "ear": (0.5, 0.39),
              "shoulder": (0.5, 0.5), "elbow": (0.56, 0.62), "wrist": (0.6, 0.7),
              "hip": (0.47, 0.75), "knee": (0.62, 0.68), "ankle": (0.58, 0.9)}
    assert posture(*person(crouch)) != "lying"


def test_sitting_on_the_floor_legs_out_is_not_lying():
    # the box is wide and the legs are flat, but the torso is upright
    long_sit = {**HEAD, "nose": (0.3, 0.4), "eye": (0.3, 0.38), "ear": (0.3, 0.39),
                "shoulder": (0.3, 0.5), "elbow": (0.33, 0.62), "wrist": (0.38, 0.72),
                "hip": (0.3, 0.78), "knee": (0.55, 0.78), "ankle": (0.8, 0.8)}
    assert posture(*person(long_sit)) not in ("lying", "standing")


def test_a_kick_is_not_sitting():
    # a football kick: the knee of the stretched leg as high as the hip, like sitting, but that
    # leg goes out sideways and the foot is not under the knee
    kick = {**HEAD, "shoulder": (0.45, 0.3), "elbow": (0.3, 0.35), "wrist": (0.2, 0.3),
            "left_hip": (0.52, 0.6), "right_hip": (0.46, 0.62), "left_knee": (0.68, 0.64),
            "right_knee": (0.44, 0.7), "left_ankle": (0.9, 0.75), "right_ankle": (0.52, 0.92)}
    assert posture(*person(kick)) is None
    # and without confident ankles: no evidence of hanging shins, no "sitting"
    xy, scores, box = person(kick)
    scores[[_K["left_ankle"], _K["right_ankle"]]] = 0.1
    assert posture(xy, scores, box) is None


def test_lying_needs_the_legs_and_a_wide_box():
    xy, scores, box = person(LYING)
    legs = [_K[f"{side}_{part}"] for side in ("left", "right") for part in ("knee", "ankle")]
    hidden = scores.copy()
    hidden[legs] = 0.0
    assert posture(xy, hidden, box) is None
    # the same keypoints in a box about as high as wide (0.82 x 0.85): the detector saw
    # something taller than the keypoints say; lying needs width >= 1.3 x height
    assert posture(xy, scores, (box[0], 0.1, box[2], 0.95)) is None


def test_too_few_confident_keypoints_or_no_torso_is_none():
    xy, scores, box = person(STANDING)
    assert posture(xy, np.where(np.arange(17) < 7, scores, 0.1), box) is None
    no_hips = scores.copy()
    no_hips[[_K["left_hip"], _K["right_hip"]]] = 0.0
    assert posture(xy, no_hips, box) is None


def test_cut_off_legs_are_none_not_standing():
    xy, scores, box = person(STANDING)
    scores[[_K["left_knee"], _K["right_knee"], _K["left_ankle"], _K["right_ankle"]]] = 0.05
    assert posture(xy, scores, box) is None


def test_keypoints_outside_the_frame_do_not_count():
    xy, scores, box = person(LYING)
    xy[[_K["left_knee"], _K["right_knee"], _K["left_ankle"], _K["right_ankle"]], 0] = 1.2
    assert posture(xy, scores, box) is None


@pytest.mark.parametrize("tilt", [40.0, 50.0, 60.0])
def test_a_leaning_torso_is_none(tilt):
    # between upright and flat: neither standing nor lying
    xy, scores, box = person(STANDING)
    hip = xy[_K["left_hip"]].copy()
    angle = np.radians(tilt)
    for part in ("left_shoulder", "right_shoulder"):
        xy[_K[part]] = hip + 0.27 * np.array([np.sin(angle), -np.cos(angle)])
    assert posture(xy, scores, box) is None


@settings(max_examples=300, deadline=None)
@pytest.mark.filterwarnings("error::RuntimeWarning")  # an overflow is a number it did not expect
@given(xy=arrays(np.float64, (17, 2), elements=st.floats(allow_nan=True, allow_infinity=True)),
       scores=arrays(np.float64, (17,), elements=st.floats(allow_nan=True, allow_infinity=True)),
       box=st.tuples(*[st.floats(allow_nan=True, allow_infinity=True)] * 4),
       aspect=st.floats(allow_nan=True, allow_infinity=True))
def test_any_numbers_give_a_posture_or_none(xy, scores, box, aspect):
    assert posture(xy, scores, box, aspect) in (*POSTURES, None)


@settings(max_examples=200, deadline=None)
@given(xy=arrays(np.float64, (17, 2), elements=st.floats(0, 1)),
       scores=arrays(np.float64, (17,), elements=st.floats(0, 1)))
def test_lying_is_only_said_of_a_flat_body_in_a_wide_box(xy, scores):
    x1, y1 = xy.min(axis=0)
    x2, y2 = xy.max(axis=0)
    if posture(xy, scores, (x1, y1, x2, y2)) == "lying":
        seen = xy[scores >= 0.3]
        assert np.ptp(seen[:, 1]) <= 0.45 * np.ptp(seen[:, 0])
        assert (x2 - x1) >= 1.3 * (y2 - y1)


def test_odd_shapes_are_none():
    assert posture(np.zeros((5, 2)), np.ones(5), (0, 0, 1, 1)) is None
    assert posture(np.zeros((17, 2)), np.ones(17), (0, 0, 1)) is None
    assert posture("x", None, None) is None
