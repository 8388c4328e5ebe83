"""The box detector's closer look at a camera's zones, its pure parts: a zone's rectangle and the
merging of what several looks at one frame found (the interpreter side: tests/device/
test_box_doorstep.py)."""

from __future__ import annotations

from edge_captioner.model.box_detector import merged
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
