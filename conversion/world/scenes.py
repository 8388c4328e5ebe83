"""The ground-truth scene record of a synthetic home-camera image, and how scenes are sampled.

A scene is a place (front door, living room, ...), a lighting condition and 0..3 objects in groups
of one kind each ("two black cats on the sofa"). The renderer draws it, the caption writers describe
it (English and Chinese), and evaluation scores generated captions against it. Everything here is
pure data and numpy randomness: no OpenCV, no drawing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

KINDS = ("person", "dog", "cat", "bicycle", "car", "package")
"""Object kinds, in the canonical order captions list them in."""

PLACES = ("front_door", "living_room", "kitchen", "driveway", "backyard")
LIGHTINGS = ("day", "night", "lights_on")

# Spots: where an object group stands, per place, with the kinds that belong there. The canonical
# caption lists spots in this order. The renderer maps each spot to an image region.
SPOTS: dict[str, dict[str, tuple[str, ...]]] = {
    "front_door": {
        "door": ("person", "dog", "cat", "package"),
        "porch": ("person", "dog", "cat", "package", "bicycle"),
    },
    "living_room": {
        "sofa": ("person", "cat", "dog"),
        "floor": ("person", "cat", "dog", "package"),
    },
    "kitchen": {
        "counter": ("cat", "package"),
        "floor": ("person", "cat", "dog", "package"),
    },
    "driveway": {
        "driveway": ("car", "person", "bicycle", "dog", "cat"),
        "garage": ("person", "bicycle", "package", "dog", "cat"),
    },
    "backyard": {
        "lawn": ("person", "dog", "cat", "bicycle"),
        "fence": ("person", "dog", "cat", "bicycle"),
    },
}

COLOURS: dict[str, tuple[str, ...]] = {
    # person: the colour of the clothes
    "person": ("red", "blue", "green", "yellow", "black", "white", "grey"),
    "dog": ("black", "white", "brown", "grey", "yellow"),
    "cat": ("black", "white", "grey", "orange", "brown"),
    "bicycle": ("red", "blue", "green", "black", "yellow", "white"),
    "car": ("red", "blue", "white", "black", "silver", "green"),
    "package": ("brown", "white"),
}

POSES: dict[str, tuple[str, ...]] = {
    "person": ("standing", "walking"),
    "dog": ("standing", "sitting", "lying"),
    "cat": ("standing", "sitting", "lying"),
    "bicycle": ("parked",),
    "car": ("parked",),
    "package": ("placed",),
}
# A person on a sofa sits; nobody walks on a kitchen counter.
SPOT_POSES: dict[tuple[str, str], dict[str, tuple[str, ...]]] = {
    ("living_room", "sofa"): {"person": ("sitting",), "cat": ("sitting", "lying"),
                              "dog": ("sitting", "lying")},
    ("kitchen", "counter"): {"cat": ("sitting", "lying", "standing")},
}

MAX_COUNT = {"person": 3, "dog": 3, "cat": 3, "bicycle": 2, "car": 1, "package": 3}
MAX_OBJECTS = 3
# How many objects a scene holds: empty scenes are rarer than busy ones, as at a real front door.
OBJECT_COUNT_P = (0.12, 0.38, 0.30, 0.20)


@dataclass
class ObjectGroup:
    kind: str
    colour: str
    count: int
    where: str  # a spot of the scene's place, see SPOTS
    pose: str
    boxes: list[list[int]] = field(default_factory=list)  # [x, y, w, h] per instance, filled by the renderer


@dataclass
class Scene:
    place: str
    lighting: str
    groups: list[ObjectGroup] = field(default_factory=list)

    @property
    def n_objects(self) -> int:
        return sum(g.count for g in self.groups)

    def counts(self) -> dict[str, int]:
        return {g.kind: g.count for g in self.groups}

    def to_record(self) -> dict:
        """JSON-serialisable ground truth, stored with each image of the data set."""
        return {
            "place": self.place,
            "lighting": self.lighting,
            "n_objects": self.n_objects,
            "objects": [asdict(g) for g in self.groups],
        }

    @classmethod
    def from_record(cls, record: dict) -> Scene:
        return cls(
            place=record["place"],
            lighting=record["lighting"],
            groups=[ObjectGroup(**g) for g in record.get("objects", [])],
        )


def canonical_order(groups: list[ObjectGroup], place: str) -> list[ObjectGroup]:
    """Spots in the place's order, then kinds in KINDS order: the order the canonical caption uses."""
    spot_rank = {s: i for i, s in enumerate(SPOTS[place])}
    return sorted(groups, key=lambda g: (spot_rank[g.where], KINDS.index(g.kind)))


def sample_scene(rng: np.random.Generator) -> Scene:
    """Draw a random, physically plausible scene. Each kind appears in at most one group."""
    place = PLACES[rng.integers(len(PLACES))]
    lighting = LIGHTINGS[rng.choice(len(LIGHTINGS), p=(0.5, 0.25, 0.25))]
    n_total = int(rng.choice(len(OBJECT_COUNT_P), p=OBJECT_COUNT_P))
    groups: list[ObjectGroup] = []
    remaining = n_total
    # Candidate (spot, kind) pairs for this place; cars take the whole driveway, so one at most.
    while remaining > 0:
        used = {g.kind for g in groups}
        candidates = [
            (spot, kind)
            for spot, kinds in SPOTS[place].items()
            for kind in kinds
            if kind not in used
        ]
        if not candidates:
            break
        spot, kind = candidates[rng.integers(len(candidates))]
        max_here = min(MAX_COUNT[kind], remaining)
        # Single objects are the common case; groups of two or three come less often.
        weights = np.array([1.0, 0.6, 0.35][:max_here])
        count = int(rng.choice(np.arange(1, max_here + 1), p=weights / weights.sum()))
        poses = SPOT_POSES.get((place, spot), {}).get(kind, POSES[kind])
        groups.append(
            ObjectGroup(
                kind=kind,
                colour=COLOURS[kind][rng.integers(len(COLOURS[kind]))],
                count=count,
                where=spot,
                pose=poses[rng.integers(len(poses))],
            )
        )
        remaining -= count
    return Scene(place=place, lighting=lighting, groups=canonical_order(groups, place))
