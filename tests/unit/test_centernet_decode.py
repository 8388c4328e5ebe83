"""CenterNet's numpy decoding (conversion/pretrained/centernet_decode.py): peaks, boxes, NMS, quantized heads.
The graph's own decoding is compared with it in tests/conversion/test_centernet_port.py."""

from __future__ import annotations

import numpy as np
import pytest

from conversion.pretrained import centernet_decode as centernet

ARGS = {"stride": 4, "input_size": 64, "score_threshold": 0.25, "iou_threshold": 0.5,
        "max_detections": 10}


def heads(h=16, w=16, c=3):
    return np.zeros((h, w, c), np.float32), np.zeros((h, w, 4), np.float32)


def test_a_peak_gives_its_box_from_the_cells_corner():
    heat, sizes = heads()
    heat[5, 7, 2] = 0.8
    heat[5, 8, 2] = 0.5  # beside the peak: not a peak itself
    sizes[5, 7] = (3, 4, 5, 6)  # left, top, right, bottom in input pixels
    found = centernet.decode(heat, sizes, **ARGS)
    assert len(found) == 1
    d = found[0]
    assert d.label == 2 and d.score == pytest.approx(0.8)
    # the cell's point is (7 * 4, 5 * 4), no half cell
    assert d.box == pytest.approx((28 - 3, 20 - 4, 28 + 5, 20 + 6))


def test_the_threshold_is_strict_and_a_lower_neighbour_is_no_peak():
    heat, sizes = heads()
    sizes[:] = 2
    heat[2, 2, 0] = 0.25  # at the threshold: not above it
    heat[9, 9, 1], heat[10, 10, 1] = 0.6, 0.7  # diagonal neighbours: only the larger
    found = centernet.decode(heat, sizes, **ARGS)
    assert [(d.label, round(d.score, 3)) for d in found] == [(1, 0.7)]


def test_equal_neighbours_are_both_peaks_then_nms_keeps_one():
    heat, sizes = heads()
    sizes[:] = 8
    heat[4, 4, 0] = heat[4, 5, 0] = 0.9  # a plateau: both equal their 3x3 max, as in the graph
    ys, xs, _ = centernet.peaks(heat, 0.3)
    assert sorted(zip(ys.tolist(), xs.tolist(), strict=True)) == [(4, 4), (4, 5)]
    assert len(centernet.decode(heat, sizes, **ARGS)) == 1  # boxes 4 px apart, 16 px wide


def test_nms_is_per_class():
    heat, sizes = heads()
    sizes[:] = 8
    heat[4, 4, 0] = heat[4, 4, 1] = 0.9  # the same cell, two classes: both peaks, both kept
    heat[4, 5, 0] = 0.8  # no peak (0.9 beside it)
    assert sorted(d.label for d in centernet.decode(heat, sizes, **ARGS)) == [0, 1]


def test_peaks_at_the_edges_and_clipped_boxes():
    heat, sizes = heads()
    sizes[:] = 10
    heat[0, 0, 0] = heat[15, 15, 1] = 0.5
    found = {d.label: d.box for d in centernet.decode(heat, sizes, **ARGS)}
    assert found[0] == pytest.approx((0, 0, 10, 10))
    assert found[1] == pytest.approx((50, 50, 64, 64))  # 60 + 10 clipped to the input


def test_quantized_heads_decode_as_their_float_values():
    rng = np.random.default_rng(0)
    heat = rng.uniform(0, 1, (16, 16, 3)).astype(np.float32)
    sizes = rng.uniform(0, 30, (16, 16, 4)).astype(np.float32)
    h_scale, h_zero, s_scale, s_zero = 1 / 255, -128, 0.25, -100
    q_heat = np.clip(np.round(heat / h_scale) + h_zero, -128, 127).astype(np.int8)
    q_sizes = np.clip(np.round(sizes / s_scale) + s_zero, -128, 127).astype(np.int8)
    quantized = centernet.decode(q_heat, q_sizes, **ARGS, heatmap_scale=h_scale,
                                 heatmap_zero=h_zero, sizes_scale=s_scale, sizes_zero=s_zero)
    floats = centernet.decode((q_heat.astype(np.float32) - h_zero) * h_scale,
                              (q_sizes.astype(np.float32) - s_zero) * s_scale, **ARGS)
    assert len(quantized) > 1
    assert [(d.label, d.score, d.box) for d in quantized] == [
        (d.label, pytest.approx(d.score), pytest.approx(d.box)) for d in floats]


def test_best_first_and_capped():
    heat, sizes = heads()
    sizes[:] = 1
    for k in range(6):
        heat[2 * k, 2 * k, 0] = 0.4 + 0.1 * k
    found = centernet.decode(heat, sizes, **{**ARGS, "max_detections": 3})
    assert [round(d.score, 2) for d in found] == [0.9, 0.8, 0.7]


def test_non_finite_values_never_come_out():
    heat, sizes = heads()
    sizes[:] = 4
    heat[3, 3, 0] = np.nan
    heat[8, 8, 0] = 0.9
    sizes[8, 8, 2] = np.inf
    heat[12, 12, 1] = 0.7
    found = centernet.decode(heat, sizes, **ARGS)
    assert [(d.label, round(d.score, 2)) for d in found] == [(1, 0.7)]


@pytest.mark.parametrize("heat_shape, sizes_shape", [
    ((16, 16), (16, 16, 4)), ((16, 16, 3), (16, 16, 2)), ((16, 16, 3), (8, 8, 4))])
def test_heads_of_the_wrong_shape_are_refused(heat_shape, sizes_shape):
    with pytest.raises(ValueError, match="heads of shapes"):
        centernet.decode(np.zeros(heat_shape), np.zeros(sizes_shape), **ARGS)


@pytest.mark.parametrize("bad", [{"stride": 0}, {"iou_threshold": 1.5},
                                 {"score_threshold": float("nan")}, {"max_detections": 0},
                                 {"heatmap_scale": 0.0}])
def test_bad_arguments_are_refused(bad):
    heat, sizes = heads()
    with pytest.raises(ValueError):
        centernet.decode(heat, sizes, **{**ARGS, **bad})
