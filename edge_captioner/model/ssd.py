"""An SSD's raw outputs -> a few scored boxes: anchors, box decoding, sigmoid, NMS, back to the frame.

The box detector (the Open Images SSD-MobileNetV2 of MediaPipe Objectron, the only offline detector
with a Box class) is a full-int8 TFLite graph cut before its post-processing, as the TF Object
Detection API exports SSDs for TFLite: per anchor, four box encodings (ty, tx, th, tw) and one
logit per class, the background class included. This module is that post-processing in pure
numpy (the TFLite_Detection_PostProcess op would pull in a custom op and fix its thresholds in the
graph); the NMS is OpenCV's, per class (detections.nms).

Conventions, from the TF OD API (anchor_generators/multiple_grid_anchor_generator.py
create_ssd_anchors, box_coders/faster_rcnn_box_coder.py) and MediaPipe's SsdAnchorsCalculator
and TensorsToDetectionsCalculator, which agree with it:
- Layer k of L has scale min + (max - min) * k / (L - 1), and 1.0 after the last. The lowest layer,
  when reduced, has three anchors: (0.1, ratio 1), (s0, 2), (s0, 0.5); every other layer one per
  aspect ratio, then (sqrt(s_k * s_k+1), interpolated ratio). height = s / sqrt(r), width =
  s * sqrt(r), as fractions of the (square) input.
- Centres of a G x G feature map: ((x + offset) / G, (y + offset) / G); anchors are ordered by
  layer, then row, then column, then the layer's anchor list (the box predictor's reshape order).
- Decoding: y = ty / 10 * ha + ya, x = tx / 10 * wa + xa, h = exp(th / 5) * ha, w = exp(tw / 5) * wa.
- Scores are sigmoid(logit), per class (not a softmax): the graph outputs logits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .detections import Detection, nms

MAX_SIZE_CODE = math.log(1000.0)  # exp of a larger size code: a box 1000x its anchor, already absurd


@dataclass(frozen=True)
class AnchorConfig:
    """The TF OD API's ssd_anchor_generator, with the feature map sizes the network has."""
    feature_maps: tuple[int, ...]  # grid side per layer, finest first (19, 10, 5, 3, 2, 1 at 300)
    min_scale: float
    max_scale: float
    aspect_ratios: tuple[float, ...]
    interpolated_scale_aspect_ratio: float = 1.0  # 0: no interpolated anchor
    reduce_boxes_in_lowest_layer: bool = True
    offset: float = 0.5

    def __post_init__(self):
        ok = (len(self.feature_maps) >= 1
              and all(isinstance(g, (int, np.integer)) and g >= 1 for g in self.feature_maps)
              and 0 < self.min_scale <= self.max_scale and self.aspect_ratios
              and all(r > 0 for r in self.aspect_ratios)
              and self.interpolated_scale_aspect_ratio >= 0 and 0 <= self.offset < 1)
        if not ok:
            raise ValueError(f"bad anchor configuration {self}")

    def layer_boxes(self) -> list[list[tuple[float, float]]]:
        """Per layer, its anchors' (scale, aspect ratio), in order."""
        n = len(self.feature_maps)
        scales = [self.min_scale + (self.max_scale - self.min_scale) * k / (n - 1) if n > 1
                  else (self.min_scale + self.max_scale) / 2 for k in range(n)] + [1.0]
        layers = []
        for k in range(n):
            if k == 0 and self.reduce_boxes_in_lowest_layer:
                specs = [(0.1, 1.0), (scales[0], 2.0), (scales[0], 0.5)]
            else:
                specs = [(scales[k], r) for r in self.aspect_ratios]
                if self.interpolated_scale_aspect_ratio > 0:
                    specs.append((math.sqrt(scales[k] * scales[k + 1]),
                                  self.interpolated_scale_aspect_ratio))
            layers.append(specs)
        return layers


def anchors(config: AnchorConfig) -> np.ndarray:
    """(N, 4) anchors as (y centre, x centre, height, width), fractions of the input square.
    Depends only on the model: compute it once."""
    out = []
    for side, specs in zip(config.feature_maps, config.layer_boxes(), strict=True):
        scales = np.array([s for s, _ in specs])
        roots = np.sqrt([r for _, r in specs])
        heights, widths = scales / roots, scales * roots
        centres = (np.arange(side) + config.offset) / side
        yc, xc, h = np.meshgrid(centres, centres, heights, indexing="ij")  # (y, x, anchor)
        w = np.broadcast_to(widths, h.shape)
        out.append(np.stack([yc, xc, h, w], axis=-1).reshape(-1, 4))
    return np.concatenate(out).astype(np.float64)


def decode_boxes(encodings: np.ndarray, anchor_boxes: np.ndarray,
                 scales: Sequence[float] = (10.0, 10.0, 5.0, 5.0)) -> np.ndarray:
    """(K, 4) encodings (ty, tx, th, tw) against (K, 4) anchors -> (K, 4) boxes x1, y1, x2, y2 as
    fractions of the input square (not clipped). Size codes are capped (MAX_SIZE_CODE): any finite
    encoding gives a finite box."""
    e = np.asarray(encodings, np.float64)
    a = np.asarray(anchor_boxes, np.float64)
    if e.ndim != 2 or e.shape[1] != 4 or a.shape != e.shape:
        raise ValueError(f"encodings {e.shape} and anchors {a.shape} must both be (K, 4)")
    if len(scales) != 4 or not all(s > 0 for s in scales):
        raise ValueError(f"box scales must be four positive numbers, not {scales!r}")
    y = e[:, 0] / scales[0] * a[:, 2] + a[:, 0]
    x = e[:, 1] / scales[1] * a[:, 3] + a[:, 1]
    h = np.exp(np.minimum(e[:, 2] / scales[2], MAX_SIZE_CODE)) * a[:, 2]
    w = np.exp(np.minimum(e[:, 3] / scales[3], MAX_SIZE_CODE)) * a[:, 3]
    return np.stack([x - w / 2, y - h / 2, x + w / 2, y + h / 2], axis=1)


def logit(p: float) -> float:
    """The logit above which a sigmoid score is above p (0 < p < 1)."""
    return math.log(p / (1.0 - p))


def detect(logits: np.ndarray, encodings: np.ndarray, anchor_boxes: np.ndarray, *, input_size: int,
           score_threshold: float, iou_threshold: float, max_detections: int,
           box_scales: Sequence[float] = (10.0, 10.0, 5.0, 5.0), background: int | None = 0,
           class_agnostic: bool = False) -> list[Detection]:
    """SSD outputs (dequantized) -> at most max_detections detections, best score first.

    logits (N, C) per-class logits; encodings (N, 4); anchor_boxes (N, 4) from anchors(). A
    (anchor, class) is a candidate when sigmoid(logit) > score_threshold, the `background` class
    never; only candidates are decoded. Boxes are in input pixels, clipped to [0, input_size];
    NMS is per class unless class_agnostic. Non-finite logits are ignored and a candidate whose
    encoding is not finite is dropped: no NaN ever comes out."""
    logits, encodings = np.asarray(logits), np.asarray(encodings)
    anchor_boxes = np.asarray(anchor_boxes, np.float64)
    n = len(anchor_boxes)
    if anchor_boxes.shape != (n, 4):
        raise ValueError(f"anchors of shape {anchor_boxes.shape}: expected (N, 4)")
    if logits.ndim != 2 or len(logits) != n or encodings.shape != (n, 4):
        raise ValueError(f"logits {logits.shape} and encodings {encodings.shape} do not fit the "
                         f"{n} anchors: expected ({n}, C) and ({n}, 4)")
    if not (isinstance(input_size, (int, np.integer)) and input_size > 0):
        raise ValueError(f"input_size must be a positive int, not {input_size!r}")
    if not (0.0 < score_threshold < 1.0 and 0.0 <= iou_threshold <= 1.0 and max_detections >= 1):
        raise ValueError(f"bad thresholds: score {score_threshold}, iou {iou_threshold}, "
                         f"max_detections {max_detections}")
    if background is not None and not 0 <= background < logits.shape[1]:
        raise ValueError(f"background class {background} is not one of {logits.shape[1]} classes")
    above = logits > logit(score_threshold)  # NaN compares False
    if background is not None:
        above[:, background] = False
    points, labels = np.nonzero(above)
    cand = logits[points, labels].astype(np.float64)
    scores = 1.0 / (1.0 + np.exp(-cand))
    # a logit a hair over logit(threshold) (1e-29 over 0 for 0.5) gives a sigmoid that rounds to
    # the threshold itself: the score, not the logit, must be over it
    keep = (np.isfinite(cand) & np.isfinite(encodings[points]).all(axis=1)
            & (scores > score_threshold))
    points, labels, scores = points[keep], labels[keep], scores[keep]
    boxes = np.clip(decode_boxes(encodings[points], anchor_boxes[points], box_scales) * input_size,
                    0, input_size)
    kept = nms(boxes, scores, labels, iou_threshold, class_agnostic=class_agnostic)[:max_detections]
    return [Detection(int(labels[i]), float(scores[i]), tuple(float(v) for v in boxes[i]))
            for i in kept]
