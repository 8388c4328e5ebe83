"""The manifest's `perception` section: a bundle's real-world detector and classifier, and
optionally a box detector (`boxes`: an SSD whose classes include Box, model/box_detector.py) and a
pose model, parsed into the types of perception_specs.py.

Validated once at load (pure, no interpreter); edge_captioner/perception.py runs the graphs it
describes. Each graph is full-int8 TFLite, pretrained on real photographs (see the manifest's
`pretrained` provenance, provenance.py).
"""

from __future__ import annotations

from pathlib import Path

from ..errors import BadInput
from .choices import BOX_HEAD_TYPES, HEAD_TYPES, PERCEPTION_ROLES
from .perception_specs import (
    AnimalCheck,
    BoxesSpec,
    ClassifierSpec,
    CloserLook,
    DetectorSpec,
    PerceptionSpec,
    PoseSpec,
)
from .tensors import GraphTensors, check_image


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
    mirror = d.get("mirror", False)
    if not isinstance(mirror, bool):
        raise BadInput(f"{manifest_path}: '{where}.mirror' must be true or false")
    return DetectorSpec(**_graph_fields(d, "detector", manifest_path), head_type=head["type"],
                        strides=tuple(strides), reg_max=reg_max, centre_offset=offset,
                        score_threshold=score, iou_threshold=iou, max_detections=most,
                        kinds={kind: tuple(labels) for kind, labels in kinds.items()},
                        mirror=mirror, closer_look=_closer_look(d, where, manifest_path))


def _closer_look(d: dict, where: str, manifest_path: Path) -> CloserLook | None:
    look = d.get("closer_look")
    if look is None:
        return None
    where = f"{where}.closer_look"
    if not isinstance(look, dict):
        raise BadInput(f"{manifest_path}: '{where}' must be an object")
    people = _get(look, "people", int, where, manifest_path)
    scores = look.get("scores")
    grow = _get(look, "grow", float, where, manifest_path)
    if not (isinstance(scores, list) and len(scores) == 2
            and all(isinstance(s, int | float) and not isinstance(s, bool) for s in scores)
            and 0 <= scores[0] < scores[1] <= 1 and 1 <= people <= 16 and 1 <= grow <= 8):
        raise BadInput(f"{manifest_path}: '{where}' must give people 1..16, scores [low, high] "
                       "within 0..1 with low < high, and grow 1..8")
    return CloserLook(people=people, low=float(scores[0]), high=float(scores[1]), grow=grow)


def _classifier(c: object, manifest_path: Path) -> ClassifierSpec:
    if not isinstance(c, dict):
        raise BadInput(f"{manifest_path}: 'perception.classifier' must be an object")
    top_k = _get(c, "top_k", int, "perception.classifier", manifest_path)
    if not 1 <= top_k <= 100:
        raise BadInput(f"{manifest_path}: 'perception.classifier.top_k' must be 1..100")
    check = (_animal_check(c["animal_check"], manifest_path) if "animal_check" in c else None)
    return ClassifierSpec(**_graph_fields(c, "classifier", manifest_path), top_k=top_k,
                          animal_check=check)


def _class_ranges(value: object) -> tuple[tuple[int, int], ...] | None:
    """A non-empty list of [low, high] index pairs (ints, 0 <= low <= high), or None."""
    if not (isinstance(value, list) and value):
        return None
    out = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(v, int) and not isinstance(v, bool) for v in pair)
                and 0 <= pair[0] <= pair[1]):
            return None
        out.append((pair[0], pair[1]))
    return tuple(out)


def _animal_check(a: object, manifest_path: Path) -> AnimalCheck:
    where = "perception.classifier.animal_check"
    if not isinstance(a, dict):
        raise BadInput(f"{manifest_path}: '{where}' must be an object")
    kinds, animals = a.get("kinds"), _class_ranges(a.get("animals"))
    parsed = ({kind: _class_ranges(ranges) for kind, ranges in kinds.items()}
              if isinstance(kinds, dict) and kinds else None)
    if parsed is None or animals is None or any(r is None for r in parsed.values()):
        raise BadInput(f"{manifest_path}: '{where}' must give 'kinds' (a kind -> a list of "
                       "[low, high] class index ranges) and 'animals' (such a list)")
    min_score = _get(a, "min_score", float, where, manifest_path)
    grow = _get(a, "grow", float, where, manifest_path)
    if not (0 <= min_score <= 1 and 1 <= grow <= 4):
        raise BadInput(f"{manifest_path}: '{where}' must give min_score 0..1 and grow 1..4")
    return AnimalCheck(kinds=parsed, animals=animals, min_score=min_score, grow=grow)


def _numbers(value: object, count: int | None, low: float, high: float) -> bool:
    """A non-empty list of numbers (not bools), each in low..high, `count` long if given."""
    return (isinstance(value, list) and bool(value) and (count is None or len(value) == count)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and low <= v <= high
                    for v in value))


def _kinds(section: dict, where: str, manifest_path: Path) -> dict[str, tuple[str, ...]]:
    kinds = _get(section, "kinds", dict, where, manifest_path)
    if not all(isinstance(v, list) and v and all(isinstance(x, str) for x in v)
               for v in kinds.values()):
        raise BadInput(f"{manifest_path}: '{where}.kinds' must map each kind to a list of "
                       "detector labels")
    return {kind: tuple(labels) for kind, labels in kinds.items()}


MAX_ANCHORS = 100_000  # SSD-MobileNetV2 at 300 px has 1917


def _boxes(b: object, manifest_path: Path) -> BoxesSpec:
    if not isinstance(b, dict):
        raise BadInput(f"{manifest_path}: 'perception.boxes' must be an object")
    where = "perception.boxes"
    head = _get(b, "head", dict, where, manifest_path)
    if head.get("type") not in BOX_HEAD_TYPES:
        raise BadInput(f"{manifest_path}: '{where}.head.type' must be one of "
                       f"{', '.join(BOX_HEAD_TYPES)}")
    h = f"{where}.head"
    maps = head.get("feature_maps")
    if not (isinstance(maps, list) and 1 <= len(maps) <= 16 and all(
            isinstance(g, int) and not isinstance(g, bool) and 1 <= g <= 1024 for g in maps)):
        raise BadInput(f"{manifest_path}: '{h}.feature_maps' must be a list of grid sides 1..1024")
    low = _get(head, "min_scale", float, h, manifest_path)
    high = _get(head, "max_scale", float, h, manifest_path)
    ratios = head.get("aspect_ratios")
    if not _numbers(ratios, None, 0.01, 100) or len(ratios) > 16:
        raise BadInput(f"{manifest_path}: '{h}.aspect_ratios' must be a list of ratios 0.01..100")
    interpolated = _get(head, "interpolated_scale_aspect_ratio", float, h, manifest_path)
    reduce = _get(head, "reduce_boxes_in_lowest_layer", bool, h, manifest_path)
    offset = _get(head, "anchor_offset", float, h, manifest_path)
    scales = head.get("box_scales")
    if not _numbers(scales, 4, 0.001, 1000):
        raise BadInput(f"{manifest_path}: '{h}.box_scales' must be four numbers 0.001..1000 "
                       "(y, x, h, w)")
    background = head.get("background")
    if background is not None and not (isinstance(background, int)
                                       and not isinstance(background, bool) and background >= 0):
        raise BadInput(f"{manifest_path}: '{h}.background' must be a class index or null")
    thresholds = _get(b, "thresholds", dict, where, manifest_path)
    score = _get(thresholds, "score", float, f"{where}.thresholds", manifest_path)
    iou = _get(thresholds, "iou", float, f"{where}.thresholds", manifest_path)
    most = _get(thresholds, "max_detections", int, f"{where}.thresholds", manifest_path)
    if not (0 < low <= high <= 1 and 0 <= interpolated <= 100 and 0 <= offset < 1):
        raise BadInput(f"{manifest_path}: '{h}': a scale or the offset is out of range "
                       "(0 < min_scale <= max_scale <= 1, anchor_offset 0..1, "
                       "interpolated_scale_aspect_ratio 0..100)")
    if not (0 < score < 1 and 0 < iou <= 1 and 1 <= most <= 1000):
        raise BadInput(f"{manifest_path}: '{where}.thresholds' out of range (score 0..1, "
                       "iou 0..1, max_detections 1..1000)")
    per_layer = [3 if k == 0 and reduce else len(ratios) + (interpolated > 0)
                 for k in range(len(maps))]
    if sum(g * g * n for g, n in zip(maps, per_layer, strict=True)) > MAX_ANCHORS:
        # checked before any anchor is made: a hostile grid would otherwise allocate gigabytes
        raise BadInput(f"{manifest_path}: '{h}' makes more than {MAX_ANCHORS} anchors")
    return BoxesSpec(**_graph_fields(b, "boxes", manifest_path), feature_maps=tuple(maps),
                     min_scale=low, max_scale=high, aspect_ratios=tuple(float(r) for r in ratios),
                     interpolated_scale_aspect_ratio=interpolated,
                     reduce_boxes_in_lowest_layer=reduce, anchor_offset=offset,
                     box_scales=tuple(float(v) for v in scales), background=background,
                     score_threshold=score, iou_threshold=iou, max_detections=most,
                     kinds=_kinds(b, where, manifest_path))
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
    boxes = _boxes(section["boxes"], manifest_path) if "boxes" in section else None
    pose = _pose(section["pose"], manifest_path) if "pose" in section else None
    if pose is not None and detector is None:
        raise BadInput(f"{manifest_path}: 'perception.pose' needs 'perception.detector' (it "
                       "runs on the detector's person boxes)")
    return PerceptionSpec(detector, classifier, boxes, pose)
