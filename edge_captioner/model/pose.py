"""Person keypoints: MoveNet SinglePose Lightning run on each detected person's crop.

The detector (perception.py) gives person boxes; each box becomes a square crop with a margin
(pose models are trained on a person centred in a square, and a tight box cuts off raised arms
and feet), the crop is resized to the graph's input, and the graph's four heads (heatmaps,
centre, regress, offsets: conversion/pretrained/movenet.py) are decoded here in numpy. The
graph's own post-processing (argmaxes and gathers) is not in the int8 graph: quantized, it gave
scores of about 0.

`decode` and the crop geometry are pure functions; `PoseEstimator` runs the graph.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from .preprocess import Pyramid, to_rgb

KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
NUM_KEYPOINTS = len(KEYPOINTS)
HEADS = ("heatmaps", "centre", "regress", "offsets")
# MoveNet's own decoding constants (read from the tfjs graph): the centre heatmap is weighted by
# 1 / (distance to the grid's middle cell + 1.8) so the person in the middle of the crop wins over
# a bystander at its edge, and each keypoint heatmap by 1 / (distance to the keypoint regressed
# from that centre + 1.8) so its keypoints are the centre person's, not a neighbour's.
CENTRE_BIAS = 1.8
KEYPOINT_BIAS = 1.8


@dataclass(frozen=True)
class Keypoints:
    """One person's 17 COCO keypoints: xy [17, 2] (x, y as fractions of the frame's width and
    height; may lie a little outside 0..1 where the crop's margin left the frame), scores [17]
    (0..1), the person box they were found in (x1, y1, x2, y2, fractions), and centre: the pose
    model's own confidence that a person is centred in the crop."""
    xy: np.ndarray
    scores: np.ndarray
    box: tuple[float, float, float, float]
    centre: float

    def to_json(self) -> dict:
        return {"box": [round(v, 4) for v in self.box], "centre": round(self.centre, 4),
                "keypoints": {name: [round(float(x), 4), round(float(y), 4), round(float(s), 3)]
                              for name, (x, y), s in zip(KEYPOINTS, self.xy, self.scores,
                                                         strict=True)}}


def decode(heatmaps: np.ndarray, centre: np.ndarray, regress: np.ndarray,
           offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """The four heads of one image ([H, W, 17], [H, W, 1], [H, W, 34], [H, W, 34], batch axis
    dropped) -> (yx [17, 2] as fractions of the input image, scores [17], centre score), as the
    tfjs graph's own post-processing computes them (checked against it by the conversion)."""
    h, w, k = heatmaps.shape
    if centre.shape[:2] != (h, w) or regress.shape != (h, w, 2 * k) or offsets.shape != (h, w, 2 * k):
        raise ValueError(f"pose heads do not fit: {heatmaps.shape} {centre.shape} "
                         f"{regress.shape} {offsets.shape}")
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    # the graph weights by the distance to cell (h // 2, w // 2): (24, 24) on its 48 x 48 grid
    weight = 1.0 / (np.sqrt((rows - h // 2) ** 2 + (cols - w // 2) ** 2) + CENTRE_BIAS)
    c = int(np.argmax(centre[:, :, 0] * weight))
    cy, cx = divmod(c, w)
    guess = regress[cy, cx].reshape(k, 2) + np.array([cy, cx], np.float32)
    dist = np.sqrt((rows[..., None] - guess[:, 0]) ** 2 + (cols[..., None] - guess[:, 1]) ** 2)
    best = np.argmax((heatmaps / (dist + KEYPOINT_BIAS)).reshape(h * w, k), axis=0)
    ys, xs = np.divmod(best, w)
    idx = np.arange(k)
    refine = offsets[ys, xs].reshape(k, k, 2)[idx, idx]
    yx = (np.stack([ys, xs], axis=1).astype(np.float32) + refine) / np.array([h, w], np.float32)
    scores = heatmaps[ys, xs, idx].astype(np.float32)
    return yx, scores, float(centre[cy, cx, 0])


def square_crop(box: tuple[float, float, float, float], width: int, height: int,
                margin: float) -> tuple[float, float, float]:
    """A person box (fractions of a width x height frame) -> the square around it that the pose
    graph sees: (x0, y0, side) in frame pixels, centred on the box, side = the box's longer
    side x (1 + margin). It may reach outside the frame (that part is black), so a person at the
    edge stays centred in the crop as the model was trained."""
    x1, y1, x2, y2 = box
    bw, bh = (x2 - x1) * width, (y2 - y1) * height
    side = max(bw, bh, 1.0) * (1.0 + margin)
    cx, cy = (x1 + x2) / 2 * width, (y1 + y2) / 2 * height
    return cx - side / 2, cy - side / 2, side


def crop_image(frame: np.ndarray, crop: tuple[float, float, float], size: int) -> np.ndarray:
    """The square crop of an OpenCV frame, resized to size x size, as RGB uint8: one warpAffine
    (crop, scale and the black border at once; linear filtering like MoveNet's own
    crop_and_resize)."""
    x0, y0, side = crop
    scale = size / side
    matrix = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]], np.float32)
    patch = cv2.warpAffine(frame, matrix, (size, size), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return to_rgb(patch)


def crop_shown(pyramid: Pyramid, crop: tuple[float, float, float], size: int) -> np.ndarray:
    """crop_image of the frame a pyramid shows (mirrored or not), reading only the pixels round
    the crop: a person's crop of a 12 MP frame seen mirrored flips that person, not the frame.
    Two pixels of margin keep the linear filter's neighbours; outside the frame is black."""
    x0, y0, side = crop
    x1, y1 = max(int(np.floor(x0)) - 2, 0), max(int(np.floor(y0)) - 2, 0)
    x2 = min(int(np.ceil(x0 + side)) + 2, pyramid.width)
    y2 = min(int(np.ceil(y0 + side)) + 2, pyramid.height)
    if x2 <= x1 or y2 <= y1:  # wholly outside the frame
        frame = pyramid.levels[0]
        return to_rgb(np.zeros((size, size, *frame.shape[2:]), frame.dtype))
    return crop_image(pyramid.region(0, (x1, y1, x2, y2)), (x0 - x1, y0 - y1, side), size)


def to_frame(yx: np.ndarray, crop: tuple[float, float, float], width: int,
             height: int) -> np.ndarray:
    """Keypoints as (y, x) fractions of the crop -> [17, 2] (x, y) fractions of the frame."""
    x0, y0, side = crop
    xs = (x0 + yx[:, 1] * side) / width
    ys = (y0 + yx[:, 0] * side) / height
    return np.stack([xs, ys], axis=1).astype(np.float32)


def largest_first(boxes: list[tuple[float, float, float, float]],
                  most: int) -> list[tuple[float, float, float, float]]:
    """The `most` largest boxes by area (ties: the earlier one first): the people a pose is
    worth its time for are the near ones."""
    order = sorted(range(len(boxes)),
                   key=lambda i: (-(boxes[i][2] - boxes[i][0]) * (boxes[i][3] - boxes[i][1]), i))
    return [boxes[i] for i in order[: max(most, 0)]]


class PoseEstimator:
    """The pose graph on one CPU: person boxes in a frame -> their keypoints.

    graph: a runtime.Graph of the pose TFLite (input "image", outputs HEADS), size its input
    side, margin the crop margin, max_people how many of the largest boxes get a pose (the
    rest get none: a pose costs about 6 ms a person on one x86 core), colour_order the graph's
    ("BGR" flips the RGB crop back)."""

    def __init__(self, graph, size: int, margin: float = 0.25, max_people: int = 3,
                 colour_order: str = "RGB"):
        self.graph, self.size, self.margin, self.max_people = graph, size, margin, max_people
        self.bgr = colour_order == "BGR"
        self.last_ms = 0.0

    @classmethod
    def from_spec(cls, spec, bundle_dir, runtime, threads: int | None = 1) -> PoseEstimator:
        """From the manifest's `perception.pose` (bundle/perception_specs.PoseSpec)."""
        from .runtime import Graph

        graph = Graph(runtime, bundle_dir / spec.file, spec.tensors, threads)
        return cls(graph, spec.size, spec.crop_margin, spec.max_people, spec.colour_order)

    def keypoints(self, frame: np.ndarray | Pyramid,
                  person_boxes: list[tuple[float, float, float, float]]) -> list[Keypoints]:
        """The keypoints of the `max_people` largest boxes of a frame (or of the frame a
        preprocess.Pyramid shows)."""
        started = time.perf_counter()
        pyramid = frame if isinstance(frame, Pyramid) else Pyramid(frame)
        width, height = pyramid.width, pyramid.height
        g, out = self.graph, []
        for box in largest_first(list(person_boxes), self.max_people):
            crop = square_crop(box, width, height, self.margin)
            image = crop_shown(pyramid, crop, self.size)
            if self.bgr:
                image = image[:, :, ::-1]
            g.set("image", g.quantize("image", image[np.newaxis]))
            g.invoke()
            heads = [g.dequantize(name, g.get(name))[0] for name in HEADS]
            yx, scores, centre = decode(*heads)
            out.append(Keypoints(to_frame(yx, crop, width, height), scores, tuple(box), centre))
        self.last_ms = (time.perf_counter() - started) * 1000
        return out
