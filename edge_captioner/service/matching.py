"""Which box of this frame is which object of the last: overlap first, then the nearest centre.

Pure and plain Python, for the tracker (tracks.py): a camera has a handful of objects of a kind,
and for a 3 x 3 problem numpy's per-call overhead costs ten times the arithmetic
(benchmarks/events_bench.py), so these do not use model/detections.py's array `iou`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .zones import Box

MIN_IOU = 0.2  # two boxes of one kind overlapping this much are the same object
# ...or, left unmatched by overlap, whose centres are closer than this many box diagonals (the
# larger box's): a person walking a step between two frames
MAX_JUMP = 0.8


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0.0) * max(h, 0.0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def jump(a: Box, b: Box) -> float:
    """The distance of the boxes' centres, in diagonals of the larger box."""
    dx = (a[0] + a[2] - b[0] - b[2]) / 2
    dy = (a[1] + a[3] - b[1] - b[3]) / 2
    scale = max(math.hypot(a[2] - a[0], a[3] - a[1]), math.hypot(b[2] - b[0], b[3] - b[1]), 1e-6)
    return math.hypot(dx, dy) / scale


def greedy_match(tracks: Sequence[Box], found: Sequence[Box],
                 reach: Sequence[float] | None = None,
                 min_iou: float = MIN_IOU) -> list[tuple[int, int]]:
    """(track index, detection index) pairs: best IoU (at least `min_iou`) first, then nearest
    centres first, within `reach[i]` diagonals of track i (MAX_JUMP for all by default; a negative
    reach: by overlap only).
"""
    pairs: list[tuple[int, int]] = []
    if not tracks or not found:
        return pairs
    used_t: set[int] = set()
    used_f: set[int] = set()
    by_overlap = sorted(((iou(t, f), i, j) for i, t in enumerate(tracks)
                         for j, f in enumerate(found)), key=lambda p: -p[0])
    for overlap, i, j in by_overlap:
        if overlap < min_iou:
            break
        if i not in used_t and j not in used_f:
            pairs.append((i, j))
            used_t.add(i)
            used_f.add(j)
    if len(used_t) == len(tracks) or len(used_f) == len(found):
        return pairs
    reach = reach or [MAX_JUMP] * len(tracks)
    by_distance = sorted((jump(t, f), i, j) for i, t in enumerate(tracks) if i not in used_t
                         for j, f in enumerate(found) if j not in used_f)
    for distance, i, j in by_distance:
        if distance > reach[i]:
            continue
        if i not in used_t and j not in used_f:
            pairs.append((i, j))
            used_t.add(i)
            used_f.add(j)
    return pairs
