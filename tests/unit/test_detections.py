"""NanoDet post-processing: anchor grid, distance decoding, NMS (against a numpy reference), to_frame."""

import itertools
import math
import warnings

import cv2
import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from edge_captioner.model.detections import (
    CENTRE_OFFSET,
    MIN_SIDE,
    Detection,
    anchor_points,
    decode_distances,
    detect,
    iou,
    nms,
    to_frame,
)
from edge_captioner.model.preprocess import prepare_image

REG_MAX = 10
BINS = 4 * (REG_MAX + 1)


def one_hot_logits(sides, reg_max=REG_MAX, high=50.0):
    """Box logits whose distribution puts (all but e^-50 of) its mass on bin sides[i] for side i."""
    out = np.zeros(4 * (reg_max + 1))
    for i, b in enumerate(sides):
        out[i * (reg_max + 1) + b] = high
    return out


def reference_nms(boxes, scores, labels, thr, class_agnostic=False):
    """The textbook greedy loop (ties broken by index, empty boxes never kept)."""
    kept = []
    for i in sorted(range(len(boxes)), key=lambda i: (-scores[i], i)):
        b = boxes[i]
        if not (b[2] - b[0] >= MIN_SIDE and b[3] - b[1] >= MIN_SIDE):
            continue
        rivals = [k for k in kept if class_agnostic or labels[k] == labels[i]]
        if (np.asarray(iou(b, boxes[rivals]).reshape(-1)) <= thr).all():
            kept.append(i)
    return kept


def near_threshold(boxes, labels, thr, class_agnostic):
    """Two rival boxes' IoU is within float32 rounding of thr, where OpenCV and numpy may answer
    differently (exactly 0 or 1 compare alike)."""
    boxes = np.reshape(boxes, (-1, 4))
    overlap = iou(boxes[:, None], boxes[None])
    rivals = np.triu(np.ones(overlap.shape, bool), 1)
    if not class_agnostic:
        rivals &= np.equal.outer(labels, labels)
    near = (np.abs(overlap - thr) <= 1e-5) & ~((overlap == thr) & ((thr == 0) | (thr == 1)))
    return bool((near & rivals).any())


# --- anchor grid ---------------------------------------------------------------------------------

def test_anchor_grid_of_the_416_model():
    centres, strides = anchor_points(416, (8, 16, 32))
    assert CENTRE_OFFSET == 0.5
    assert centres.shape == (3549, 2) and strides.shape == (3549,)
    assert tuple(centres[0]) == (4, 4) and strides[0] == 8
    assert tuple(centres[1]) == (12, 4)  # row-major: x moves first
    assert tuple(centres[52]) == (4, 12) and tuple(centres[53]) == (12, 12)
    assert tuple(centres[2703]) == (412, 412)
    assert tuple(centres[2704]) == (8, 8) and strides[2704] == 16  # second level starts
    assert tuple(centres[2704 + 676]) == (16, 16) and strides[2704 + 676] == 32
    assert tuple(centres[-1]) == (400, 400)
    plus, _ = anchor_points(416, (8, 16, 32), offset=0.0)  # NanoDet-Plus' convention
    assert tuple(plus[0]) == (0, 0) and tuple(plus[-1]) == (384, 384)


def test_anchor_grid_rounds_up_like_nanodet():
    centres, _ = anchor_points(100, (8, 32))  # ceil(100/8) = 13, ceil(100/32) = 4
    assert len(centres) == 13 * 13 + 4 * 4


@pytest.mark.parametrize("args", [(0, (8,)), (416, ()), (416, (8, 0)), (41.6, (8,))])
def test_anchor_grid_rejects_nonsense(args):
    with pytest.raises(ValueError):
        anchor_points(*args)


# --- distance decoding ---------------------------------------------------------------------------

@pytest.mark.parametrize("bins", [(0, 0, 0, 0), (3, 7, 10, 1), (10, 10, 10, 10)])
def test_one_hot_distribution_decodes_to_its_bin(bins):
    np.testing.assert_allclose(decode_distances(one_hot_logits(bins)[None], REG_MAX), [bins], atol=1e-12)


def test_uniform_distribution_decodes_to_the_middle():
    assert decode_distances(np.zeros((3, BINS)), REG_MAX) == pytest.approx(np.full((3, 4), 5.0))


def test_two_equal_bins_average():
    logits = np.full(BINS, -1e4)
    logits[[2, 4]] = 7.0  # left: bins 2 and 4 equally likely
    assert decode_distances(logits[None], REG_MAX)[0, 0] == pytest.approx(3.0)


def test_decode_rejects_a_wrong_width():
    with pytest.raises(ValueError, match="reg_max 7"):
        decode_distances(np.zeros((2, BINS)), 7)


@settings(max_examples=100, deadline=None)
@given(arrays(np.float64, (5, BINS), elements=st.floats(allow_nan=False, allow_infinity=False)))
def test_decode_is_in_range_for_any_finite_logits(logits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow, invalid or divide warning, however large
        d = decode_distances(logits, REG_MAX)
    assert d.shape == (5, 4) and np.isfinite(d).all()
    assert (d >= 0).all() and (d <= REG_MAX).all()


@settings(max_examples=50, deadline=None)
@given(arrays(np.float32, (5, BINS), elements=st.floats(width=32, allow_nan=False, allow_infinity=False)))
def test_decode_float32_logits(logits):
    d = decode_distances(logits, REG_MAX)
    assert np.isfinite(d).all() and (d >= 0).all() and (d <= REG_MAX).all()


# --- detect: hand-made cases ---------------------------------------------------------------------

S = 64
STRIDES = (8, 16, 32)
CENTRES, POINT_STRIDES = anchor_points(S, STRIDES)  # 64 + 16 + 4 = 84 points
N = len(CENTRES)


def run(scores, logits, **kw):
    kw = {"input_size": S, "reg_max": REG_MAX, "score_threshold": 0.3, "iou_threshold": 0.5,
          "max_detections": 100} | kw
    return detect(scores, logits, CENTRES, POINT_STRIDES, **kw)


def test_a_box_with_known_sides_lands_where_expected():
    scores, logits = np.zeros((N, 3)), np.zeros((N, BINS))
    i = 64 + 1 * 4 + 2  # stride 16 level, x = 2, y = 1: centre (40, 24)
    assert tuple(CENTRES[i]) == (40, 24)
    scores[i, 2] = 0.9
    logits[i] = one_hot_logits((1, 0, 1, 2))  # left 16, top 0, right 16, bottom 32
    (det,) = run(scores, logits)
    assert det.label == 2 and det.score == pytest.approx(0.9)
    assert det.box == pytest.approx((24, 24, 56, 56), abs=1e-9)


def test_boxes_are_clipped_to_the_input():
    scores, logits = np.zeros((N, 1)), np.zeros((N, BINS))
    scores[0, 0] = 0.8  # centre (4, 4), stride 8: 10 bins = 80 px each way
    logits[0] = one_hot_logits((10, 10, 10, 10))
    (det,) = run(scores, logits)
    assert det.box == pytest.approx((0, 0, 64, 64), abs=1e-9)


def two_overlapping(label_b):
    scores, logits = np.zeros((N, 2)), np.zeros((N, BINS))
    a, b = 64 + 5, 64 + 6  # neighbours on the stride 16 level: centres (24, 24) and (40, 24)
    scores[a, 0], scores[b, label_b] = 0.6, 0.9
    logits[a] = one_hot_logits((2, 2, 2, 2))  # (-8, -8, 56, 56) -> (0, 0, 56, 56)
    logits[b] = one_hot_logits((2, 2, 1, 2))  # (8, -8, 56, 56) -> (8, 0, 56, 56): IoU 6/7
    return scores, logits


def test_overlapping_boxes_of_one_class_keep_the_higher():
    (det,) = run(*two_overlapping(label_b=0))
    assert det.score == pytest.approx(0.9) and det.box == pytest.approx((8, 0, 56, 56))


def test_overlapping_boxes_of_two_classes_stay_unless_class_agnostic():
    dets = run(*two_overlapping(label_b=1))
    assert [(d.label, round(d.score, 6)) for d in dets] == [(1, 0.9), (0, 0.6)]
    (det,) = run(*two_overlapping(label_b=1), class_agnostic=True)
    assert det.label == 1


def test_a_point_above_threshold_in_several_classes():
    scores, logits = np.zeros((N, 4)), np.zeros((N, BINS))
    scores[10, [0, 3]] = [0.5, 0.7]
    assert [d.label for d in run(scores, logits)] == [3, 0]
    assert [d.label for d in run(scores, logits, class_agnostic=True)] == [3]


def test_threshold_is_strict_and_max_detections_caps():
    scores, logits = np.zeros((N, 1)), np.zeros((N, BINS))
    logits[:] = one_hot_logits((1, 1, 1, 1))
    scores[::2, 0] = np.linspace(0.31, 0.99, len(scores[::2]))
    scores[1, 0] = 0.3  # exactly the threshold: out
    dets = run(scores, logits, iou_threshold=1.0, max_detections=5)
    assert len(dets) == 5 and [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    assert dets[0].score == pytest.approx(0.99)
    assert all(d.score > 0.3 for d in run(scores, logits, iou_threshold=1.0))
    assert run(np.zeros((N, 80)), np.zeros((N, BINS))) == []


def test_nan_and_inf_never_come_out():
    scores, logits = np.zeros((N, 2)), np.zeros((N, BINS))
    scores[0, 0], scores[1, 0], scores[2, 1], scores[3, 1] = np.nan, np.inf, 0.9, 0.8
    logits[2, 5] = np.nan  # a candidate with a NaN box logit is dropped
    logits[3] = one_hot_logits((1, 1, 1, 1))
    (det,) = run(scores, logits)
    assert det == Detection(1, 0.8, det.box) and np.isfinite(det.box).all()


def test_mismatched_shapes_are_one_line_value_errors():
    good = np.zeros((N, 80)), np.zeros((N, BINS))
    for scores, logits, kw in [
        (np.zeros((3549, 80)), good[1], {}),  # a 416 model with a 64 grid
        (good[0], np.zeros((N, 32)), {}),  # reg_max 7 model, manifest says 10
        (good[0], good[1], {"reg_max": 7}),
        (np.zeros((1, N, 80)), good[1], {}),  # batch axis left on
        (good[0], good[1], {"iou_threshold": 1.5}),
        (good[0], good[1], {"max_detections": 0}),
    ]:
        with pytest.raises(ValueError) as e:
            run(scores, logits, **kw)
        assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="anchor grid"):
        detect(*good, CENTRES, POINT_STRIDES[:-1], input_size=S, reg_max=REG_MAX, score_threshold=0.3,
               iou_threshold=0.5, max_detections=10)


# --- NMS: properties and the numpy reference -----------------------------------------------------

@st.composite
def box_sets(draw, max_boxes=12, labels=3):
    n = draw(st.integers(0, max_boxes))
    coord = st.floats(0, 100, allow_nan=False)
    boxes = []
    for _ in range(n):
        x1, y1 = draw(coord), draw(coord)
        boxes.append((x1, y1, x1 + draw(st.floats(0, 60)), y1 + draw(st.floats(0, 60))))
    scores = draw(st.lists(st.floats(0, 1), min_size=n, max_size=n))
    cls = draw(st.lists(st.integers(0, labels - 1), min_size=n, max_size=n))
    return np.array(boxes).reshape(-1, 4), np.array(scores), np.array(cls, np.int64)


THRESHOLDS = st.sampled_from([0.0, 0.3, 0.45, 0.5, 0.6, 0.9, 1.0])


@settings(max_examples=150, deadline=None)
@given(box_sets(), THRESHOLDS, st.booleans())
def test_nms_properties(boxes_scores_labels, thr, agnostic):
    boxes, scores, labels = boxes_scores_labels
    kept = list(nms(boxes, scores, labels, thr, class_agnostic=agnostic))
    assert len(set(kept)) == len(kept)
    assert [scores[i] for i in kept] == sorted((scores[i] for i in kept), reverse=True)
    for i, j in itertools.combinations(kept, 2):
        if agnostic or labels[i] == labels[j]:
            assert iou(boxes[i], boxes[j]) <= thr + 1e-6
    nonempty = [i for i, b in enumerate(boxes) if b[2] - b[0] >= MIN_SIDE and b[3] - b[1] >= MIN_SIDE]
    if nonempty:  # the best non-empty box is always kept, and first
        best = max(nonempty, key=lambda i: (scores[i], -i))
        assert kept[0] == best
    else:
        assert kept == []
    again = nms(boxes[kept], scores[kept], labels[kept], thr, class_agnostic=agnostic)
    assert list(again) == list(range(len(kept)))  # idempotent


@settings(max_examples=150, deadline=None)
@given(box_sets(), THRESHOLDS, st.booleans())
def test_opencv_nms_matches_the_numpy_reference(boxes_scores_labels, thr, agnostic):
    boxes, scores, labels = boxes_scores_labels
    # OpenCV compares in float32: where an IoU sits on the threshold either answer is right
    assume(not near_threshold(boxes, labels, thr, agnostic))
    expected = reference_nms(boxes, scores, labels, thr, class_agnostic=agnostic)
    assert list(nms(boxes, scores, labels, thr, class_agnostic=agnostic)) == expected


def test_per_class_nms_agrees_with_opencvs_batched():
    rng = np.random.default_rng(5)
    xy, wh = rng.random((400, 2)) * 300, rng.random((400, 2)) * 90 + 1
    labels, scores = rng.integers(0, 7, 400), rng.random(400)
    batched = cv2.dnn.NMSBoxesBatched(np.hstack([xy, wh]), scores.astype(np.float32),
                                      labels.astype(np.int32), 0.0, 0.5)
    kept = nms(np.hstack([xy, xy + wh]), scores, labels, 0.5)
    assert 30 < len(kept) < 400 and sorted(kept) == sorted(batched)


def test_nms_sees_fractions_and_ties():
    boxes = np.array([(0, 0, 10, 10), (0, 0, 10, 5.1), (0, 0, 10, 4.9)])  # IoU 0.51 and 0.49
    assert list(nms(boxes[:2], [0.9, 0.8], [0, 0], 0.505)) == [0]
    assert list(nms(boxes[[0, 2]], [0.9, 0.8], [0, 0], 0.495)) == [0, 1]
    far = np.array([(0, 0, 1, 1), (5, 5, 6, 6), (9, 9, 10, 10)])
    assert list(nms(far, [0.5, 0.7, 0.5], [0, 0, 0], 0.5)) == [1, 0, 2]
    # scores distinct in float64 but equal in float32 keep their float64 order
    assert list(nms(far, [0.5, 0.5 + 1e-12, 0.5 + 2e-12], [0, 0, 0], 0.5)) == [2, 1, 0]


def test_empty_boxes_are_never_kept():
    # OpenCV alone would call two empty boxes identical and drop the second, wherever it is
    boxes = np.array([(5, 5, 5, 5), (1, 1, 1, 4), (20, 20, 30, 30)], float)
    assert list(nms(boxes, [0.9, 0.8, 0.7], [0, 0, 0], 0.5)) == [2]
    assert list(cv2.dnn.NMSBoxes([(5, 5, 0, 0), (1, 1, 0, 3)], [0.9, 0.8], 0.0, 0.5)) == [0]
    assert list(nms(np.array([(0, 0, 1e-7, 5), (0, 0, 5, 5)]), [0.9, 0.8], [0, 0], 0.5)) == [1]


# --- detect: properties --------------------------------------------------------------------------

C = 3
# hypothesis' own arrays (mostly one fill value, with edge cases: NaN, inf, huge logits) ...
edge_scores = arrays(np.float32, (N, C), elements=st.one_of(
    st.floats(0, 1, width=32), st.just(np.nan), st.just(np.inf)))
edge_logits = arrays(np.float32, (N, BINS), elements=st.one_of(
    st.floats(-20, 20, width=32), st.floats(width=32, allow_nan=False, allow_infinity=False),
    st.just(np.nan)))


@st.composite
def dense_outputs(draw):
    """... and busy ones like a real frame's: many candidates, overlapping boxes of all sizes."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    scores = (rng.random((N, C)) ** draw(st.sampled_from([1, 4, 12]))).astype(np.float32)
    logits = (rng.normal(size=(N, BINS)) * draw(st.sampled_from([0.5, 3.0, 10.0]))).astype(np.float32)
    return scores, logits


outputs = st.one_of(st.tuples(edge_scores, edge_logits), dense_outputs())


def reference_detect(scores, logits, thr, iou_thr, agnostic):
    """No threshold-first shortcut: decode every point, then filter and NMS. Also says whether
    two candidates' IoU is too near iou_thr for OpenCV's float32 and numpy to agree."""
    d = decode_distances(logits, REG_MAX) * POINT_STRIDES[:, None]
    boxes = np.clip(np.concatenate([CENTRES - d[:, :2], CENTRES + d[:, 2:]], axis=1), 0, S)
    pts, cls = np.nonzero(np.isfinite(scores) & (scores > thr) & np.isfinite(boxes).all(axis=1)[:, None])
    kept = reference_nms(boxes[pts], scores[pts, cls].astype(float), cls, iou_thr, agnostic)
    ambiguous = near_threshold(boxes[pts], cls, iou_thr, agnostic)
    return [(int(cls[i]), float(scores[pts[i], cls[i]])) + tuple(boxes[pts[i]]) for i in kept], ambiguous


@settings(max_examples=100, deadline=None)
@given(outputs, st.sampled_from([0.0, 0.25, 0.5, 0.9]), THRESHOLDS, st.booleans(), st.integers(1, 20))
def test_detect_properties(scores_logits, thr, iou_thr, agnostic, max_det):
    scores, logits = scores_logits
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dets = run(scores, logits, score_threshold=thr, iou_threshold=iou_thr, class_agnostic=agnostic,
                   max_detections=max_det)
    assert len(dets) <= max_det
    assert [d.score for d in dets] == sorted((d.score for d in dets), reverse=True)
    for d in dets:
        assert isinstance(d.label, int) and 0 <= d.label < C
        assert math.isfinite(d.score) and thr < d.score <= 1
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= S and 0 <= y1 < y2 <= S
    for a, b in itertools.combinations(dets, 2):
        if agnostic or a.label == b.label:
            assert iou(a.box, b.box) <= iou_thr + 1e-6
    expected, ambiguous = reference_detect(scores, logits, thr, iou_thr, agnostic)
    assume(not ambiguous)
    expected = expected[:max_det]
    assert [d.label for d in dets] == [e[0] for e in expected]
    got = np.reshape([(d.score,) + d.box for d in dets], (-1, 5))
    np.testing.assert_allclose(got, np.reshape([e[1:] for e in expected], (-1, 5)))


# --- back to the frame ---------------------------------------------------------------------------

def test_to_frame_by_hand():
    assert to_frame((0, 0, 416, 416), 416, 640, 480, "stretch") == (0, 0, 1, 1)
    assert to_frame((104, 0, 312, 208), 416, 640, 480, "stretch") == (0.25, 0, 0.75, 0.5)
    # 640x480 letterboxed: a 640 square, the frame at y 80..560, so 52..364 in a 416 input
    assert to_frame((0, 52, 416, 364), 416, 640, 480, "letterbox") == pytest.approx((0, 0, 1, 1))
    assert to_frame((0, 0, 416, 416), 416, 640, 480, "letterbox") == (0, 0, 1, 1)  # clipped
    # 640x480 centre-cropped: the 480 square at x 80..560
    assert to_frame((0, 0, 416, 416), 416, 640, 480, "center_crop") == pytest.approx((0.125, 0, 0.875, 1))
    with pytest.raises(ValueError):
        to_frame((0, 0, 1, 1), 416, 640, 480, "fit")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(-50, 500), min_size=4, max_size=4), st.integers(1, 2000), st.integers(1, 2000),
       st.sampled_from(["stretch", "letterbox", "center_crop"]))
def test_to_frame_is_normalised(box, w, h, mode):
    out = to_frame(box, 416, w, h, mode)
    assert all(0 <= v <= 1 for v in out)
    if box[0] <= box[2] and box[1] <= box[3]:
        assert out[0] <= out[2] and out[1] <= out[3]


def found_rectangle(image):
    ys, xs = np.nonzero(image.max(axis=2) > 127)
    return xs.min(), ys.min(), xs.max() + 1, ys.max() + 1  # pixel edges, xyxy


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_letterbox_round_trip_through_prepare_image(data):
    size = data.draw(st.sampled_from([64, 96, 320, 416]))
    w, h = data.draw(st.integers(20, 1300)), data.draw(st.integers(20, 1300))
    side = max(w, h)
    px = math.ceil(4 * side / size)  # the rectangle is at least 4 input pixels each way
    assume(w >= px and h >= px)
    x1, y1 = data.draw(st.integers(0, w - px)), data.draw(st.integers(0, h - px))
    x2, y2 = data.draw(st.integers(x1 + px, w)), data.draw(st.integers(y1 + px, h))
    frame = np.zeros((h, w, 3), np.uint8)
    frame[y1:y2, x1:x2] = 255
    image = prepare_image(frame, size, "letterbox")
    got = to_frame(found_rectangle(image), size, w, h, "letterbox")
    # half-covered input pixels go either way: 1 input pixel, in frame pixels, plus rounding
    tol_x, tol_y = (side / size + 1) / w, (side / size + 1) / h
    want = (x1 / w, y1 / h, x2 / w, y2 / h)
    for g, e, t in zip(got, want, (tol_x, tol_y, tol_x, tol_y), strict=True):
        assert abs(g - e) <= t, (got, want)


@pytest.mark.parametrize("w,h", [(640, 480), (480, 640), (1279, 721), (301, 300)])
def test_center_crop_round_trip_through_prepare_image(w, h):
    size, side = 96, min(w, h)
    frame = np.zeros((h, w, 3), np.uint8)
    x1, y1 = (w - side) // 2 + side // 4, (h - side) // 2 + side // 3
    x2, y2 = x1 + side // 2, y1 + side // 2
    frame[y1:y2, x1:x2] = 255
    got = to_frame(found_rectangle(prepare_image(frame, size, "center_crop")), size, w, h, "center_crop")
    tol_x, tol_y = (side / size + 1) / w, (side / size + 1) / h
    want = (x1 / w, y1 / h, x2 / w, y2 / h)
    assert all(abs(g - e) <= t for g, e, t in zip(got, want, (tol_x, tol_y, tol_x, tol_y), strict=True))


def test_a_closer_crop_is_centred_and_cut_by_the_frame():
    from edge_captioner.model.detections import closer_crop, from_crop

    assert closer_crop((0.4, 0.4, 0.6, 0.6), 100, 100, 2.0) == (30, 30, 70, 70)
    assert closer_crop((0.0, 0.0, 0.2, 0.1), 100, 100, 2.0) == (0, 0, 30, 25)
    crop = closer_crop((0.4, 0.4, 0.6, 0.6), 200, 100, 2.0)
    assert from_crop((0.0, 0.0, 1.0, 1.0), crop, 200, 100) == (
        crop[0] / 200, crop[1] / 100, crop[2] / 200, crop[3] / 100)


@given(st.tuples(*[st.floats(0, 1)] * 4), st.integers(16, 4000), st.integers(16, 4000),
       st.floats(1, 8))
def test_a_box_mapped_from_its_closer_crop_is_itself(box, width, height, grow):
    from edge_captioner.model.detections import closer_crop, from_crop

    x1, x2 = sorted(box[::2])
    y1, y2 = sorted(box[1::2])
    crop = closer_crop((x1, y1, x2, y2), width, height, grow)
    assert 0 <= crop[0] <= crop[2] <= width and 0 <= crop[1] <= crop[3] <= height
    if crop[2] > crop[0] and crop[3] > crop[1]:
        inner = ((x1 * width - crop[0]) / (crop[2] - crop[0]), (y1 * height - crop[1]) / (crop[3] - crop[1]),
                 (x2 * width - crop[0]) / (crop[2] - crop[0]), (y2 * height - crop[1]) / (crop[3] - crop[1]))
        back = from_crop(inner, crop, width, height)
        assert np.allclose(back, (x1, y1, x2, y2), atol=1e-9)
