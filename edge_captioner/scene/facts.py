"""The facts a caption may state about one frame: how many of each kind, the postures of the
people (and the furniture they are on), and where the camera looks.

`Facts` is what perception found after its thresholds (model/facts_from.py builds it from the
findings); a caption is true when every fact it states is one of these (support.py). Counts are
exact up to MAX_EXACT; more is "many", never a smaller number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

# The kinds a caption names, in the order a caption lists them.
KINDS = ("person", "car", "truck", "bus", "motorcycle", "bicycle", "dog", "cat", "bird", "box",
         "backpack", "handbag", "suitcase", "umbrella")
# Kinds the detector confuses for one another (a white van is a car in one frame and a truck in the
# next; a cat is a dog): the tracker follows such a set as one object (service/tracks.py)
CONFUSED_VEHICLES = ("car", "truck", "bus")
CONFUSED_ANIMALS = ("dog", "cat")
# The occupancy's groups (service/events.py) and the history's
VEHICLES = (*CONFUSED_VEHICLES, "motorcycle", "bicycle")
ANIMALS = (*CONFUSED_ANIMALS, "bird")
CARRIED = ("box", "backpack", "handbag", "suitcase", "umbrella")
POSTURES = ("standing", "sitting", "lying")
# What a sitting or lying person can be found on (by overlap with the detector's furniture).
SPOTS = ("sofa", "bed", "chair")
# (posture, spot) pairs a caption can say; a person lying on a chair is not one of them.
POSE_GROUPS: tuple[tuple[str, str | None], ...] = (
    ("standing", None), ("sitting", None), ("sitting", "sofa"), ("sitting", "bed"),
    ("sitting", "chair"), ("lying", None), ("lying", "sofa"), ("lying", "bed"))
PLACES = ("front_door", "living_room", "kitchen", "driveway", "backyard")
MAX_EXACT = 9
"""Counts 1..MAX_EXACT are said exactly; more are "many" (MANY), never a smaller number."""
MANY = MAX_EXACT + 1


def place_key(place: str) -> str:
    """A configured place in the captions' spelling: "Front door", "front-door" -> "front_door"
    (one of PLACES, or free text the captions have no words for)."""
    return place.strip().lower().replace(" ", "_").replace("-", "_")


def said_count(n: int) -> int:
    """The count a caption states for n found: n, or MANY for more than MAX_EXACT."""
    return min(n, MANY)


@dataclass(frozen=True)
class PersonGroup:
    posture: str | None  # None: posture not known
    spot: str | None  # furniture the people are on, or None
    count: int

    @property
    def pose(self) -> tuple[str, str | None] | None:
        return None if self.posture is None else (self.posture, self.spot)


@dataclass(frozen=True)
class Facts:
    """counts: kind -> number found (> 0), KINDS order, people included. people: the people by
    posture group (POSE_GROUPS order, the unknown-posture group last); their counts add up to the
    person count. Build with `make_facts`, which checks and orders."""
    counts: tuple[tuple[str, int], ...] = ()
    people: tuple[PersonGroup, ...] = ()
    place: str | None = None
    extra: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    @property
    def count_of(self) -> dict[str, int]:
        return dict(self.counts)

    @property
    def empty(self) -> bool:
        return not self.counts

    def said(self) -> Facts:
        """The same facts with counts as a caption states them: each count, and each posture
        group's, capped at MANY; the people are the sum of their groups."""
        groups = {g.pose: said_count(g.count) for g in self.people}
        counts = {k: said_count(n) for k, n in self.counts}
        if groups:  # a caption states its people group by group: the total is their sum
            counts["person"] = sum(groups.values())
        return make_facts(counts, groups, self.place)

    def to_json(self) -> dict:
        return {"kinds": dict(self.counts),
                "postures": [{"posture": g.posture, "on": g.spot, "count": g.count}
                             for g in self.people if g.posture is not None],
                "place": self.place}


def make_facts(counts: Mapping[str, int], postures: Mapping[tuple[str, str | None] | None, int]
               | None = None, place: str | None = None) -> Facts:
    """Checked, ordered Facts. postures: (posture, spot) -> how many people, None -> people whose
    posture is not known; the people not covered are added to the unknown group. ValueError on
    an unknown kind, place, posture group, a negative count or more postures than people."""
    unknown = set(counts) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kind(s) {sorted(unknown)}")
    for kind, n in counts.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"count of {kind!r} must be an int >= 0, not {n!r}")
    if place is not None and place not in PLACES:
        raise ValueError(f"unknown place {place!r}")
    ordered = tuple((k, counts[k]) for k in KINDS if counts.get(k))
    people = counts.get("person", 0)
    groups = dict(postures or {})
    for pose, n in groups.items():
        if pose is not None and pose not in POSE_GROUPS:
            raise ValueError(f"unknown posture group {pose!r}")
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"count of posture {pose!r} must be an int >= 0, not {n!r}")
    known = sum(n for pose, n in groups.items() if pose is not None)
    if known > people:
        raise ValueError(f"{known} people with a posture, but {people} people")
    rest = people - known
    out = [PersonGroup(p, s, groups[(p, s)]) for p, s in POSE_GROUPS if groups.get((p, s))]
    if rest:
        out.append(PersonGroup(None, None, rest))
    return Facts(ordered, tuple(out), place)


def group_people(poses: Iterable[tuple[str, str | None] | None]) -> dict:
    """One entry per person (their (posture, spot), or None) -> counts per group."""
    out: dict = {}
    for pose in poses:
        out[pose] = out.get(pose, 0) + 1
    return out
