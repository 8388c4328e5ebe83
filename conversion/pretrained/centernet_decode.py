"""CenterNet's two heads -> a few scored boxes: peaks of the centre heatmap, their sizes, NMS.

The second COCO detector (CenterNet-MobileNetV3, conversion/pretrained/centernet.py) ends before
its own decoding: per cell of a stride-4 grid it gives 80 class heatmap values (sigmoid applied)
and the box's four distances from the cell (left, top, right, bottom, input pixels). This is the
decoding the graph itself did (its `tower_0/detections`), in pure numpy:
- a (cell, class) is an object's centre when its value is the maximum of the 3x3 cells around it
  (the graph's Equal(heatmap, MaxPool3x3(heatmap)): ties are all kept) and above the threshold;
- the cell's point is its corner, (x * stride, y * stride): the graph adds no half cell;
- the box is (px - left, py - top, px + right, py + bottom), clipped to the input.
Then, unlike the graph (which keeps its best 100 peaks), NMS per class (detections.nms), as
@vladmandic/human does after the graph.

The heatmap may be passed still quantized (int8) with its scale and zero point: the threshold and
the peak test are then done on the integers (the same order), and only the candidates are turned
into scores, which spares dequantizing 1.3 million values per frame.
"""

from __future__ import annotations

import math

import numpy as np

from edge_captioner.model.detections import Detection, nms

# (dy, dx) of a cell's 3x3 neighbourhood
_AROUND = np.array([(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)])


def peaks(heatmap: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(H, W, C) heatmap -> (ys, xs, classes) of the values above threshold that are the maximum
    of their 3x3 neighbourhood in the same class (cells outside the map do not count). NaN is
    never a peak."""
    heatmap = np.asarray(heatmap)
    if heatmap.ndim != 3 or 0 in heatmap.shape:
        raise ValueError(f"heatmap of shape {heatmap.shape}: expected (H, W, C)")
    ys, xs, cs = np.nonzero(heatmap > threshold)
    if not len(ys):
        return ys, xs, cs
    h, w = heatmap.shape[:2]
    # clipping a neighbour's index to the map repeats a cell inside the window: the max is the same
    ny = np.clip(ys[:, None] + _AROUND[None, :, 0], 0, h - 1)
    nx = np.clip(xs[:, None] + _AROUND[None, :, 1], 0, w - 1)
    around = heatmap[ny, nx, cs[:, None]]
    keep = heatmap[ys, xs, cs] >= around.max(axis=1)
    return ys[keep], xs[keep], cs[keep]


def decode(heatmap: np.ndarray, sizes: np.ndarray, *, stride: int, input_size: int,
           score_threshold: float, iou_threshold: float, max_detections: int,
           heatmap_scale: float = 1.0, heatmap_zero: int = 0,
           sizes_scale: float = 1.0, sizes_zero: int = 0) -> list[Detection]:
    """The heads of one image -> at most max_detections detections, best score first.

    heatmap (H, W, C) and sizes (H, W, 4), raw: a value v means (v - zero) * scale (1.0 and 0
    for float heads). Boxes in input pixels (0..input_size); NMS per class. A candidate whose
    distances are not finite is dropped: no NaN comes out."""
    heatmap, sizes = np.asarray(heatmap), np.asarray(sizes)
    if heatmap.ndim != 3 or sizes.shape != heatmap.shape[:2] + (4,):
        raise ValueError(f"heads of shapes {heatmap.shape} and {sizes.shape}: expected (H, W, C) "
                         "and (H, W, 4)")
    if not (isinstance(stride, (int, np.integer)) and stride > 0
            and isinstance(input_size, (int, np.integer)) and input_size > 0):
        raise ValueError(f"stride and input_size must be positive ints, not {stride!r}, "
                         f"{input_size!r}")
    if not (0.0 <= iou_threshold <= 1.0 and math.isfinite(score_threshold)
            and max_detections >= 1 and heatmap_scale > 0 and sizes_scale > 0):
        raise ValueError(f"bad thresholds or scales: score {score_threshold}, iou {iou_threshold}, "
                         f"max_detections {max_detections}, scales {heatmap_scale}, {sizes_scale}")
    # the threshold in the heatmap's own units (a positive scale keeps the order)
    ys, xs, cs = peaks(heatmap, score_threshold / heatmap_scale + heatmap_zero)
    scores = (heatmap[ys, xs, cs].astype(np.float64) - heatmap_zero) * heatmap_scale
    dist = (sizes[ys, xs].astype(np.float64) - sizes_zero) * sizes_scale
    keep = np.isfinite(scores) & np.isfinite(dist).all(axis=1)
    ys, xs, cs, scores, dist = ys[keep], xs[keep], cs[keep], scores[keep], dist[keep]
    point = np.stack([xs, ys], axis=1).astype(np.float64) * stride
    boxes = np.clip(np.concatenate([point - dist[:, :2], point + dist[:, 2:]], axis=1),
                    0, input_size)
    kept = nms(boxes, scores, cs, iou_threshold)[:max_detections]
    return [Detection(int(cs[i]), float(scores[i]), tuple(float(v) for v in boxes[i]))
            for i in kept]
