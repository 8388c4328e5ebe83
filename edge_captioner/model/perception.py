"""What a real-world encoder finds in a frame: a COCO object detector and an ImageNet classifier.

A bundle may carry a `perception` section naming one or both graphs (full-int8 TFLite, pretrained
on real photographs: see the manifest's `pretrained` provenance). The section is validated once
at load (bundle/perception_section.py, pure, no interpreter); `Perception` runs the graphs on an OpenCV frame
and returns `Findings`: the detector's objects (label, score, box in the frame, 0..1) after
thresholds and NMS (detections.py), and the classifier's top classes.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ..bundle.choices import CLASSIFIER_PROBABILITIES, DETECTOR_BOXES, DETECTOR_SCORES, IMAGE_INPUT
from ..bundle.perception_specs import GraphSpec, PerceptionSpec
from ..errors import BadInput
from ..scene.facts import Facts
from . import animal_check, detections
from .pose import PoseEstimator
from .posture import posture
from .preprocess import Pyramid, mirror_first, model_input
from .runtime import Graph, Runtime

# People the detector scores at least this get a pose (the largest few: perception.pose.max_people)
POSE_CANDIDATE_SCORE = 0.3
# the closer look (DetectorSpec.closer_look): the crop's person must be the same person, and a
# crop under this many pixels is too small to look at again
CLOSER_IOU = 0.5
MIN_CROP_PX = 8


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
    posture: str | None = None  # a person's: standing, sitting, lying (the pose model), or None
    pose_score: float | None = None  # the pose model's confidence that a person is in the box
    # an animal's: the classifier's top class for the crop round it (animal_check.py); where
    # that view holds it another animal, kind is None (it is not said)
    classified: str | None = None

    def to_json(self) -> dict:
        return {"label": self.label, "kind": self.kind, "score": round(self.score, 4),
                "box": [round(v, 4) for v in self.box],
                **({"posture": self.posture} if self.posture is not None else {}),
                **({"classified": self.classified} if self.classified is not None else {})}


@dataclass
class Findings:
    objects: list[Found] = field(default_factory=list)
    classes: list[tuple[str, float]] = field(default_factory=list)  # classifier's top-k
    detector_ms: float = 0.0
    classifier_ms: float = 0.0
    boxes_ms: float = 0.0
    pose_ms: float = 0.0
    # a facts bundle's: what the caption may state (scene/facts.py), and whether the decoder's
    # sentence was replaced by the canonical one
    facts: Facts | None = None
    fallback: bool = False

    @property
    def kinds(self) -> dict[str, int]:
        """How many of each home kind were detected."""
        counts: dict[str, int] = {}
        for o in self.objects:
            if o.kind is not None:
                counts[o.kind] = counts.get(o.kind, 0) + 1
        return counts

    def to_json(self) -> dict:
        found = {"kinds": self.kinds, "objects": [o.to_json() for o in self.objects],
                 "classes": [{"label": name, "score": round(p, 4)} for name, p in self.classes]}
        if self.facts is not None:
            # the caption's facts: counts after the per-kind thresholds, postures, place
            found.update(self.facts.to_json())
            found["fallback"] = self.fallback
        return found


class Perception:
    """The bundle's real-world graphs on one CPU (or the encoder's delegate, later)."""

    def __init__(self, spec: PerceptionSpec, bundle_dir: Path, runtime: Runtime,
                 threads: int | None = 1):
        self.spec = spec
        self.detector = self.classifier = None
        if spec.detector is not None:
            d = spec.detector
            self.detector = Graph(runtime, bundle_dir / d.file, d.tensors, threads)
            scores = self.detector.outputs[DETECTOR_SCORES]["shape"]
            boxes = self.detector.outputs[DETECTOR_BOXES]["shape"]
            self.centres, self.strides = detections.anchor_points(d.size, d.strides,
                                                                  d.centre_offset)
            if (len(scores) != 3 or scores[1] != len(self.centres)
                    or list(boxes) != [1, len(self.centres), 4 * (d.reg_max + 1)]):
                raise BadInput(f"{bundle_dir / d.file}: outputs {scores} / {boxes} do not fit "
                               f"the manifest's head ({len(self.centres)} points, reg_max "
                               f"{d.reg_max})")
            self.detector_labels = read_labels(bundle_dir / d.labels_file, int(scores[2]))
            self._person_label = (self.detector_labels.index("person")
                                  if "person" in self.detector_labels else None)
            unknown = set(d.label_kinds) - set(self.detector_labels)
            if unknown:
                raise BadInput(f"{bundle_dir / 'manifest.json'}: 'perception.detector.kinds' "
                               f"names labels the detector does not have: {sorted(unknown)}")
        self.pose = None
        if spec.pose is not None:
            self.pose = PoseEstimator.from_spec(spec.pose, bundle_dir, runtime, threads)
        self.boxes = None
        if spec.boxes is not None:
            # imported here: box_detector imports Found from this module
            from .box_detector import BoxDetector

            self.boxes = BoxDetector(spec.boxes, bundle_dir, runtime, threads)
        if spec.classifier is not None:
            c = spec.classifier
            self.classifier = Graph(runtime, bundle_dir / c.file, c.tensors, threads)
            probs = self.classifier.outputs[CLASSIFIER_PROBABILITIES]["shape"]
            self.classifier_labels = read_labels(bundle_dir / c.labels_file, int(probs[-1]))
            if c.animal_check and c.animal_check.highest_class >= len(self.classifier_labels):
                raise BadInput(f"{bundle_dir / 'manifest.json'}: 'perception.classifier."
                               f"animal_check' names class {c.animal_check.highest_class}; the "
                               f"classifier has {len(self.classifier_labels)}")

    def _run(self, graph: Graph, spec: GraphSpec, frame: np.ndarray) -> None:
        image = model_input(frame, spec.size, spec.resize, spec.colour_order)
        graph.set(IMAGE_INPUT, graph.quantize(IMAGE_INPUT, image[np.newaxis]))
        graph.invoke()

    def _postures(self, pyramid: Pyramid, objects: list[Found]) -> list[Found]:
        """The people scoring at least POSE_CANDIDATE_SCORE (the largest `max_people` of them)
        with their posture and the pose model's own confidence in them (scene/from_findings.py
        keeps a person the detector was unsure of when the pose model is sure)."""
        width, height = pyramid.width, pyramid.height
        people = [o.box for o in objects if o.kind == "person" and o.score >= POSE_CANDIDATE_SCORE]
        poses = {k.box: k for k in self.pose.keypoints(pyramid, people)}
        out = []
        for o in objects:
            k = poses.get(o.box) if o.kind == "person" else None
            if k is not None:
                o = replace(o, posture=posture(k.xy, k.scores, o.box, width / height),
                            pose_score=float(k.centre))
            out.append(o)
        return out

    def _probabilities(self, image: np.ndarray) -> np.ndarray:
        """The classifier's class probabilities for an image."""
        c, g = self.spec.classifier, self.classifier
        self._run(g, c, image)
        return g.dequantize(CLASSIFIER_PROBABILITIES, g.get(CLASSIFIER_PROBABILITIES))[0]

    def crop_probabilities(self, pyramid: Pyramid, box: tuple[float, ...]) -> np.ndarray:
        """The classifier's probabilities for the animal check's crop round a 0..1 box."""
        c = self.spec.classifier
        rect = animal_check.grown(box, pyramid.width, pyramid.height, c.animal_check.grow)
        return self._probabilities(pyramid.cut(rect, c.size, c.resize)[0])

    def check_animals(self, pyramid: Pyramid, objects: list[Found]) -> list[Found]:
        """Each animal of a checked kind scoring at least the check's min_score, with the
        classifier's top class for the crop round it; one the classifier holds another animal
        (a hare the detector called a dog) keeps its label but loses its kind."""
        check = self.spec.classifier.animal_check
        out = []
        for o in objects:
            own = check.kinds.get(o.kind)
            if own is not None and o.score >= check.min_score:
                probs = self.crop_probabilities(pyramid, o.box)
                o = replace(o, classified=self.classifier_labels[int(np.argmax(probs))])
                if animal_check.other_animal(probs, own, check.animals):
                    o = replace(o, kind=None)
            out.append(o)
        return out

    def _detect(self, frame: np.ndarray) -> list[tuple[int, float, tuple]]:
        """The detector on one frame: (label index, score, box as frame fractions), best first."""
        d, g = self.spec.detector, self.detector
        height, width = frame.shape[:2]
        self._run(g, d, frame)
        scores = g.dequantize(DETECTOR_SCORES, g.get(DETECTOR_SCORES))[0]
        boxes = g.dequantize(DETECTOR_BOXES, g.get(DETECTOR_BOXES))[0]
        found = detections.detect(
            scores, boxes, self.centres, self.strides, input_size=d.size, reg_max=d.reg_max,
            score_threshold=d.score_threshold, iou_threshold=d.iou_threshold,
            max_detections=d.max_detections)
        return [(f.label, float(f.score), detections.to_frame(f.box, d.size, width, height, d.resize))
                for f in found]

    def _closer_look(self, pyramid: Pyramid, found: list[tuple[int, float, tuple]],
                     look) -> list[tuple[int, float, tuple]]:
        """The detector again on a crop around each of the largest people it was unsure of: at
        the crop's scale a small or cut-off person is clearer. A person keeps the better of the
        two scores, where the crop's person overlaps the first box (IoU at least CLOSER_IOU);
        nothing else the crop finds is added, so it cannot add a person the frame did not show."""
        person = self._person_label
        if person is None:
            return found
        d = self.spec.detector
        width, height = pyramid.width, pyramid.height
        unsure = sorted((i for i, (label, score, _) in enumerate(found)
                         if label == person and look.low <= score < look.high),
                        key=lambda i: -detections.area(found[i][2]))[: look.people]
        out = list(found)
        for i in unsure:
            label, score, box = found[i]
            crop = detections.closer_crop(box, width, height, look.grow)
            if crop[2] - crop[0] < MIN_CROP_PX or crop[3] - crop[1] < MIN_CROP_PX:
                continue
            # a large frame's crop is cut from a halving that keeps what the detector reads
            image, cut, level_width, level_height = pyramid.cut(crop, d.size, d.resize)
            again = [s for lab, s, b in self._detect(image) if lab == person
                     and detections.iou(detections.from_crop(b, cut, level_width, level_height),
                                        box) >= CLOSER_IOU]
            out[i] = (label, max([score, *again]), box)
        return sorted(out, key=lambda d: (-d[1], d[0], d[2]))

    def see(self, frame: np.ndarray,
            regions: Sequence[tuple[float, float, float, float]] = ()) -> Findings:
        """An OpenCV frame (BGR, gray or BGRA, any size) -> what the graphs find in it. regions:
        0..1 rectangles (a camera's zones) where the box detector also looks at a crop
        (BoxDetector.find_in); the other graphs see the frame only."""
        findings = Findings()
        # every graph reads a large frame through its halvings: the whole-frame looks and the
        # closer looks' crops from the smallest that keeps what the graph reads, the poses' crops
        # from the frame itself
        pyramid = Pyramid(frame)
        # the closer looks, the poses and the box detector do not see left and right alike: a
        # frame and its mirror are both seen as the same one of the two (mirror_first), and the
        # boxes are mirrored back, so a mirrored frame gets exactly the mirrored findings
        mirror = self.detector is not None and mirror_first(
            pyramid.at_least(self.spec.detector.size, self.spec.detector.resize))
        if mirror:
            pyramid = pyramid.mirrored()
            regions = [detections.mirror_box(r) for r in regions]
        if self.detector is not None:
            d = self.spec.detector
            started = time.perf_counter()
            whole = pyramid.at_least(d.size, d.resize)
            found = self._detect(whole)
            if d.mirror:
                mirrored = [(label, score, detections.mirror_box(box))
                            for label, score, box in self._detect(cv2.flip(whole, 1))]
                found = detections.merge_mirrored(found, mirrored)[: d.max_detections]
            if d.closer_look is not None:
                found = self._closer_look(pyramid, found, d.closer_look)
            kinds = d.label_kinds
            findings.objects = [Found(label, float(score), box, kinds.get(label))
                                for index, score, box in found
                                for label in (self.detector_labels[index],)]
            findings.detector_ms = (time.perf_counter() - started) * 1000
        if self.pose is not None:
            findings.objects = self._postures(pyramid, findings.objects)
            findings.pose_ms = self.pose.last_ms
        if self.boxes is not None:
            # only the labels the section maps to a kind (Box): its Person, Car... would count
            # NanoDet's objects twice
            findings.objects += [o for o in self.boxes.find_in(pyramid, regions)
                                 if o.kind is not None]
            findings.boxes_ms = self.boxes.last_ms
        if self.classifier is not None and self.spec.classifier.animal_check is not None:
            started = time.perf_counter()
            findings.objects = self.check_animals(pyramid, findings.objects)
            findings.classifier_ms = (time.perf_counter() - started) * 1000
        elif self.classifier is not None:
            c = self.spec.classifier
            started = time.perf_counter()
            probs = self._probabilities(pyramid.at_least(c.size, c.resize))
            top = np.argsort(-probs, kind="stable")[: c.top_k]
            # an int8 probability of 0 is "below the output's step", not a finding
            findings.classes = [(self.classifier_labels[i], float(probs[i])) for i in top
                                if probs[i] > 0]
            findings.classifier_ms = (time.perf_counter() - started) * 1000
        if mirror:
            findings.objects = [replace(o, box=detections.mirror_box(o.box))
                                for o in findings.objects]
        return findings
