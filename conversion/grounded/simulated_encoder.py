"""What the real-world encoder would report for a synthetic scene, with its realistic errors.

There are no captioned real photos to train on (see docs/encoders.md), so a decoder that reads the
real-world encoder's findings is trained on findings SIMULATED from synthetic scene records
(world.scenes.sample_scene): each object the scene holds is found or missed, scored, boxed; the
detector's own mistakes are added (duplicates, low-score false positives, cat/dog confusions,
jittered boxes); the classifier's top classes are drawn from the cues a scene's place and its
close-up animals would give. The result is the runtime's own `perception.Findings`, so the code
that turns findings into the decoder's input is the same in training and on the device.

`ErrorModel` holds every rate. Its defaults are ASSUMPTIONS, anchored where this machine allows
on what the shipped int8 encoder does on the package photos (`benchmarks/perception_photos.py
--all-scores`): true people and the cat scored 0.57-0.88;
false home-kind detections (>= 0.3) came at 8 in 21 frames, none above 0.48 (0.51 in float); the
cat was also scored a dog (0.37). Like the runtime, the findings keep what scores at least the
detector's threshold (0.5). Recall by object size and light follows NanoDet-m's COCO figures in spirit
(AP small << medium < large), not a measurement: docs/encoders.md says what is simulated.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from conversion.world.scenes import Scene
from edge_captioner.model.perception import Findings, Found

# The detector's labels for our kinds (the inverse of the manifest's perception.detector.kinds,
# one label each); packages have no COCO class: the detector never reports one.
DETECTOR_LABEL = {"person": "person", "dog": "dog", "cat": "cat", "bicycle": "bicycle", "car": "car"}

# ImageNet classes (labels/imagenet1k.txt names) a place or a close-up animal shows the classifier.
PLACE_CUES = {
    "front_door": ("doormat", "sliding door", "mailbox", "patio"),
    "living_room": ("studio couch", "home theater", "entertainment center", "television",
                    "rocking chair", "window shade"),
    "kitchen": ("refrigerator", "stove", "dishwasher", "microwave", "dining table"),
    "driveway": ("minivan", "pickup", "garbage truck", "moving van", "car wheel"),
    "backyard": ("picket fence", "worm fence", "lawn mower", "patio", "park bench"),
}
ANIMAL_CUES = {
    "cat": ("tabby", "tiger cat", "Egyptian cat", "Persian cat", "Siamese cat"),
    "dog": ("golden retriever", "Labrador retriever", "beagle", "pug"),
}
PARCEL_CUES = ("carton", "packet", "envelope", "crate")
FILLER = ("window screen", "quilt", "wool", "maze", "bubble", "nematode", "tripod", "rubber eraser")


@dataclass(frozen=True)
class ErrorModel:
    # scores are drawn from score_floor up; the findings keep those at or above report_threshold,
    # as the runtime keeps the detector's objects at the manifest's threshold (docs/encoders.md)
    score_floor: float = 0.3
    report_threshold: float = 0.5
    # probability that an object of a kind is found at all (>= score_floor), medium size, daylight
    recall: dict[str, float] = field(default_factory=lambda: {
        "person": 0.9, "dog": 0.75, "cat": 0.7, "bicycle": 0.7, "car": 0.85})
    small_recall: float = 0.45  # x recall for an object under 3 % of the frame
    night_recall: float = 0.7  # x recall at night
    true_score: tuple[float, float] = (6.0, 3.0)  # Beta(a, b) on [score_floor, 1]: mean ~0.77
    duplicate: float = 0.05  # a second box on the same object that NMS keeps
    confusion: dict[str, tuple[str, float]] = field(default_factory=lambda: {
        "cat": ("dog", 0.25), "dog": ("cat", 0.2)})  # an extra, lower-scored box of the other kind
    false_per_frame: float = 0.4  # home-kind false positives a frame (Poisson), scored low
    false_kinds: dict[str, float] = field(default_factory=lambda: {
        "person": 0.55, "dog": 0.15, "cat": 0.1, "car": 0.1, "bicycle": 0.1})
    false_score: tuple[float, float] = (0.3, 0.6)  # uniform: a third of them pass 0.5
    box_jitter: float = 0.08  # x the box's size, each side
    place_cue: float = 0.6  # probability that the classifier's top-5 shows a place cue
    animal_cue_area: float = 0.15  # an animal larger than this share of the frame: cue likely


def _box(rng: np.random.Generator, kind: str) -> tuple[float, float, float, float]:
    """A plausible box (fractions of the frame) for a kind: people tall, cars wide, pets small."""
    width, height = {
        "person": (rng.uniform(0.08, 0.45), rng.uniform(0.25, 0.95)),
        "car": (rng.uniform(0.3, 0.9), rng.uniform(0.2, 0.6)),
        "bicycle": (rng.uniform(0.12, 0.45), rng.uniform(0.12, 0.45)),
    }.get(kind, (rng.uniform(0.05, 0.5), rng.uniform(0.05, 0.45)))
    x1, y1 = rng.uniform(0, 1 - width), rng.uniform(0, 1 - height)
    return (float(x1), float(y1), float(x1 + width), float(y1 + height))


def _jitter(rng, box, amount: float) -> tuple[float, float, float, float]:
    w, h = box[2] - box[0], box[3] - box[1]
    d = rng.normal(0, amount, 4) * (w, h, w, h)
    x1, y1, x2, y2 = (np.clip(np.array(box) + d, 0, 1)).tolist()
    return (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))


def _score(rng, model: ErrorModel, scale: float = 1.0) -> float:
    a, b = model.true_score
    return float(model.score_floor + (1 - model.score_floor) * rng.beta(a, b) * scale)


def simulate(scene: Scene, rng: np.random.Generator, model: ErrorModel | None = None) -> Findings:
    """The findings the real encoder would plausibly report for this scene."""
    model = model or ErrorModel()
    objects: list[Found] = []
    animal_areas: dict[str, float] = {}
    for group in scene.groups:
        label = DETECTOR_LABEL.get(group.kind)
        for _ in range(group.count):
            box = _box(rng, group.kind)
            area = (box[2] - box[0]) * (box[3] - box[1])
            if group.kind in ANIMAL_CUES:
                animal_areas[group.kind] = max(area, animal_areas.get(group.kind, 0.0))
            if label is None:
                continue  # no COCO class: never detected
            p = model.recall[group.kind] * (model.small_recall if area < 0.03 else 1.0)
            p *= model.night_recall if scene.lighting == "night" else 1.0
            if rng.random() >= p:
                continue
            score = _score(rng, model)
            objects.append(Found(label, score, _jitter(rng, box, model.box_jitter), group.kind))
            if rng.random() < model.duplicate:
                objects.append(Found(label, _score(rng, model, 0.8),
                                     _jitter(rng, box, 3 * model.box_jitter), group.kind))
            other = model.confusion.get(group.kind)
            if other is not None and rng.random() < other[1]:
                objects.append(Found(other[0], float(rng.uniform(model.score_floor, score)),
                                     _jitter(rng, box, model.box_jitter), other[0]))
    kinds, weights = zip(*model.false_kinds.items(), strict=True)
    for _ in range(rng.poisson(model.false_per_frame)):
        kind = kinds[rng.choice(len(kinds), p=np.array(weights) / sum(weights))]
        objects.append(Found(DETECTOR_LABEL[kind], float(rng.uniform(*model.false_score)),
                             _box(rng, kind), kind))
    objects = sorted((o for o in objects if o.score >= model.report_threshold),
                     key=lambda o: -o.score)
    return Findings(objects=objects, classes=_classes(scene, animal_areas, rng, model))


def _classes(scene: Scene, animal_areas: dict[str, float], rng: np.random.Generator,
             model: ErrorModel) -> list[tuple[str, float]]:
    """The classifier's top 5: cues of the place, of a close-up animal, of parcels, and filler,
    with probabilities that sum to at most 1."""
    cues: list[tuple[str, float]] = []
    for kind, area in animal_areas.items():
        if area > model.animal_cue_area and rng.random() < 0.8:
            cues.append((ANIMAL_CUES[kind][rng.integers(len(ANIMAL_CUES[kind]))],
                         float(rng.uniform(0.2, 0.8))))
    if any(g.kind == "package" for g in scene.groups) and rng.random() < 0.5:
        cues.append((PARCEL_CUES[rng.integers(len(PARCEL_CUES))], float(rng.uniform(0.05, 0.5))))
    if rng.random() < model.place_cue:
        options = PLACE_CUES[scene.place]
        cues.append((options[rng.integers(len(options))], float(rng.uniform(0.05, 0.6))))
    while len(cues) < 5:
        cues.append((FILLER[rng.integers(len(FILLER))], float(rng.uniform(0.0, 0.1))))
    total = sum(p for _, p in cues)
    scale = 1.0 / total if total > 1 else 1.0
    merged: dict[str, float] = {}
    for name, p in cues:
        merged[name] = merged.get(name, 0.0) + p * scale
    return sorted(merged.items(), key=lambda item: -item[1])[:5]
