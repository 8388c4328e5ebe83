"""NanoDet's outputs -> a few scored boxes: anchor grid, distance decoding, NMS, back to the frame.

The detector is a full-int8 TFLite NanoDet (COCO, generalized-focal-loss head). Its graph ends
before post-processing: per anchor point it gives 80 class probabilities (sigmoid applied) and,
for each side of the box, reg_max + 1 logits of a distribution over distances 0..reg_max in units
of the level's stride. This module is that post-processing, in pure numpy, no interpreter and no
I/O. It is ours because it is ~60 lines and the alternatives are not: NanoDet's own is PyTorch,
its C++ demos are C++, and TensorFlow must never be imported on the device. The NMS loop itself
is OpenCV's (cv2.dnn.NMSBoxes, per class); tests compare it with a numpy reference.

Conventions, kept as named constants so they are easy to change if real photos disagree:
- CENTRE_OFFSET = 0.5: the point of cell (x, y) of a level is ((x + 0.5) * stride,
  (y + 0.5) * stride). NanoDet's GFL head (nanodet/model/head/gfl_head.py,
  get_single_level_center_point: `(torch.arange(w) + 0.5) * stride`), its pre-2022 C++ demos
  (`ct_x = (x + 0.5) * stride`) and vladmandic/human's src/object/nanodet.ts
  (`cx = (0.5 + Math.trunc(i % baseSize)) / baseSize`; only its centres: it decodes distances by
  argmax and a 2.5 scale) agree. NanoDet-Plus differs: 0.0 (nanodet_plus_head.py,
  get_single_level_center_priors: `torch.arange(w) * stride`, and the demos since Dec 2021).
- SIDE_ORDER: the four distances are left, top, right, bottom (nanodet/util/box_transform.py,
  distance2bbox: x1 = x - d0, y1 = y - d1, x2 = x + d2, y2 = y + d3).
- Levels are concatenated in stride order, each row-major (index = y * W + x), W = ceil(S/stride).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..bundle.choices import RESIZE_MODES

CENTRE_OFFSET = 0.5
SIDE_ORDER = ("left", "top", "right", "bottom")
MIN_SIDE = 1e-6  # a box narrower or lower than this (pixels or 0..1) is empty: NMS never keeps it
_LTRB = [SIDE_ORDER.index(side) for side in ("left", "top", "right", "bottom")]


@dataclass(frozen=True)
class Detection:
    label: int  # class index, 0..C-1
    score: float  # the class probability, 0..1
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in input pixels (or 0..1 after to_frame)


def anchor_points(input_size: int, strides: Sequence[int],
                  offset: float = CENTRE_OFFSET) -> tuple[np.ndarray, np.ndarray]:
    """The anchor grid of a square input: centres (N, 2) as (x, y) in input pixels, strides (N,).

    Depends only on the model, so compute it once. Each level is ceil(input_size / stride) wide,
    as NanoDet computes its feature map sizes."""
    if not (isinstance(input_size, (int, np.integer)) and input_size > 0):
        raise ValueError(f"input_size must be a positive int, not {input_size!r}")
    if not strides or not all(isinstance(s, (int, np.integer)) and s > 0 for s in strides):
        raise ValueError(f"strides must be positive ints, not {strides!r}")
    centres, point_strides = [], []
    for stride in strides:
        side = math.ceil(input_size / stride)
        y, x = np.mgrid[0:side, 0:side]
        centres.append((np.stack([x.ravel(), y.ravel()], axis=1) + offset) * stride)
        point_strides.append(np.full(side * side, stride, np.float64))
    return np.concatenate(centres).astype(np.float64), np.concatenate(point_strides)


def decode_distances(logits: np.ndarray, reg_max: int) -> np.ndarray:
    """(K, 4 * (reg_max + 1)) bin logits -> (K, 4) expected bin, 0..reg_max, in SIDE_ORDER.

    Softmax over each side's bins (max subtracted: any finite logits, however large, give a
    finite result) dotted with [0, 1, ..., reg_max]. A side with a non-finite logit gives NaN."""
    if not (isinstance(reg_max, (int, np.integer)) and reg_max >= 1):
        raise ValueError(f"reg_max must be an int >= 1, not {reg_max!r}")
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or logits.shape[1] != 4 * (reg_max + 1):
        raise ValueError(f"box logits of shape {logits.shape} do not fit reg_max {reg_max}: "
                         f"expected (K, {4 * (reg_max + 1)})")
    bins = logits.reshape(len(logits), 4, reg_max + 1)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):  # +-1e308: -inf, exp -> 0
        e = np.exp(bins - bins.max(axis=2, keepdims=True))
        expected = (e @ np.arange(reg_max + 1, dtype=np.float64)) / e.sum(axis=2)
    return np.clip(expected, 0.0, float(reg_max))  # the clip only removes rounding past reg_max


def iou(a, b) -> np.ndarray | float:
    """Intersection over union of xyxy boxes; broadcasts over leading axes. 0 when the union is empty."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    union = ((a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
             + (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1]) - inter)
    out = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    return float(out) if out.ndim == 0 else out


def nms(boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, iou_threshold: float, *,
        class_agnostic: bool = False) -> np.ndarray:
    """Greedy NMS over xyxy boxes (K, 4), scores (K,), labels (K,) -> kept indices, best score first
    (ties: lower index first).

    A box is dropped when its IoU with a kept, better box (of its class, unless class_agnostic)
    is above iou_threshold. Empty (a side under MIN_SIDE) or non-finite boxes are never kept:
    OpenCV counts two boxes whose areas sum to under DBL_EPSILON as identical (IoU 1), so they
    would suppress each other wherever they are."""
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    if not len(boxes) == np.size(scores) == np.size(labels):
        raise ValueError(f"{len(boxes)} boxes but {np.size(scores)} scores and {np.size(labels)} labels")
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    w, h = boxes[order, 2] - boxes[order, 0], boxes[order, 3] - boxes[order, 1]
    order = order[np.isfinite(boxes[order]).all(axis=1) & (w >= MIN_SIDE) & (h >= MIN_SIDE)]
    xywh = np.concatenate([boxes[order, :2], boxes[order, 2:] - boxes[order, :2]], axis=1)
    # OpenCV sees ranks, not scores: float32 scores could tie where ours differ and reorder them
    ranks = np.arange(len(order), 0, -1, dtype=np.float32)
    if class_agnostic:
        groups = [np.arange(len(order))]
    else:  # one NMSBoxes per class, not NMSBoxesBatched: that compares every box with every kept
        # box of all classes (it only shifts each class away), 250 ms against 9 ms for 9,671
        # candidates in 80 classes on x86; it wins by 30 us when there are a handful
        by_label = np.argsort(np.asarray(labels)[order], kind="stable")
        groups = np.split(by_label, np.flatnonzero(np.diff(np.asarray(labels)[order][by_label])) + 1)
    kept = [g[np.asarray(cv2.dnn.NMSBoxes(xywh[g], ranks[g], 0.0, float(iou_threshold)), np.intp)
              .reshape(-1)] for g in groups if len(g)]
    return order[np.sort(np.concatenate(kept))] if kept else np.zeros(0, np.intp)  # rank order


def detect(scores: np.ndarray, box_logits: np.ndarray, centres: np.ndarray, strides: np.ndarray, *,
           input_size: int, reg_max: int, score_threshold: float, iou_threshold: float,
           max_detections: int, class_agnostic: bool = False) -> list[Detection]:
    """NanoDet outputs (dequantized) -> at most max_detections detections, best score first.

    scores (N, C) class probabilities; box_logits (N, 4 * (reg_max + 1)); centres, strides from
    anchor_points(input_size, ...). A (point, class) is a candidate when its score is above
    score_threshold; only candidates are decoded. Boxes are in input pixels, clipped to
    [0, input_size]; NMS is per class unless class_agnostic. Non-finite scores are ignored and a
    candidate whose box logits are not finite is dropped: no NaN ever comes out."""
    ints = (int, np.integer)
    if not (isinstance(input_size, ints) and input_size > 0 and isinstance(reg_max, ints) and reg_max >= 1):
        raise ValueError(f"input_size must be a positive int and reg_max an int >= 1, "
                         f"not {input_size!r} and {reg_max!r}")
    scores, box_logits = np.asarray(scores), np.asarray(box_logits)
    centres, strides = np.asarray(centres, np.float64), np.asarray(strides, np.float64)
    n = len(centres)
    if centres.shape != (n, 2) or strides.shape != (n,):
        raise ValueError(f"anchor grid mismatch: centres {centres.shape}, strides {strides.shape}")
    if scores.ndim != 2 or len(scores) != n:
        raise ValueError(f"scores of shape {scores.shape} do not fit the {n}-point anchor grid "
                         f"(input size or strides wrong?)")
    if box_logits.shape != (n, 4 * (reg_max + 1)):
        raise ValueError(f"box logits of shape {box_logits.shape} do not fit the {n}-point grid with "
                         f"reg_max {reg_max}: expected ({n}, {4 * (reg_max + 1)})")
    if not 0.0 <= iou_threshold <= 1.0 or not math.isfinite(score_threshold) or max_detections < 1:
        raise ValueError(f"bad thresholds: score {score_threshold}, iou {iou_threshold}, "
                         f"max_detections {max_detections}")
    points, labels = np.nonzero(scores > score_threshold)  # NaN compares False
    cand = scores[points, labels].astype(np.float64)
    keep = np.isfinite(cand)  # +inf would pass the threshold
    points, labels, cand = points[keep], labels[keep], cand[keep]
    dist = decode_distances(box_logits[points], reg_max)[:, _LTRB] * strides[points, None]
    xy = centres[points]
    boxes = np.clip(np.concatenate([xy - dist[:, :2], xy + dist[:, 2:]], axis=1), 0, input_size)
    kept = nms(boxes, cand, labels, iou_threshold, class_agnostic=class_agnostic)[:max_detections]
    return [Detection(int(labels[i]), float(cand[i]), tuple(float(v) for v in boxes[i])) for i in kept]


def to_frame(box: Sequence[float], input_size: int, frame_width: int, frame_height: int,
             resize: str) -> tuple[float, float, float, float]:
    """An input-pixel xyxy box -> the same box in the original frame, normalised to 0..1 (clipped).

    Inverts edge_captioner.model.preprocess.fit_square: "stretch" scales each axis; "letterbox" padded
    the frame to a max(w, h) square, the frame at ((side - w) // 2, (side - h) // 2), then scaled
    it; "center_crop" cut the min(w, h) square at the same kind of offsets, then scaled it."""
    if resize not in RESIZE_MODES:
        raise ValueError(f"unknown resize mode {resize!r}")
    x1, y1, x2, y2 = (float(v) / input_size for v in box)  # 0..1 of the square the model saw
    if resize == "stretch" or frame_width == frame_height:
        xs, ys = (x1, x2), (y1, y2)
    elif resize == "letterbox":
        side = max(frame_width, frame_height)
        dx, dy = (side - frame_width) // 2, (side - frame_height) // 2  # the frame in the square
        xs = tuple((v * side - dx) / frame_width for v in (x1, x2))
        ys = tuple((v * side - dy) / frame_height for v in (y1, y2))
    else:
        side = min(frame_width, frame_height)
        dx, dy = (frame_width - side) // 2, (frame_height - side) // 2  # the square in the frame
        xs = tuple((v * side + dx) / frame_width for v in (x1, x2))
        ys = tuple((v * side + dy) / frame_height for v in (y1, y2))
    return tuple(min(max(v, 0.0), 1.0) for v in (xs[0], ys[0], xs[1], ys[1]))


def mirror_box(box: Sequence[float]) -> tuple[float, float, float, float]:
    """A 0..1 box of a left-right mirrored frame -> the same box in the frame itself."""
    x1, y1, x2, y2 = box
    return (1.0 - x2, y1, 1.0 - x1, y2)


def area(box: Sequence[float]) -> float:
    return max(box[2] - box[0], 0.0) * max(box[3] - box[1], 0.0)


def closer_crop(box: Sequence[float], width: int, height: int,
                 grow: float) -> tuple[int, int, int, int]:
    """The pixel square (x1, y1, x2, y2) a closer look at a 0..1 box crops: centred on the box,
    `grow` times its longer side (the surroundings tell a person from a coat on a hook), cut by
    the frame's edges."""
    cx, cy = (box[0] + box[2]) / 2 * width, (box[1] + box[3]) / 2 * height
    side = max((box[2] - box[0]) * width, (box[3] - box[1]) * height) * grow
    return (max(0, int(cx - side / 2)), max(0, int(cy - side / 2)),
            min(width, int(cx + side / 2)), min(height, int(cy + side / 2)))


def from_crop(box: Sequence[float], crop: Sequence[int], width: int,
              height: int) -> tuple[float, float, float, float]:
    """A 0..1 box of a crop -> the same box as 0..1 of the whole frame."""
    x1, y1, x2, y2 = crop
    cw, ch = x2 - x1, y2 - y1
    return ((x1 + box[0] * cw) / width, (y1 + box[1] * ch) / height,
            (x1 + box[2] * cw) / width, (y1 + box[3] * ch) / height)


def merge_mirrored(found: Sequence[tuple[int, float, tuple]], mirrored: Sequence[tuple[int, float, tuple]],
                   iou_threshold: float = 0.5) -> list[tuple[int, float, tuple]]:
    """The detections of a frame and of its mirror image (boxes already mapped back), merged into
    one set that does not depend on which of the two was the original: each (label, score, box)
    of one is paired with the same label's box of the other that overlaps it most (IoU at least
    iou_threshold, best pairs first); a pair becomes one detection with the mean score and box,
    an unpaired detection keeps half its score (the other look scored it below the threshold).
    A mirrored frame therefore gives the same detections, mirrored. Best score first."""
    pairs = []
    for i, (label_a, _, box_a) in enumerate(found):
        for j, (label_b, _, box_b) in enumerate(mirrored):
            if label_a == label_b:
                overlap = iou(box_a, box_b)
                if overlap >= iou_threshold:
                    pairs.append((-overlap, i, j))
    used_a, used_b, merged = set(), set(), []
    for _, i, j in sorted(pairs):
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        (label, score_a, box_a), (_, score_b, box_b) = found[i], mirrored[j]
        merged.append((label, (score_a + score_b) / 2,
                       tuple((a + b) / 2 for a, b in zip(box_a, box_b, strict=True))))
    merged += [(label, score / 2, tuple(box)) for k, (label, score, box) in enumerate(found)
               if k not in used_a]
    merged += [(label, score / 2, tuple(box)) for k, (label, score, box) in enumerate(mirrored)
               if k not in used_b]
    return sorted(merged, key=lambda d: (-d[1], d[0], d[2]))
