"""pose.py's pure parts: MoveNet head decoding and the crop / uncrop geometry."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_captioner.model import pose

G = 48  # the heads' grid at 192 px


def heads(centre_at=(24, 24), keypoints=None, offset=(0.0, 0.0)):
    """Heads with one centre peak and each keypoint's heatmap peak where `keypoints` says, the
    regression pointing from the centre at it exactly."""
    rng = np.random.default_rng(0)
    keypoints = keypoints if keypoints is not None else [(10 + k, 5 + 2 * k) for k in range(17)]
    heat = rng.uniform(0, 0.05, (G, G, 17)).astype(np.float32)
    centre = np.zeros((G, G, 1), np.float32)
    centre[centre_at] = 0.9
    regress = np.zeros((G, G, 34), np.float32)
    offsets = np.zeros((G, G, 34), np.float32)
    for k, (y, x) in enumerate(keypoints):
        heat[y, x, k] = 0.8
        regress[centre_at][2 * k: 2 * k + 2] = (y - centre_at[0], x - centre_at[1])
        offsets[y, x, 2 * k: 2 * k + 2] = offset
    return heat, centre, regress, offsets


def test_decode_finds_each_peak_with_its_offset():
    keypoints = [(10 + k, 5 + 2 * k) for k in range(17)]
    yx, scores, centre = pose.decode(*heads(keypoints=keypoints, offset=(0.25, -0.5)))
    expected = (np.array(keypoints, np.float32) + [0.25, -0.5]) / G
    np.testing.assert_allclose(yx, expected, atol=1e-6)
    np.testing.assert_allclose(scores, 0.8)
    assert centre == pytest.approx(0.9)


def test_decode_takes_the_centre_persons_keypoint_not_a_brighter_neighbours():
    heat, centre, regress, offsets = heads()
    # a bystander's nose far from where the centre person's nose is regressed, and brighter
    heat[40, 45, 0] = 0.95
    yx, scores, _ = pose.decode(heat, centre, regress, offsets)
    assert tuple(np.round(yx[0] * G).astype(int)) == (10, 5)


def test_decode_prefers_the_person_in_the_middle_of_the_crop():
    heat, centre, regress, offsets = heads()
    centre[2, 2, 0] = 0.95  # a slightly surer centre at the crop's corner: weighted down
    _, _, score = pose.decode(heat, centre, regress, offsets)
    assert score == pytest.approx(0.9)


def test_decode_refuses_heads_that_do_not_fit():
    heat, centre, regress, offsets = heads()
    with pytest.raises(ValueError):
        pose.decode(heat, centre, regress[:, :, :30], offsets)


def test_square_crop_is_centred_on_the_box_with_its_margin():
    x0, y0, side = pose.square_crop((0.25, 0.1, 0.5, 0.9), 640, 480, 0.25)
    assert side == pytest.approx(0.8 * 480 * 1.25)
    assert x0 + side / 2 == pytest.approx(0.375 * 640)
    assert y0 + side / 2 == pytest.approx(0.5 * 480)


@settings(max_examples=200, deadline=None)
@given(box=st.tuples(st.floats(0, 0.9), st.floats(0, 0.9), st.floats(0.01, 0.1), st.floats(0.01, 0.1)),
       size=st.tuples(st.integers(16, 4000), st.integers(16, 4000)),
       margin=st.floats(0, 1), point=st.tuples(st.floats(0, 1), st.floats(0, 1)))
def test_crop_and_uncrop_are_inverse(box, size, margin, point):
    x1, y1, dw, dh = box
    w, h = size
    crop = pose.square_crop((x1, y1, x1 + dw, y1 + dh), w, h, margin)
    x0, y0, side = crop
    # a frame point -> crop fraction -> back
    fx, fy = point
    yx = np.array([[((fy * h) - y0) / side, ((fx * w) - x0) / side]] * 17, np.float32)
    back = pose.to_frame(yx, crop, w, h)
    np.testing.assert_allclose(back[0], (fx, fy), atol=1e-4)


def test_crop_image_puts_the_box_in_the_middle_and_pads_black():
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[20:80, 150:190] = (0, 0, 255)  # a red (BGR) person box at the right edge
    box = (150 / 200, 20 / 100, 190 / 200, 80 / 100)
    crop = pose.square_crop(box, 200, 100, 0.25)
    image = pose.crop_image(frame, crop, 96)
    assert image.shape == (96, 96, 3)
    middle = image[40:56, 40:56]
    assert (middle[..., 0] > 200).all() and (middle[..., 2] < 20).all()  # RGB now: red
    assert image[:5].max() == 0  # above the frame: black


def test_largest_first_caps_the_people():
    boxes = [(0, 0, 0.1, 0.1), (0, 0, 0.5, 0.5), (0, 0, 0.3, 0.3), (0.5, 0.5, 1.0, 1.0)]
    assert pose.largest_first(boxes, 2) == [boxes[1], boxes[3]]
    assert pose.largest_first(boxes, 0) == []


class _FakeGraph:
    """Stands in for runtime.Graph: records the crops it is given, answers fixed heads."""

    def __init__(self):
        self.images = []
        self.heads = dict(zip(pose.HEADS, heads(), strict=True))

    def quantize(self, name, value):
        return value

    def set(self, name, value):
        self.images.append(value)

    def invoke(self):
        pass

    def get(self, name):
        return self.heads[name][np.newaxis]

    def dequantize(self, name, value):
        return value


def test_estimator_poses_the_largest_people_only_and_maps_back_to_the_frame():
    graph = _FakeGraph()
    estimator = pose.PoseEstimator(graph, 192, margin=0.0, max_people=2)
    frame = np.zeros((480, 640, 3), np.uint8)
    boxes = [(0.0, 0.0, 0.1, 0.1), (0.25, 0.25, 0.75, 0.75), (0.5, 0.0, 0.8, 0.6)]
    found = estimator.keypoints(frame, boxes)
    assert [k.box for k in found] == [boxes[1], boxes[2]]
    assert len(graph.images) == 2 and graph.images[0].shape == (1, 192, 192, 3)
    # keypoint 0 sits at cell (10, 5) of the 48 grid: fractions of the square crop around box 1
    x0, y0, side = pose.square_crop(boxes[1], 640, 480, 0.0)
    assert found[0].xy[0] == pytest.approx(((x0 + 5 / 48 * side) / 640, (y0 + 10 / 48 * side) / 480))
    assert found[0].centre == pytest.approx(0.9)
