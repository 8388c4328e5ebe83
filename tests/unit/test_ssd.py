"""SSD post-processing (model/ssd.py): TF OD API anchors, box decoding, sigmoid scores, NMS."""

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_captioner.model import ssd
from edge_captioner.model.detections import MIN_SIDE, iou

# the Open Images SSD-MobileNetV2 (conversion/pretrained/objectron.py) at 300 px
CONFIG = ssd.AnchorConfig(feature_maps=(19, 10, 5, 3, 2, 1), min_scale=0.2, max_scale=0.95,
                          aspect_ratios=(1.0, 2.0, 0.5, 3.0, 0.3333))
ANCHORS = ssd.anchors(CONFIG)
S = 300


def test_anchor_count_and_layers_of_ssd_mobilenet_v2():
    # 19*19*3 + (10*10 + 5*5 + 3*3 + 2*2 + 1) * 6: the box predictor's 1083/600/150/54/24/6 rows
    assert ANCHORS.shape == (1917, 4)
    assert [len(layer) for layer in CONFIG.layer_boxes()] == [3, 6, 6, 6, 6, 6]


@pytest.mark.parametrize("index, expected", [
    # first cell of the reduced lowest layer: (0.1, 1), (0.2, 2), (0.2, 0.5)
    (0, (0.5 / 19, 0.5 / 19, 0.1, 0.1)),
    (1, (0.5 / 19, 0.5 / 19, 0.2 / math.sqrt(2), 0.2 * math.sqrt(2))),
    (2, (0.5 / 19, 0.5 / 19, 0.2 * math.sqrt(2), 0.2 / math.sqrt(2))),
    # the next cell of that row: x moves, y does not (rows, then columns, then anchors)
    (3, (0.5 / 19, 1.5 / 19, 0.1, 0.1)),
    # the first cell of the second row
    (19 * 3, (1.5 / 19, 0.5 / 19, 0.1, 0.1)),
    # layer 1 starts at 1083 with scale 0.2 + 0.75 / 5 = 0.35; its 6th anchor is the interpolated
    # one between 0.35 and 0.5
    (1083, (0.05, 0.05, 0.35, 0.35)),
    (1088, (0.05, 0.05, math.sqrt(0.35 * 0.5), math.sqrt(0.35 * 0.5))),
    # the last layer: one cell at the centre, scale 0.95, its interpolated anchor sqrt(0.95 * 1)
    (1911, (0.5, 0.5, 0.95, 0.95)),
    (1914, (0.5, 0.5, 0.95 / math.sqrt(3), 0.95 * math.sqrt(3))),
    (1916, (0.5, 0.5, math.sqrt(0.95), math.sqrt(0.95))),
])
def test_known_anchors(index, expected):
    assert ANCHORS[index] == pytest.approx(expected, abs=2e-5)  # 0.3333 is not 1/3


def test_bad_anchor_configurations_are_value_errors():
    for kwargs in ({"feature_maps": ()}, {"feature_maps": (0,)}, {"min_scale": 0.0},
                   {"min_scale": 0.9, "max_scale": 0.2}, {"aspect_ratios": ()},
                   {"aspect_ratios": (1.0, -2.0)}, {"offset": 1.0}):
        with pytest.raises(ValueError):
            ssd.AnchorConfig(**{"feature_maps": (3,), "min_scale": 0.2, "max_scale": 0.9,
                                "aspect_ratios": (1.0,), **kwargs})


def test_zero_encoding_is_the_anchor_itself():
    boxes = ssd.decode_boxes(np.zeros((3, 4)), ANCHORS[[0, 1083, 1916]])
    yc, xc, h, w = ANCHORS[[0, 1083, 1916]].T
    assert boxes == pytest.approx(np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], 1))


def test_encoding_by_hand():
    anchor = np.array([[0.5, 0.4, 0.2, 0.1]])  # y, x, h, w
    # ty 10 moves y by one anchor height, tx -5 x by half a width; th 5 * ln 2 doubles h
    box = ssd.decode_boxes(np.array([[10.0, -5.0, 5 * math.log(2), 0.0]]), anchor)[0]
    y, x, h, w = 0.5 + 0.2, 0.4 - 0.05, 0.4, 0.1
    assert box == pytest.approx([x - w / 2, y - h / 2, x + w / 2, y + h / 2])


def test_decode_rejects_bad_shapes_and_scales():
    with pytest.raises(ValueError):
        ssd.decode_boxes(np.zeros((2, 3)), np.zeros((2, 3)))
    with pytest.raises(ValueError):
        ssd.decode_boxes(np.zeros((2, 4)), np.zeros((3, 4)))
    with pytest.raises(ValueError):
        ssd.decode_boxes(np.zeros((2, 4)), np.zeros((2, 4)), (10, 10, 0, 5))


@given(arrays(np.float32, (8, 4), elements=st.floats(width=32, allow_nan=False,
                                                     allow_infinity=False)))
def test_any_finite_encoding_decodes_to_a_finite_box(codes):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        boxes = ssd.decode_boxes(codes, ANCHORS[:8])
    assert np.isfinite(boxes).all()
    assert (boxes[:, 2] >= boxes[:, 0]).all() and (boxes[:, 3] >= boxes[:, 1]).all()


# --- detect --------------------------------------------------------------------------------------

C = 4  # class 0 is the background


def outputs(hits: dict[tuple[int, int], float]) -> tuple[np.ndarray, np.ndarray]:
    """Logits of -10 everywhere but the given (anchor, class) -> logit; zero encodings."""
    logits = np.full((len(ANCHORS), C), -10.0, np.float32)
    for (a, c), v in hits.items():
        logits[a, c] = v
    return logits, np.zeros((len(ANCHORS), 4), np.float32)


def run(logits, enc, thr=0.5, iou_thr=0.5, most=20, **kw):
    return ssd.detect(logits, enc, ANCHORS, input_size=S, score_threshold=thr,
                      iou_threshold=iou_thr, max_detections=most, **kw)


def test_scores_are_the_sigmoid_of_the_logits_and_boxes_the_anchors_in_pixels():
    found = run(*outputs({(1916, 2): 2.0}))
    assert len(found) == 1 and found[0].label == 2
    assert found[0].score == pytest.approx(1 / (1 + math.exp(-2.0)))
    side = math.sqrt(0.95) * S
    assert found[0].box == pytest.approx((150 - side / 2, 150 - side / 2, 150 + side / 2,
                                          150 + side / 2))


def test_the_background_class_is_never_reported():
    hits = {(1916, 0): 8.0, (1083, 1): 1.0}
    assert [f.label for f in run(*outputs(hits))] == [1]
    assert [f.label for f in run(*outputs(hits), background=None)] == [0, 1]


def test_threshold_is_strict_in_score_terms():
    # sigmoid(0) = 0.5: not above 0.5, above 0.49
    assert run(*outputs({(5, 1): 0.0})) == []
    assert len(run(*outputs({(5, 1): 0.0}), thr=0.49)) == 1
    # a logit a hair over logit(0.5) = 0 has a sigmoid of exactly 0.5 (found by hypothesis)
    assert run(*outputs({(5, 1): 1.198078e-29})) == []


def test_per_class_nms_and_max_detections():
    # anchor 0 (a 0.1 box in the top-left corner) lies inside anchor 1083 (0.35, centred at
    # 0.05): clipped to the input, IoU 0.115; anchor 1916 covers the frame (IoU 0.004 with 0)
    hits = {(0, 1): 3.0, (0, 2): 2.0, (1083, 1): 2.5, (1916, 3): 1.0}
    logits, enc = outputs(hits)
    labels = sorted((f.label, round(f.score, 3)) for f in run(logits, enc))
    assert labels == [(1, 0.924), (1, 0.953), (2, 0.881), (3, 0.731)]
    assert [f.label for f in run(logits, enc, iou_thr=0.01)] == [1, 2, 3]  # 1083 goes, not 2
    assert len(run(logits, enc, class_agnostic=True, iou_thr=0.01)) == 2
    assert len(run(logits, enc, most=2)) == 2


def test_boxes_are_clipped_to_the_input():
    logits, enc = outputs({(0, 1): 5.0})
    enc[0] = (-10.0, -10.0, 20.0, 20.0)  # centred a box above-left of the frame, e^4 times larger
    (found,) = run(logits, enc)
    assert found.box[0] == 0 and found.box[1] == 0 and 0 < found.box[2] <= S


def test_mismatched_shapes_and_thresholds_are_value_errors():
    logits, enc = outputs({})
    for bad in (lambda: run(logits[:-1], enc), lambda: run(logits, enc[:, :3]),
                lambda: run(logits, enc, thr=0.0), lambda: run(logits, enc, thr=1.0),
                lambda: run(logits, enc, iou_thr=1.5), lambda: run(logits, enc, most=0),
                lambda: run(logits, enc, background=C),
                lambda: ssd.detect(logits, enc, ANCHORS[:, :3], input_size=S, score_threshold=0.5,
                                   iou_threshold=0.5, max_detections=5)):
        with pytest.raises(ValueError):
            bad()


N = 1917
edge_logits = arrays(np.float32, (N, C), elements=st.one_of(
    st.floats(-20, 20, width=32), st.just(np.nan), st.just(np.inf), st.just(-np.inf)))
edge_codes = arrays(np.float32, (N, 4), elements=st.one_of(
    st.floats(-20, 20, width=32), st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.just(np.nan), st.just(np.inf)))


@st.composite
def dense(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    logits = (rng.normal(size=(N, C)) * draw(st.sampled_from([1.0, 3.0]))).astype(np.float32)
    codes = (rng.normal(size=(N, 4)) * draw(st.sampled_from([0.5, 3.0]))).astype(np.float32)
    return logits, codes


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.tuples(edge_logits, edge_codes), dense()),
       st.sampled_from([0.05, 0.3, 0.5, 0.9]), st.sampled_from([0.0, 0.3, 0.5, 1.0]),
       st.booleans(), st.integers(1, 20))
def test_detect_properties(logits_codes, thr, iou_thr, agnostic, most):
    """Untrusted outputs (a corrupt graph, NaN, inf, huge codes): the contract holds."""
    logits, codes = logits_codes
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # exp(-inf logit) in the reference only
        found = run(logits, codes, thr=thr, iou_thr=iou_thr, most=most, class_agnostic=agnostic)
    assert len(found) <= most
    assert [f.score for f in found] == sorted((f.score for f in found), reverse=True)
    for f in found:
        assert f.label != 0 and 0 < f.label < C
        assert thr < f.score <= 1.0 and math.isfinite(f.score)
        assert all(math.isfinite(v) and 0 <= v <= S for v in f.box)
        assert f.box[2] - f.box[0] >= MIN_SIDE and f.box[3] - f.box[1] >= MIN_SIDE
    for a in range(len(found)):  # what NMS kept does not overlap above the threshold
        for b in range(a + 1, len(found)):
            if agnostic or found[a].label == found[b].label:
                assert iou(found[a].box, found[b].box) <= iou_thr + 1e-5
