"""The manifest's `perception` section: a bundle's real-world detector and classifier.

Validated once at load (pure, no interpreter); edge_captioner/perception.py runs the graphs it
describes. Each graph is full-int8 TFLite, pretrained on real photographs (see the manifest's
`pretrained` provenance, provenance.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import BadInput
from .choices import HEAD_TYPES, PERCEPTION_ROLES
from .tensors import GraphTensors, check_image


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
class DetectorSpec(GraphSpec):
    head_type: str
    strides: tuple[int, ...]
    reg_max: int
    centre_offset: float
    score_threshold: float
    iou_threshold: float
    max_detections: int
    kinds: dict[str, tuple[str, ...]]  # home kind (person, car, ...) -> the detector labels of it

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
                **self._json_tail()}


@dataclass(frozen=True)
class ClassifierSpec(GraphSpec):
    top_k: int

    def to_json(self) -> dict:
        return {**self._json_head(), "top_k": self.top_k, **self._json_tail()}


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
    pose: PoseSpec | None = None  # needs the detector: it runs on its person boxes

    @property
    def graphs(self) -> list[GraphSpec]:
        return [g for g in (self.detector, self.classifier) if g is not None]

    @property
    def files(self) -> list[str]:
        """The bundle files this section needs: each graph and its labels."""
        return ([name for g in self.graphs for name in (g.file, g.labels_file)]
                + ([self.pose.file] if self.pose is not None else []))

    def to_json(self) -> dict:
        return ({g.role: g.to_json() for g in self.graphs}
                | ({"pose": self.pose.to_json()} if self.pose is not None else {}))


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
    size, colour_order, resize = check_image(image, f"{where}.image", manifest_path, 16, 2048,
                                             square=True)
    sources = section.get("sources", [])
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise BadInput(f"{manifest_path}: '{where}.sources' must be a list of source names")
    return {
        "role": role,
        "file": _get(section, "file", str, where, manifest_path),
        "labels_file": _get(section, "labels", str, where, manifest_path),
        "size": size[0],
        "colour_order": colour_order,
        "resize": resize,
        "tensors": GraphTensors.from_json(_get(section, "tensors", dict, where, manifest_path),
                                          f"{where}.tensors", manifest_path, required=False),
        "sources": tuple(sources),
    }


def _detector(d: object, manifest_path: Path) -> DetectorSpec:
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
    return DetectorSpec(**_graph_fields(d, "detector", manifest_path), head_type=head["type"],
                        strides=tuple(strides), reg_max=reg_max, centre_offset=offset,
                        score_threshold=score, iou_threshold=iou, max_detections=most,
                        kinds={kind: tuple(labels) for kind, labels in kinds.items()})


def _classifier(c: object, manifest_path: Path) -> ClassifierSpec:
    if not isinstance(c, dict):
        raise BadInput(f"{manifest_path}: 'perception.classifier' must be an object")
    top_k = _get(c, "top_k", int, "perception.classifier", manifest_path)
    if not 1 <= top_k <= 100:
        raise BadInput(f"{manifest_path}: 'perception.classifier.top_k' must be 1..100")
    return ClassifierSpec(**_graph_fields(c, "classifier", manifest_path), top_k=top_k)


def _pose(p: object, manifest_path: Path) -> PoseSpec:
    where = "perception.pose"
    if not isinstance(p, dict):
        raise BadInput(f"{manifest_path}: '{where}' must be an object")
    size, colour_order, resize = check_image(_get(p, "image", dict, where, manifest_path),
                                             f"{where}.image", manifest_path, 16, 2048,
                                             square=True)
    margin = _get(p, "crop_margin", float, where, manifest_path)
    most = _get(p, "max_people", int, where, manifest_path)
    thresholds = _get(p, "thresholds", dict, where, manifest_path)
    keypoint = _get(thresholds, "keypoint", float, f"{where}.thresholds", manifest_path)
    if not (0 <= margin <= 2 and 1 <= most <= 20 and 0 < keypoint < 1):
        raise BadInput(f"{manifest_path}: '{where}': a value is out of range (crop_margin 0..2, "
                       "max_people 1..20, thresholds.keypoint 0..1)")
    sources = p.get("sources", [])
    if not (isinstance(sources, list) and all(isinstance(s, str) for s in sources)):
        raise BadInput(f"{manifest_path}: '{where}.sources' must be a list of source names")
    return PoseSpec(file=_get(p, "file", str, where, manifest_path), size=size[0],
                    colour_order=colour_order, resize=resize, crop_margin=margin,
                    max_people=most, keypoint_threshold=keypoint,
                    tensors=GraphTensors.from_json(_get(p, "tensors", dict, where, manifest_path),
                                                   f"{where}.tensors", manifest_path,
                                                   required=False),
                    sources=tuple(sources))


def parse_perception(manifest: dict, manifest_path: Path) -> PerceptionSpec | None:
    """The manifest's `perception` section, validated; None for a bundle without one."""
    section = manifest.get("perception")
    if section is None:
        return None
    if not isinstance(section, dict) or not set(section) & set(PERCEPTION_ROLES):
        raise BadInput(f"{manifest_path}: 'perception' must be an object with a detector "
                       "and/or a classifier")
    unknown = set(section) - set(PERCEPTION_ROLES) - {"pose"}
    if unknown:
        raise BadInput(f"{manifest_path}: 'perception' has unknown key(s) {sorted(unknown)}")
    detector = _detector(section["detector"], manifest_path) if "detector" in section else None
    classifier = (_classifier(section["classifier"], manifest_path) if "classifier" in section
                  else None)
    pose = _pose(section["pose"], manifest_path) if "pose" in section else None
    if pose is not None and detector is None:
        raise BadInput(f"{manifest_path}: 'perception.pose' needs 'perception.detector' (it "
                       "runs on the detector's person boxes)")
    return PerceptionSpec(detector, classifier, pose)
