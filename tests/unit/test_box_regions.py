"""The box detector's closer look at a camera's zones, its pure parts: a zone's rectangle and the
merging of what several looks at one frame found (the interpreter side: tests/device/
test_box_doorstep.py)."""

from __future__ import annotations

from edge_captioner.model.box_detector import merged, region_crop
from edge_captioner.model.perception import Found
from edge_captioner.service.zones import Zone, bounds


def test_a_zone_s_rectangle_is_its_points_extent_inside_the_frame():
    assert bounds(Zone("door", ((0.3, 0.6), (0.7, 0.55), (0.8, 1.0), (0.2, 0.98)))) == (
        0.2, 0.55, 0.8, 1.0)
    # a zone drawn past the frame's edge looks at the frame only
    assert bounds(Zone("mat", ((-0.1, 0.5), (1.2, 0.5), (0.5, 1.3)))) == (0.0, 0.5, 1.0, 1.0)


def test_a_box_found_by_two_looks_is_kept_once_with_the_better_score():
    whole = Found("Box", 0.31, (0.40, 0.70, 0.60, 0.95), "box")
    closer = Found("Box", 0.56, (0.41, 0.71, 0.61, 0.94), "box")
    other = Found("Box", 0.52, (0.05, 0.05, 0.15, 0.15), "box")
    person = Found("Person", 0.6, (0.40, 0.70, 0.60, 0.95))
    assert merged([whole, other, closer, person], 0.5) == [person, closer, other]
    assert merged([], 0.5) == []


def test_a_region_s_crop_is_a_square_inside_the_frame():
    # 1.2 times the region's longer side, centred on it
    assert region_crop((0.3, 0.3, 0.7, 0.7), 1000, 1000) == (260, 260, 740, 740)
    # never under a third of the frame's longer side: smaller crops were not measured
    assert region_crop((0.5, 0.5, 0.51, 0.51), 900, 600) == (304, 153, 604, 453)
    # at the frame's edge it moves in rather than being cut (the detector would squash it)
    assert region_crop((0.35, 0.7, 0.65, 1.0), 512, 512) == (164, 328, 348, 512)
    # never more than the frame's shorter side
    assert region_crop((0.0, 0.0, 1.0, 1.0), 800, 600) == (100, 0, 700, 600)
