"""The facts of a frame from what the perception found: per-kind score thresholds, counts, each
person's posture (from the pose model, when the bundle has one) and the furniture they are on.

Pure: the objects only need `kind`, `score`, `box` (x1, y1, x2, y2, fractions of the frame) and
`posture` (standing, sitting, lying or None).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

from ..model.detections import iou
from .facts import KINDS, POSE_GROUPS, SPOTS, Facts, group_people, make_facts

# A person the detector scored under their kind's threshold is still a fact when it scored at least
# RESCUE_SCORE and the pose model is this sure a person is in the box (chosen on the tune half of
# the real photos: docs/pose.md).
RESCUE_SCORE = 0.3
RESCUE_POSE_SCORE = 0.55
# Among people: a person the detector scored at least CROWD_SCORE (under the person threshold) is a
# fact when at least CROWD_SURE people are (over the threshold, or rescued) and none of those
# overlaps it by CROWD_DUPLICATE_IOU or more (then it is more likely a second box on one of them).
# Where others are surely there, a half-hidden or small one scores just under the threshold; the
# rule never makes a person of a frame with fewer than two, so it can raise a count but never put
# someone at the door (chosen on the tune half of the real photos: docs/model-card.md, "Crowds").
CROWD_SURE = 2
CROWD_SCORE = 0.5
CROWD_DUPLICATE_IOU = 0.2
# Two boxes on one person: the detector sometimes boxes part of a person (the upper body) besides
# the whole of them, both over the threshold (its NMS keeps boxes overlapping under IoU 0.6). Of
# two people's boxes where one lies at least NESTED_INSIDE inside the other and their widths are
# within NESTED_WIDTH of each other, the less sure one is not a person of its own (chosen on the
# tune half of the real photos: docs/model-card.md, "Two boxes on one person").
NESTED_INSIDE = 0.85
NESTED_WIDTH = 0.8
# A sitting or lying person is on a piece of furniture when at least this much of the person's
# box lies inside the furniture's box, and the person's box bottom is within the furniture's.
ON_FURNITURE_OVERLAP = 0.3


class Seen(Protocol):
    kind: str | None
    score: float
    box: tuple[float, float, float, float]
    posture: str | None
    pose_score: float | None


def _inside(person: tuple, thing: tuple) -> float:
    """The fraction of the person's box inside the thing's box."""
    w = min(person[2], thing[2]) - max(person[0], thing[0])
    h = min(person[3], thing[3]) - max(person[1], thing[1])
    area = (person[2] - person[0]) * (person[3] - person[1])
    return max(w, 0.0) * max(h, 0.0) / area if area > 0 else 0.0


def spot_of(person: Seen, furniture: list[Seen]) -> str | None:
    """The furniture a sitting or lying person is on (the one holding most of them), or None."""
    best, best_inside = None, ON_FURNITURE_OVERLAP
    for thing in furniture:
        inside = _inside(person.box, thing.box)
        bottom = person.box[3]
        if inside >= best_inside and thing.box[1] <= bottom <= thing.box[3] + 0.05:
            best, best_inside = thing.kind, inside
    if best is not None and (person.posture, best) not in POSE_GROUPS:
        return None  # lying on a chair is not something a caption says
    return best


def kept(objects: Iterable[Seen], kinds: Sequence[str], thresholds: Mapping[str, float],
         default: float) -> list[Seen]:
    """The objects of one of `kinds` or a furniture kind scoring at least their kind's threshold
    (or rescued by the pose model), and the people the crowd rule keeps; in the objects' order."""
    objects = [o for o in objects if o.kind in kinds or o.kind in SPOTS]
    # by identity: two detections may be equal in every field and still be two
    sure = {id(o) for o in objects if o.score >= thresholds.get(o.kind, default) or _rescued(o)}
    people = [o for o in objects if o.kind == "person" and id(o) in sure]
    if len(people) >= CROWD_SURE:
        for o in sorted((o for o in objects if o.kind == "person" and id(o) not in sure),
                        key=lambda o: -o.score):
            if o.score >= CROWD_SCORE and all(iou(o.box, p.box) < CROWD_DUPLICATE_IOU
                                              for p in people):
                people.append(o)
                sure.add(id(o))
    sure -= _nested(people)
    return [o for o in objects if id(o) in sure]


def _nested(people: Sequence[Seen]) -> set[int]:
    """The ids of the people whose box is a second box on a surer person (NESTED_INSIDE,
    NESTED_WIDTH)."""
    doubles: set[int] = set()
    ranked = sorted(people, key=lambda o: -o.score)
    for i, o in enumerate(ranked):
        for p in ranked[:i]:
            narrow, wide = sorted((o.box[2] - o.box[0], p.box[2] - p.box[0]))
            if (id(p) not in doubles and narrow >= NESTED_WIDTH * wide
                    and max(_inside(o.box, p.box), _inside(p.box, o.box)) >= NESTED_INSIDE):
                doubles.add(id(o))
                break
    return doubles


def least_sure(objects: Iterable[Seen], kinds: Sequence[str], thresholds: Mapping[str, float],
               default: float) -> float:
    """How sure the perception was of the least sure object the facts state (1.0 when they
    state none): a caption is as sure as the least sure thing it names. The objects are those
    `kept` (a person the pose model rescued included), furniture left out."""
    return min((o.score for o in kept(objects, kinds, thresholds, default) if o.kind in kinds),
               default=1.0)


def _rescued(o: Seen) -> bool:
    pose_score = getattr(o, "pose_score", None)
    return (o.kind == "person" and o.score >= RESCUE_SCORE and pose_score is not None
            and pose_score >= RESCUE_POSE_SCORE)


def facts_of(objects: Iterable[Seen], *, place: str | None, kinds: Sequence[str] = KINDS,
             pose_groups: Sequence[tuple[str, str | None]] = POSE_GROUPS,
             thresholds: Mapping[str, float], default: float) -> Facts:
    """The facts of one frame, as far as a bundle can say them: objects of other kinds are left
    out, and a posture group it has no words for is an unknown posture. place: one of
    facts.PLACES or None."""
    seen = kept(objects, kinds, thresholds, default)
    furniture = [o for o in seen if o.kind in SPOTS]
    counts: dict[str, int] = {}
    poses = []
    for o in seen:
        if o.kind not in kinds:
            continue
        counts[o.kind] = counts.get(o.kind, 0) + 1
        if o.kind == "person":
            pose = None
            if o.posture is not None:
                spot = spot_of(o, furniture) if o.posture != "standing" else None
                pose = (o.posture, spot)
                if pose not in pose_groups:
                    pose = (o.posture, None) if (o.posture, None) in pose_groups else None
            poses.append(pose)
    return make_facts(counts, group_people(poses), place)
