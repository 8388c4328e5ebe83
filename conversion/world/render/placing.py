"""Where the objects of a scene stand: each group at its spot, sized by the spot's perspective,
side by side, overlapping what is already placed as little as possible."""

from __future__ import annotations

import math

import numpy as np

from conversion.world.scenes import Scene

from .backdrop import Layout, Placement, SpotRegion
from .draw import uniform

# Size of each kind relative to the standing-person height at a spot (Layout scale), as a random
# range, and the minimum size in pixels at a 128 px high image: a small CNN cannot tell a 12 px cat
# from a dog, so small things are drawn larger than life.
_SIZE_RANGE: dict[str, tuple[float, float]] = {
    "person": (0.9, 1.05),
    "dog": (0.45, 0.58),
    "cat": (0.32, 0.4),
    "package": (0.24, 0.34),
    "bicycle": (0.95, 1.1),
    "car": (2.2, 2.6),
}
_MIN_PX_AT_128: dict[str, float] = {
    "person": 36, "dog": 28, "cat": 26, "package": 20, "bicycle": 40, "car": 70,
}
# Approximate extent of each drawing relative to its size: (width, above base, below base). Used
# to place objects before they are drawn; the stored boxes come from the actual drawing.
_EXTENT: dict[tuple[str, str], tuple[float, float, float]] = {
    ("person", "standing"): (0.34, 1.0, 0.0),
    ("person", "walking"): (0.42, 1.0, 0.0),
    ("person", "sitting"): (0.45, 0.53, 0.23),
    ("dog", "standing"): (1.2, 1.0, 0.0),
    ("dog", "sitting"): (0.85, 1.0, 0.0),
    ("dog", "lying"): (1.35, 0.62, 0.0),
    ("cat", "standing"): (1.05, 1.0, 0.0),
    ("cat", "sitting"): (0.7, 1.0, 0.0),
    ("cat", "lying"): (0.95, 0.62, 0.0),
    ("package", "placed"): (1.45, 1.0, 0.0),
    ("bicycle", "parked"): (1.0, 0.62, 0.0),
    ("car", "parked"): (1.0, 0.48, 0.0),
}
# Lying animals are drawn larger so their (short) boxes stay readable.
_LYING_BOOST = 1.3


def _object_size(kind: str, pose: str, region: SpotRegion, width: int, height: int,
                 rng: np.random.Generator) -> float:
    lo, hi = _SIZE_RANGE[kind]
    size = max(region.scale * height * uniform(rng, lo, hi), _MIN_PX_AT_128[kind] * height / 128)
    if pose == "lying":
        size *= _LYING_BOOST
    if kind == "car":
        # A car must fit the frame whatever the spot's perspective says.
        # Not wider than about two thirds of it, so what stands at the garage behind stays visible.
        size = min(max(size, 0.5 * width), 0.7 * width)
    return size


def _overlap(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_groups(scene: Scene, layout: Layout, rng: np.random.Generator):
    """Positions for every instance: (group index, Placement) pairs.

    Spots are filled back to front; the groups of one spot stand in a row, instances of a group
    side by side. Among a few random positions of the row inside the spot, the one that overlaps
    least with what is already placed is taken, so groups at different spots rarely hide each
    other.
    """
    W, H = layout.width, layout.height
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[int, Placement]] = []
    spots = sorted({g.where for g in scene.groups}, key=lambda s: layout.spots[s].base_y)
    for spot in spots:
        region = layout.spots[spot]
        members = [i for i, g in enumerate(scene.groups) if g.where == spot]
        members = [members[j] for j in rng.permutation(len(members))]
        items = []  # (group index, size, width, top, bottom)
        for gi in members:
            g = scene.groups[gi]
            ext = _EXTENT[(g.kind, g.pose)]
            for _ in range(g.count):
                size = _object_size(g.kind, g.pose, region, W, H, rng)
                items.append((gi, size, size * ext[0], size * ext[1], size * ext[2]))
        gaps = [uniform(rng, 0.0, 0.06) * H for _ in items]
        row = sum(it[2] for it in items) + sum(gaps[:-1])
        lo, hi = region.x0, region.x1
        if row > hi - lo and len(items) > 1:
            # Too wide for the spot: let neighbours overlap, by at most 30 % of a width.
            widths = sum(it[2] for it in items[:-1])
            overlap = min(0.3, (row - (hi - lo)) / widths)
            gaps = [-overlap * it[2] for it in items]
            row = sum(it[2] for it in items) + sum(gaps[:-1])
        if row > hi - lo:
            # Still too wide: spill over the spot's ends, but stay in the frame.
            mid = (lo + hi) / 2
            lo = max(0.01 * W, mid - row / 2)
            hi = min(0.99 * W, lo + row)
            lo = max(0.01 * W, hi - row)
        best, best_score = None, math.inf
        for k in range(12):
            # Random positions, then both ends of the spot; the first least-overlapping one wins,
            # so an uncontested row lands anywhere in its spot.
            t = uniform(rng, 0.0, 1.0) if k < 10 else float(k - 10)
            start = lo + t * max(0.0, hi - lo - row)
            xs, x, boxes = [], start, []
            for it, gap in zip(items, gaps, strict=True):
                cx = x + it[2] / 2
                xs.append(cx)
                boxes.append((x, region.base_y - it[3], x + it[2], region.base_y + it[4]))
                x += it[2] + gap
            score = sum(_overlap(a, b) for a in boxes for b in placed)
            if score < best_score:
                best, best_score = (xs, boxes), score
        xs, boxes = best
        # What stands behind should not look like it is standing on what is in front, so the
        # space just below a placed object counts as taken too.
        placed.extend((x0, y0, x1, y1 + 0.1 * H) for x0, y0, x1, y1 in boxes)
        facing = 1 if rng.random() < 0.5 else -1
        for (gi, size, *_), cx in zip(items, xs, strict=True):
            g = scene.groups[gi]
            if rng.random() < 0.25:
                facing = -facing
            # Instances stand a little in front of or behind each other.
            base = region.base_y + uniform(rng, -0.012, 0.012) * H
            seed = int(rng.integers(2**31))
            gait = 1.0 if rng.random() < 0.5 else -1.0  # which leg is in front
            out.append((gi, Placement(g.kind, g.colour, g.pose, cx, base, size, facing, seed,
                                      gait)))
    return out
