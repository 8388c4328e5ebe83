"""The typed form of the manifest's `perception` section (perception_section.py parses and
validates it): the graphs a bundle's real-world encoder runs, their inputs, thresholds and the
home kinds their labels count as. edge_captioner/model/perception.py runs them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tensors import GraphTensors


@dataclass(frozen=True)
class GraphSpec:
    role: str
    file: str
    labels_file: str
    size: int
    colour_order: str
    resize: str
    tensors: GraphTensors
    sources: tuple[str, ...]

    def _json_head(self) -> dict:
        return {"file": self.file, "labels": self.labels_file,
                "image": {"size": [self.size, self.size], "colour_order": self.colour_order,
                          "resize": self.resize}}

    def _json_tail(self) -> dict:
        return {"tensors": self.tensors.to_json(), "sources": list(self.sources)}


@dataclass(frozen=True)
class CloserLook:
    """The detector looks again, at a crop `grow` times the box's longer side, at each of the
    `people` largest people it scored in [low, high); the person keeps the better score."""
    people: int
    low: float
    high: float
    grow: float

    def to_json(self) -> dict:
        return {"people": self.people, "scores": [self.low, self.high], "grow": self.grow}


@dataclass(frozen=True)
class DetectorSpec(GraphSpec):
    head_type: str
    strides: tuple[int, ...]
    reg_max: int
    centre_offset: float
    score_threshold: float
    iou_threshold: float
    max_detections: int
    kinds: dict[str, tuple[str, ...]]  # home kind (person, car, ...) -> the detector labels of it
    # also look at the frame mirrored and merge (detections.merge_mirrored): a mirrored frame
    # then gives the same findings
    mirror: bool = False
    # a closer look at the people the detector is unsure of (Perception._closer_look)
    closer_look: CloserLook | None = None

    @property
    def label_kinds(self) -> dict[str, str]:
        """Detector label -> the home kind it counts as."""
        return {label: kind for kind, labels in self.kinds.items() for label in labels}

    def to_json(self) -> dict:
        return {**self._json_head(),
                "head": {"type": self.head_type, "strides": list(self.strides),
                         "reg_max": self.reg_max, "centre_offset": self.centre_offset},
                "thresholds": {"score": self.score_threshold, "iou": self.iou_threshold,
                               "max_detections": self.max_detections},
                "kinds": {kind: list(labels) for kind, labels in self.kinds.items()},
                **({"mirror": True} if self.mirror else {}),
                **({"closer_look": self.closer_look.to_json()} if self.closer_look else {}),
                **self._json_tail()}


@dataclass(frozen=True)
class AnimalCheck:
    """`perception.classifier.animal_check`: instead of classifying the whole frame, the
    classifier looks at the crop round each animal the detector found scoring at least
    `min_score` (`grow` times its box), and the animal is not said where the classifier holds
    it another animal (model/animal_check.py). Classes are inclusive index ranges of the
    classifier's labels."""
    kinds: dict[str, tuple[tuple[int, int], ...]]  # home kind (dog, cat, bird) -> its classes
    animals: tuple[tuple[int, int], ...]  # all the classes that are animals
    min_score: float
    grow: float

    @property
    def highest_class(self) -> int:
        return max(high for ranges in (*self.kinds.values(), self.animals) for _, high in ranges)

    def to_json(self) -> dict:
        return {"kinds": {kind: [list(r) for r in ranges] for kind, ranges in self.kinds.items()},
                "animals": [list(r) for r in self.animals], "min_score": self.min_score,
                "grow": self.grow}


@dataclass(frozen=True)
class ClassifierSpec(GraphSpec):
    top_k: int
    animal_check: AnimalCheck | None = None

    def to_json(self) -> dict:
        return {**self._json_head(), "top_k": self.top_k,
                **({"animal_check": self.animal_check.to_json()} if self.animal_check else {}),
                **self._json_tail()}


@dataclass(frozen=True)
class BoxesSpec(GraphSpec):
    """An SSD box detector (model/box_detector.py): TF OD API anchors, raw outputs."""
    feature_maps: tuple[int, ...]
    min_scale: float
    max_scale: float
    aspect_ratios: tuple[float, ...]
    interpolated_scale_aspect_ratio: float
    reduce_boxes_in_lowest_layer: bool
    anchor_offset: float
    box_scales: tuple[float, float, float, float]  # y, x, h, w
    background: int | None  # the class index that is "nothing here", never reported
    score_threshold: float
    iou_threshold: float
    max_detections: int
    kinds: dict[str, tuple[str, ...]]

    @property
    def label_kinds(self) -> dict[str, str]:
        return {label: kind for kind, labels in self.kinds.items() for label in labels}

    def to_json(self) -> dict:
        return {**self._json_head(),
                "head": {"type": "ssd", "feature_maps": list(self.feature_maps),
                         "min_scale": self.min_scale, "max_scale": self.max_scale,
                         "aspect_ratios": list(self.aspect_ratios),
                         "interpolated_scale_aspect_ratio": self.interpolated_scale_aspect_ratio,
                         "reduce_boxes_in_lowest_layer": self.reduce_boxes_in_lowest_layer,
                         "anchor_offset": self.anchor_offset, "box_scales": list(self.box_scales),
                         "background": self.background},
                "thresholds": {"score": self.score_threshold, "iou": self.iou_threshold,
                               "max_detections": self.max_detections},
                "kinds": {kind: list(labels) for kind, labels in self.kinds.items()},
                **self._json_tail()}


@dataclass(frozen=True)
class PoseSpec:
    """`perception.pose`: a keypoint graph run on the detector's person boxes (model/pose.py)."""
    file: str
    size: int
    colour_order: str
    resize: str
    crop_margin: float  # crop side = the box's longer side x (1 + crop_margin)
    max_people: int  # the largest this many person boxes get a pose
    keypoint_threshold: float  # a keypoint counts (posture.py) from this score on
    tensors: GraphTensors
    sources: tuple[str, ...]

    def to_json(self) -> dict:
        return {"file": self.file,
                "image": {"size": [self.size, self.size], "colour_order": self.colour_order,
                          "resize": self.resize},
                "crop_margin": self.crop_margin, "max_people": self.max_people,
                "thresholds": {"keypoint": self.keypoint_threshold},
                "tensors": self.tensors.to_json(), "sources": list(self.sources)}


@dataclass(frozen=True)
class PerceptionSpec:
    detector: DetectorSpec | None
    classifier: ClassifierSpec | None
    boxes: BoxesSpec | None = None
    pose: PoseSpec | None = None  # needs the detector: it runs on its person boxes

    @property
    def graphs(self) -> list[GraphSpec]:
        return [g for g in (self.detector, self.classifier, self.boxes) if g is not None]

    @property
    def files(self) -> list[str]:
        """The bundle files this section needs: each graph and its labels."""
        return ([name for g in self.graphs for name in (g.file, g.labels_file)]
                + ([self.pose.file] if self.pose is not None else []))

    def to_json(self) -> dict:
        return ({g.role: g.to_json() for g in self.graphs}
                | ({"pose": self.pose.to_json()} if self.pose is not None else {}))
