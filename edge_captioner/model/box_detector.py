"""The box detector: an SSD graph whose classes include Box, run on a frame -> `Found` objects.

COCO, and so the bundle's NanoDet, has no box class; the Open Images SSD-MobileNetV2 of MediaPipe
Objectron (conversion/pretrained/objectron.py) has. Its manifest sub-section is
`perception.boxes` (bundle/perception_section.py, BoxesSpec in perception_specs.py); the graph
is full-int8 TFLite with a uint8 image in and the raw SSD outputs (`boxes`, `scores`) out, decoded by ssd.py.
Open Images' Box is any box, not specifically a parcel: what counts as a delivery is the
caption's business (where it is, whether a person brought it), not this module's.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..bundle.choices import DETECTOR_BOXES, DETECTOR_SCORES, IMAGE_INPUT
from ..bundle.perception_specs import BoxesSpec
from ..errors import BadInput
from . import detections, ssd
from .perception import Found, read_labels
from .preprocess import Pyramid, model_input
from .runtime import Graph, Runtime

# a region's closer look crops the square round it, this many times its longer side: a parcel at
# the edge of a door zone keeps some of its surroundings; and never under MIN_REGION_SIDE of the
# frame's longer side: crops that small were measured to pass no false box at 0.5 on 150 box-free
# real photos (the highest 0.465), smaller ones were not measured (docs/box-detector.md, "Where a
# parcel would be"); a frame too small for a crop of MIN_REGION_PX pixels gets no closer look
REGION_GROW = 1.2
MIN_REGION_SIDE = 1 / 3
MIN_REGION_PX = 8
# a region's crop covering this much of the frame shows what the whole look showed, at about its
# scale: it is not looked at again
WHOLE_FRAME = 0.9


def anchor_config(spec: BoxesSpec) -> ssd.AnchorConfig:
    return ssd.AnchorConfig(
        feature_maps=spec.feature_maps, min_scale=spec.min_scale, max_scale=spec.max_scale,
        aspect_ratios=spec.aspect_ratios,
        interpolated_scale_aspect_ratio=spec.interpolated_scale_aspect_ratio,
        reduce_boxes_in_lowest_layer=spec.reduce_boxes_in_lowest_layer, offset=spec.anchor_offset)


class BoxDetector:
    """One SSD graph on one CPU: `find(frame)` -> the objects above the spec's score threshold."""

    def __init__(self, spec: BoxesSpec, directory: Path, runtime: Runtime,
                 threads: int | None = 1):
        self.spec = spec
        path = Path(directory) / spec.file
        self.graph = Graph(runtime, path, spec.tensors, threads)
        try:
            self.anchors = ssd.anchors(anchor_config(spec))
        except ValueError as exc:
            raise BadInput(f"{path}: 'perception.boxes.head': {exc}") from None
        n = len(self.anchors)
        scores = [int(v) for v in self.graph.outputs[DETECTOR_SCORES]["shape"]]
        boxes = [int(v) for v in self.graph.outputs[DETECTOR_BOXES]["shape"]]
        if len(scores) != 3 or scores[:2] != [1, n] or boxes != [1, n, 4]:
            raise BadInput(f"{path}: outputs {scores} / {boxes} do not fit the manifest's "
                           f"{n} anchors")
        self.labels = read_labels(Path(directory) / spec.labels_file, scores[2])
        if spec.background is not None and spec.background >= scores[2]:
            raise BadInput(f"{path}: background class {spec.background} is past the graph's "
                           f"{scores[2]} classes")
        unknown = set(spec.label_kinds) - set(self.labels)
        if unknown:
            raise BadInput(f"{Path(directory) / 'manifest.json'}: 'perception.boxes.kinds' names "
                           f"labels the detector does not have: {sorted(unknown)}")
        self.last_ms = 0.0

    def raw(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """An OpenCV frame -> the dequantized (logits (N, C), encodings (N, 4))."""
        s, g = self.spec, self.graph
        image = model_input(frame, s.size, s.resize, s.colour_order)
        g.set(IMAGE_INPUT, g.quantize(IMAGE_INPUT, image[np.newaxis]))
        g.invoke()
        return (g.dequantize(DETECTOR_SCORES, g.get(DETECTOR_SCORES))[0],
                g.dequantize(DETECTOR_BOXES, g.get(DETECTOR_BOXES))[0])

    def find(self, frame: np.ndarray, score_threshold: float | None = None) -> list[Found]:
        """An OpenCV frame (BGR, gray or BGRA, any size) -> objects, best first, boxes as
        fractions of the frame. score_threshold: the spec's unless given."""
        s = self.spec
        started = time.perf_counter()
        logits, encodings = self.raw(frame)
        found = ssd.detect(
            logits, encodings, self.anchors, input_size=s.size,
            score_threshold=s.score_threshold if score_threshold is None else score_threshold,
            iou_threshold=s.iou_threshold, max_detections=s.max_detections,
            box_scales=s.box_scales, background=s.background)
        height, width = frame.shape[:2]
        kinds = s.label_kinds
        out = [Found(label, f.score, detections.to_frame(f.box, s.size, width, height, s.resize),
                     kinds.get(label))
               for f in found for label in (self.labels[f.label],)]
        self.last_ms = (time.perf_counter() - started) * 1000
        return out

    def find_in(self, frame: np.ndarray | Pyramid,
                regions: Sequence[tuple[float, float, float, float]] = ()) -> list[Found]:
        """`find(frame)`, and with regions (0..1 rectangles: a camera's zones) `find` again on the
        square crop round each, the crops' boxes mapped back to the frame; a box found twice
        (same label, IoU over the spec's) is kept once, with the better score. Stretched to
        300x300 a parcel a fifth of the frame wide covers few anchors and scores under 0.3; in
        the crop of a door zone it is half the input (docs/box-detector.md). Without regions
        this is `find(frame)`; `last_ms` is the time of all the looks. A large frame is read
        through its halvings (preprocess.Pyramid), the whole of it and each crop from the
        smallest that keeps what the graph reads; a crop that is nearly the whole frame
        (WHOLE_FRAME of its area) is not looked at again."""
        s = self.spec
        pyramid = frame if isinstance(frame, Pyramid) else Pyramid(frame)
        found = self.find(pyramid.at_least(s.size, s.resize))
        if not regions:
            return found
        spent = self.last_ms
        width, height = pyramid.width, pyramid.height
        for region in regions:
            crop = region_crop(region, width, height)
            x1, y1, x2, y2 = crop
            if x2 - x1 < MIN_REGION_PX or (x2 - x1) * (y2 - y1) >= WHOLE_FRAME * width * height:
                continue
            image, cut, level_width, level_height = pyramid.cut(crop, s.size, s.resize)
            found += [replace(f, box=detections.from_crop(f.box, cut, level_width, level_height))
                      for f in self.find(image)]
            spent += self.last_ms
        self.last_ms = spent
        return merged(found, s.iou_threshold)[: s.max_detections]


def region_crop(region: Sequence[float], width: int, height: int) -> tuple[int, int, int, int]:
    """The pixel square (x1, y1, x2, y2) a closer look at a 0..1 region crops: centred on it,
    REGION_GROW times its longer side, at least MIN_REGION_SIDE of the frame's longer side, at
    most the frame's shorter side, moved inside the frame rather than cut by its edge (the
    detector stretches what it is given to a square: a cut crop would be squashed)."""
    wanted = max((region[2] - region[0]) * width, (region[3] - region[1]) * height) * REGION_GROW
    side = int(round(min(max(wanted, MIN_REGION_SIDE * max(width, height)), width, height)))
    cx, cy = (region[0] + region[2]) / 2 * width, (region[1] + region[3]) / 2 * height
    x1 = int(round(min(max(cx - side / 2, 0), width - side)))
    y1 = int(round(min(max(cy - side / 2, 0), height - side)))
    return x1, y1, x1 + side, y1 + side


def merged(found: Sequence[Found], iou_threshold: float) -> list[Found]:
    """Objects found by several looks at one frame -> each once (per label NMS), best first."""
    if not found:
        return []
    names = sorted({f.label for f in found})
    keep = detections.nms(np.array([f.box for f in found]), np.array([f.score for f in found]),
                          np.array([names.index(f.label) for f in found]), iou_threshold)
    return sorted((found[i] for i in keep), key=lambda f: -f.score)
