"""What a real-world encoder finds in a frame: a COCO object detector and an ImageNet classifier.

A bundle may carry a `perception` section naming one or both graphs (full-int8 TFLite, pretrained
on real photographs: see the manifest's `pretrained` provenance). `parse_perception` validates
the section once at load (pure, no interpreter); `Perception` runs the graphs on an OpenCV frame
and returns `Findings`: the detector's objects (label, score, box in the frame, 0..1) after
thresholds and NMS (detections.py), and the classifier's top classes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import detections
from .errors import BadInput
from .interpreters import Graph, Runtime
from .preprocess import RESIZE_MODES, model_input

ROLES = ("detector", "classifier")
HEAD_TYPES = ("gfl",)  # NanoDet's generalized-focal-loss head: class scores + side distributions


@dataclass(frozen=True)
class GraphSpec:
    role: str
    file: str
    labels_file: str
    size: int
    colour_order: str
    resize: str
    tensors: dict
    sources: tuple[str, ...]


@dataclass(frozen=True)
class DetectorSpec(GraphSpec):
    strides: tuple[int, ...]
    reg_max: int
    centre_offset: float
    score_threshold: float
    iou_threshold: float
    max_detections: int
    kinds: dict[str, str]  # detector label -> the home kind it counts as (person, car, ...)


@dataclass(frozen=True)
class ClassifierSpec(GraphSpec):
    top_k: int


@dataclass(frozen=True)
class PerceptionSpec:
    detector: DetectorSpec | None
    classifier: ClassifierSpec | None

    @property
    def graphs(self) -> list[GraphSpec]:
        return [g for g in (self.detector, self.classifier) if g is not None]

    @property
    def files(self) -> list[str]:
        """The bundle files this section needs: each graph and its labels."""
        return [name for g in self.graphs for name in (g.file, g.labels_file)]


def _get(section: dict, key: str, kind, where: str, manifest_path: Path):
    value = section.get(key)
    ok = isinstance(value, kind) and not (kind in (int, float) and isinstance(value, bool))
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise BadInput(f"{manifest_path}: {f'{where}.{key}'!r} must be {kind.__name__}")
    return value


def _graph_fields(section: dict, role: str, manifest_path: Path) -> dict:
    where = f"perception.{role}"
    image = _get(section, "image", dict, where, manifest_path)
    size = image.get("size")
    if (not isinstance(size, list) or len(size) != 2 or size[0] != size[1]
            or not all(isinstance(v, int) and not isinstance(v, bool) and 16 <= v <= 2048
                       for v in size)):
        raise BadInput(f"{manifest_path}: '{where}.image.size' must be [size, size], 16..2048")
    if image.get("colour_order") not in ("RGB", "BGR"):
        raise BadInput(f"{manifest_path}: '{where}.image.colour_order' must be RGB or BGR")
    if image.get("resize") not in RESIZE_MODES:
        raise BadInput(f"{manifest_path}: '{where}.image.resize' must be one of "
                       f"{', '.join(RESIZE_MODES)}")
    sources = section.get("sources", [])
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise BadInput(f"{manifest_path}: '{where}.sources' must be a list of source names")
    return {
        "role": role,
        "file": _get(section, "file", str, where, manifest_path),
        "labels_file": _get(section, "labels", str, where, manifest_path),
        "size": size[0],
        "colour_order": image["colour_order"],
        "resize": image["resize"],
        "tensors": _get(section, "tensors", dict, where, manifest_path),
        "sources": tuple(sources),
    }


def parse_perception(manifest: dict, manifest_path: Path) -> PerceptionSpec | None:
    """The manifest's `perception` section, validated; None for a bundle without one."""
    section = manifest.get("perception")
    if section is None:
        return None
    if not isinstance(section, dict) or not set(section) & set(ROLES):
        raise BadInput(f"{manifest_path}: 'perception' must be an object with a detector "
                       "and/or a classifier")
    unknown = set(section) - set(ROLES)
    if unknown:
        raise BadInput(f"{manifest_path}: 'perception' has unknown key(s) {sorted(unknown)}")
    detector = classifier = None
    if "detector" in section:
        d = section["detector"]
        if not isinstance(d, dict):
            raise BadInput(f"{manifest_path}: 'perception.detector' must be an object")
        where = "perception.detector"
        head = _get(d, "head", dict, where, manifest_path)
        if head.get("type") not in HEAD_TYPES:
            raise BadInput(f"{manifest_path}: '{where}.head.type' must be one of "
                           f"{', '.join(HEAD_TYPES)}")
        strides = head.get("strides")
        if not (isinstance(strides, list) and strides and all(
                isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= 256 for s in strides)):
            raise BadInput(f"{manifest_path}: '{where}.head.strides' must be a list of strides")
        thresholds = _get(d, "thresholds", dict, where, manifest_path)
        score = _get(thresholds, "score", float, f"{where}.thresholds", manifest_path)
        iou = _get(thresholds, "iou", float, f"{where}.thresholds", manifest_path)
        most = _get(thresholds, "max_detections", int, f"{where}.thresholds", manifest_path)
        reg_max = _get(head, "reg_max", int, f"{where}.head", manifest_path)
        offset = _get(head, "centre_offset", float, f"{where}.head", manifest_path)
        if not (0 < score < 1 and 0 < iou <= 1 and 1 <= most <= 1000 and 1 <= reg_max <= 64
                and 0 <= offset < 1):
            raise BadInput(f"{manifest_path}: '{where}': a threshold or head value is out of "
                           "range (score 0..1, iou 0..1, max_detections 1..1000, reg_max 1..64, "
                           "centre_offset 0..1)")
        kinds = _get(d, "kinds", dict, where, manifest_path)
        if not all(isinstance(v, list) and v and all(isinstance(x, str) for x in v)
                   for v in kinds.values()):
            raise BadInput(f"{manifest_path}: '{where}.kinds' must map each kind to a list of "
                           "detector labels")
        detector = DetectorSpec(**_graph_fields(d, "detector", manifest_path),
                                strides=tuple(strides), reg_max=reg_max, centre_offset=offset,
                                score_threshold=score, iou_threshold=iou, max_detections=most,
                                kinds={label: kind for kind, labels in kinds.items()
                                       for label in labels})
    if "classifier" in section:
        c = section["classifier"]
        if not isinstance(c, dict):
            raise BadInput(f"{manifest_path}: 'perception.classifier' must be an object")
        top_k = _get(c, "top_k", int, "perception.classifier", manifest_path)
        if not 1 <= top_k <= 100:
            raise BadInput(f"{manifest_path}: 'perception.classifier.top_k' must be 1..100")
        classifier = ClassifierSpec(**_graph_fields(c, "classifier", manifest_path), top_k=top_k)
    return PerceptionSpec(detector, classifier)


def read_labels(path: Path, count: int) -> list[str]:
    """One class name per line; as many as the graph's output has classes."""
    try:
        labels = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot read the labels: {exc}") from None
    if len(labels) != count:
        raise BadInput(f"{path}: {len(labels)} labels, the graph has {count} classes")
    return labels


@dataclass(frozen=True)
class Found:
    """One detected object: a detector label, its score, its box in the frame (x1, y1, x2, y2 as
    fractions of the frame's width and height)."""
    label: str
    score: float
    box: tuple[float, float, float, float]
    kind: str | None = None  # the home kind the label counts as, if any

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "score": round(self.score, 4),
                "box": [round(v, 4) for v in self.box]}


@dataclass
class Findings:
    objects: list[Found] = field(default_factory=list)
    classes: list[tuple[str, float]] = field(default_factory=list)  # classifier's top-k
    detector_ms: float = 0.0
    classifier_ms: float = 0.0

    @property
    def kinds(self) -> dict[str, int]:
        """How many of each home kind were detected."""
        counts: dict[str, int] = {}
        for o in self.objects:
            if o.kind is not None:
                counts[o.kind] = counts.get(o.kind, 0) + 1
        return counts

    def to_json(self) -> dict:
        return {"kinds": self.kinds, "objects": [o.to_json() for o in self.objects],
                "classes": [{"label": name, "score": round(p, 4)} for name, p in self.classes]}


class Perception:
    """The bundle's real-world graphs on one CPU (or the encoder's delegate, later)."""

    def __init__(self, spec: PerceptionSpec, bundle_dir: Path, runtime: Runtime,
                 threads: int | None = 1):
        self.spec = spec
        self.detector = self.classifier = None
        if spec.detector is not None:
            d = spec.detector
            self.detector = Graph(runtime, bundle_dir / d.file, d.tensors, threads)
            scores = self.detector.outputs["scores"]["shape"]
            boxes = self.detector.outputs["boxes"]["shape"]
            self.centres, self.strides = detections.anchor_points(d.size, d.strides,
                                                                  d.centre_offset)
            if (len(scores) != 3 or scores[1] != len(self.centres)
                    or list(boxes) != [1, len(self.centres), 4 * (d.reg_max + 1)]):
                raise BadInput(f"{bundle_dir / d.file}: outputs {scores} / {boxes} do not fit "
                               f"the manifest's head ({len(self.centres)} points, reg_max "
                               f"{d.reg_max})")
            self.detector_labels = read_labels(bundle_dir / d.labels_file, int(scores[2]))
            unknown = set(d.kinds) - set(self.detector_labels)
            if unknown:
                raise BadInput(f"{bundle_dir / 'manifest.json'}: 'perception.detector.kinds' "
                               f"names labels the detector does not have: {sorted(unknown)}")
        if spec.classifier is not None:
            c = spec.classifier
            self.classifier = Graph(runtime, bundle_dir / c.file, c.tensors, threads)
            probs = self.classifier.outputs["probabilities"]["shape"]
            self.classifier_labels = read_labels(bundle_dir / c.labels_file, int(probs[-1]))

    def _run(self, graph: Graph, spec: GraphSpec, frame: np.ndarray) -> None:
        image = model_input(frame, spec.size, spec.resize, spec.colour_order)
        graph.set("image", graph.quantize("image", image[np.newaxis]))
        graph.invoke()

    def see(self, frame: np.ndarray) -> Findings:
        """An OpenCV frame (BGR, gray or BGRA, any size) -> what the graphs find in it."""
        findings = Findings()
        height, width = frame.shape[:2]
        if self.detector is not None:
            d, g = self.spec.detector, self.detector
            started = time.perf_counter()
            self._run(g, d, frame)
            scores = g.dequantize("scores", g.get("scores"))[0]
            boxes = g.dequantize("boxes", g.get("boxes"))[0]
            found = detections.detect(
                scores, boxes, self.centres, self.strides, input_size=d.size, reg_max=d.reg_max,
                score_threshold=d.score_threshold, iou_threshold=d.iou_threshold,
                max_detections=d.max_detections)
            findings.objects = [
                Found(label, float(f.score),
                      detections.to_frame(f.box, d.size, width, height, d.resize),
                      d.kinds.get(label))
                for f in found for label in (self.detector_labels[f.label],)]
            findings.detector_ms = (time.perf_counter() - started) * 1000
        if self.classifier is not None:
            c, g = self.spec.classifier, self.classifier
            started = time.perf_counter()
            self._run(g, c, frame)
            probs = g.dequantize("probabilities", g.get("probabilities"))[0]
            top = np.argsort(-probs, kind="stable")[: c.top_k]
            # an int8 probability of 0 is "below the output's step", not a finding
            findings.classes = [(self.classifier_labels[i], float(probs[i])) for i in top
                                if probs[i] > 0]
            findings.classifier_ms = (time.perf_counter() - started) * 1000
        return findings
