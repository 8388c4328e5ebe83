"""A camera's named zones: polygons in fractions of the frame, and which zone an object is in. Pure.

An object is in a zone by one point of its box, its *anchor*: the bottom centre, where a person's
feet, a parcel's bottom or a car's wheels touch the ground. The middle of the box would put a
person standing in front of the door "in" a zone drawn on the doormat only when they are tall
enough; the feet are where they are.

Where a caption says the camera looks (`place`) follows the zones (docs/events.md):

* a camera without zones: its configured `place`, as before;
* with zones: a zone named after a place the captions know (front_door, driveway, ...) is that
  place for the objects in it; the caption names a place only when EVERY object it states is in
  a zone: the place-named zone they are all in, else the camera's `place`. One object outside
  every zone (a person on the pavement beyond the path) and the caption says "in view": the
  configured place is never claimed for an object outside the zones. An empty scene keeps the
  camera's place ("no one at the front door").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..scene.facts import PLACES

Point = tuple[float, float]
Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Zone:
    name: str
    points: tuple[Point, ...]  # at least three, fractions of the frame 0..1

    def contains(self, point: Point) -> bool:
        return inside(point, self.points)


def anchor(box: Box) -> Point:
    """The point of a box that says where an object is: its bottom centre (feet, box bottom)."""
    return ((box[0] + box[2]) / 2.0, box[3])


def inside(point: Point, polygon: Sequence[Point]) -> bool:
    """Whether `point` is inside `polygon` (even-odd ray casting; a point on the bottom edge of
    the frame, y == 1.0, counts as inside a zone drawn down to 1.0)."""
    x, y = point
    # a box's bottom is often exactly the frame's edge: nudge it in so an edge at 1.0 contains it
    y = min(y, 1.0 - 1e-9)
    hit = False
    n = len(polygon)
    for i in range(n):
        (x1, y1), (x2, y2) = polygon[i], polygon[(i + 1) % n]
        if (y1 > y) != (y2 > y):
            cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
            if x < cross:
                hit = not hit
    return hit


def bounds(zone: Zone) -> Box:
    """The rectangle round a zone (fractions of the frame, clipped to 0..1): where the box
    detector looks closer for a parcel (model/box_detector.py `find_in`)."""
    xs = [min(max(x, 0.0), 1.0) for x, _ in zone.points]
    ys = [min(max(y, 0.0), 1.0) for _, y in zone.points]
    return (min(xs), min(ys), max(xs), max(ys))


def zones_of(config: Mapping[str, Sequence[Sequence[float]]] | None) -> tuple[Zone, ...]:
    """The camera's zones from its (validated) `zones` key, in the file's order."""
    return tuple(Zone(name, tuple((float(p[0]), float(p[1])) for p in points))
                 for name, points in (config or {}).items())


def zone_at(zones: Iterable[Zone], box: Box) -> str | None:
    """The first zone (config order) holding the box's anchor, or None."""
    point = anchor(box)
    for zone in zones:
        if zone.contains(point):
            return zone.name
    return None


def place_for(zones: Sequence[Zone], boxes: Sequence[Box], camera_place: str | None) -> str | None:
    """Where a caption stating objects at these boxes may say they are (see the module doc)."""
    if not zones or not boxes:
        return camera_place
    where = [zone_at(zones, box) for box in boxes]
    if any(name is None for name in where):
        return None  # someone outside every zone: no place is claimed for them
    named = {name for name in where if name in PLACES}
    if len(named) == 1 and all(name in named for name in where):
        return named.pop()
    return camera_place
