"""The objects of a scene, drawn in their pose and colour: person, dog, cat, package, car,
bicycle (`draw_object`)."""

from __future__ import annotations

import math

import numpy as np

from .draw import jitter, pick, shade, tint, uniform
from .pen import Pen

# Base colours (BGR) of the scene's colour names; each object jitters them a little.
_COLOUR_BGR: dict[str, tuple[int, int, int]] = {
    "red": (40, 40, 200),
    "blue": (185, 95, 35),
    "green": (60, 145, 45),
    "yellow": (40, 205, 235),
    "black": (34, 33, 35),
    "white": (235, 235, 232),
    "grey": (128, 128, 126),
    "brown": (45, 85, 135),
    "orange": (35, 125, 235),
    "silver": (192, 192, 188),
}
# Where a colour name means something else for an animal or a box ("yellow" dog = golden fur).
_KIND_COLOUR_BGR: dict[tuple[str, str], tuple[int, int, int]] = {
    ("dog", "yellow"): (95, 175, 228),
    ("dog", "brown"): (40, 80, 130),
    ("cat", "brown"): (55, 95, 145),
    ("cat", "grey"): (135, 130, 128),
    ("package", "brown"): (105, 158, 205),
    ("package", "white"): (232, 234, 236),
}
_SKIN = ((170, 200, 240), (140, 175, 225), (110, 150, 200), (75, 110, 160), (50, 75, 115))
_HAIR = ((20, 30, 45), (22, 22, 24), (70, 150, 200), (150, 150, 152), (30, 55, 95))
_TROUSERS = ((105, 65, 40), (38, 36, 36), (85, 85, 85), (90, 125, 150), (70, 50, 35))


def _person(pen: Pen, cloth, pose, rng, gait) -> None:
    skin = jitter(rng, pick(rng, _SKIN), 8)
    hair = jitter(rng, pick(rng, _HAIR), 8)
    trousers = jitter(rng, pick(rng, _TROUSERS), 8)
    shoes = (28, 28, 30)
    cloth_dark = shade(cloth, 0.72) if max(cloth) > 60 else tint(cloth, 0.08)
    edge = shade(cloth, 0.55)
    if pose == "sitting":
        # Side view on a seat: base is the seat surface, the legs hang down in front.
        pen.line([(0.0, -0.07), (0.2, -0.08)], 0.09, shade(trousers, 0.8))
        pen.line([(0.0, -0.04), (0.21, -0.05), (0.23, 0.19)], 0.09, trousers)
        pen.ellipse(0.26, 0.205, 0.055, 0.025, 0, shoes)
        pen.poly([(-0.09, -0.02), (0.08, -0.02), (0.04, -0.37), (-0.11, -0.37)], cloth, edge)
        pen.poly([(-0.09, -0.02), (-0.03, -0.02), (-0.06, -0.37), (-0.11, -0.37)], cloth_dark)
        pen.line([(-0.03, -0.34), (0.03, -0.17), (0.14, -0.1)], 0.055, cloth_dark)
        pen.circle(0.16, -0.1, 0.03, skin)
        pen.line([(-0.03, -0.36), (-0.03, -0.41)], 0.05, shade(skin, 0.85))
        pen.ellipse(-0.02, -0.45, 0.065, 0.078, 0, skin, shade(skin, 0.7))
        pen.ellipse(-0.035, -0.47, 0.068, 0.06, -20, hair, arc=(150, 360))
        pen.circle(0.045, -0.445, 0.016, skin)
        return
    if pose == "walking":
        a = 0.15 * gait
        pen.shadow(0.0, 0.0, 0.2, 0.03)
        far_trousers = shade(trousers, 0.75)
        pen.line([(0.0, -0.48), (-0.45 * a, -0.25), (-a, -0.03)], 0.085, far_trousers)
        pen.ellipse(-a + 0.03, -0.02, 0.05, 0.022, 0, shoes)
        pen.line([(0.0, -0.77), (0.35 * a - 0.02, -0.63), (0.6 * a, -0.5)], 0.055,
                 shade(cloth_dark, 0.85))
        pen.poly([(-0.08, -0.8), (0.07, -0.8), (0.07, -0.46), (-0.075, -0.46)], cloth, edge)
        pen.poly([(-0.08, -0.8), (-0.03, -0.8), (-0.035, -0.46), (-0.075, -0.46)], cloth_dark)
        pen.line([(0.0, -0.48), (0.55 * a + 0.03, -0.26), (a, -0.03)], 0.085, trousers)
        pen.ellipse(a + 0.03, -0.02, 0.05, 0.022, 0, shoes)
        pen.line([(0.0, -0.77), (-0.35 * a - 0.02, -0.63), (-0.6 * a, -0.5)], 0.055, cloth_dark)
        pen.circle(-0.6 * a, -0.49, 0.028, skin)
        pen.line([(0.0, -0.79), (0.0, -0.85)], 0.05, shade(skin, 0.85))
        pen.ellipse(0.01, -0.92, 0.065, 0.078, 0, skin, shade(skin, 0.7))
        pen.ellipse(-0.005, -0.945, 0.068, 0.058, -20, hair, arc=(150, 360))
        pen.circle(0.075, -0.915, 0.016, skin)
        return
    # Standing, front (or back) view.
    pen.shadow(0.0, 0.0, 0.17, 0.03)
    for side in (-1, 1):
        pen.line([(0.05 * side, -0.48), (0.06 * side, -0.04)], 0.085, trousers)
        pen.ellipse(0.065 * side, -0.02, 0.045, 0.025, 0, shoes)
    pen.poly([(-0.13, -0.8), (0.13, -0.8), (0.11, -0.46), (-0.11, -0.46)], cloth, edge)
    pen.poly([(0.05, -0.8), (0.13, -0.8), (0.11, -0.46), (0.045, -0.46)], cloth_dark)
    for side in (-1, 1):
        pen.circle(0.115 * side, -0.77, 0.045, cloth if side < 0 else cloth_dark)
        pen.line([(0.14 * side, -0.76), (0.16 * side, -0.6), (0.155 * side, -0.49)], 0.055,
                 cloth_dark)
        pen.circle(0.155 * side, -0.46, 0.03, skin)
    pen.line([(0.0, -0.8), (0.0, -0.85)], 0.05, shade(skin, 0.85))
    pen.ellipse(0.0, -0.92, 0.065, 0.078, 0, skin, shade(skin, 0.7))
    pen.ellipse(0.0, -0.95, 0.068, 0.05, 0, hair, arc=(180, 360))


def _dog(pen: Pen, fur, pose, rng) -> None:
    dark = shade(fur, 0.7) if max(fur) > 60 else tint(fur, 0.1)
    ear = shade(fur, 0.55) if max(fur) > 60 else tint(fur, 0.06)
    edge = shade(fur, 0.55)
    nose = (20, 20, 22)

    def head(hx, hy):
        # Round skull, long snout with a black nose, floppy ear hanging down: a dog, not a cat.
        pen.circle(hx, hy, 0.13, fur, edge)
        pen.ellipse(hx + 0.14, hy + 0.05, 0.11, 0.065, 10, fur, edge)
        pen.circle(hx + 0.245, hy + 0.03, 0.032, nose)
        pen.circle(hx + 0.05, hy - 0.04, 0.018, (20, 20, 20))
        pen.ellipse(hx - 0.06, hy + 0.06, 0.05, 0.12, 15, ear)

    if pose == "lying":
        pen.shadow(0.0, 0.0, 0.6, 0.05)
        pen.line([(-0.38, -0.12), (-0.58, -0.05), (-0.66, -0.06)], 0.07, dark)
        pen.ellipse(-0.08, -0.2, 0.4, 0.17, 0, fur, edge)
        pen.ellipse(-0.22, -0.13, 0.16, 0.12, 0, dark)
        pen.line([(0.18, -0.07), (0.5, -0.05)], 0.085, fur)
        pen.line([(0.22, -0.05), (0.46, -0.03)], 0.075, dark)
        head(0.22, -0.44)
        return
    if pose == "sitting":
        pen.shadow(0.0, 0.0, 0.4, 0.05)
        pen.line([(-0.22, -0.05), (-0.42, -0.03)], 0.07, dark)
        pen.ellipse(-0.08, -0.22, 0.22, 0.22, 0, fur, edge)
        pen.ellipse(0.02, -0.45, 0.25, 0.15, -60, fur)
        pen.ellipse(0.0, -0.04, 0.14, 0.04, 0, dark)
        pen.line([(0.12, -0.42), (0.14, -0.02)], 0.085, fur)
        pen.line([(0.07, -0.42), (0.08, -0.02)], 0.075, dark)
        head(0.1, -0.8)
        return
    pen.shadow(0.0, 0.0, 0.5, 0.05)
    for lx, colour in ((-0.2, dark), (0.19, dark)):
        pen.line([(lx + 0.04, -0.5), (lx + 0.05, -0.02)], 0.085, colour)
    pen.line([(-0.33, -0.6), (-0.46, -0.75), (-0.5, -0.86)], 0.06, fur)
    pen.ellipse(-0.03, -0.56, 0.36, 0.16, 0, fur, edge)
    for lx in (-0.25, 0.16):
        pen.line([(lx, -0.5), (lx - 0.01, -0.02)], 0.09, fur)
    pen.line([(0.22, -0.6), (0.33, -0.78)], 0.16, fur)
    head(0.34, -0.83)


def _cat(pen: Pen, fur, pose, rng) -> None:
    dark = shade(fur, 0.72) if max(fur) > 60 else tint(fur, 0.08)
    edge = shade(fur, 0.55)
    inner_ear = (150, 150, 215) if max(fur) > 60 else (90, 90, 140)
    eyes = pick(rng, ((60, 200, 200), (80, 190, 90), (40, 160, 220)))

    def head(hx, hy):
        # Round face, no snout, upright POINTY ears: a cat, not a dog.
        for ex in (-0.07, 0.06):
            pen.poly([(hx + ex - 0.055, hy - 0.07), (hx + ex + 0.005, hy - 0.23),
                      (hx + ex + 0.06, hy - 0.06)], fur, edge)
            pen.poly([(hx + ex - 0.025, hy - 0.08), (hx + ex + 0.005, hy - 0.17),
                      (hx + ex + 0.035, hy - 0.08)], inner_ear)
        pen.circle(hx, hy, 0.13, fur, edge)
        pen.ellipse(hx + 0.06, hy + 0.05, 0.05, 0.035, 0, tint(fur, 0.15))
        for ex in (-0.03, 0.07):
            pen.circle(hx + ex, hy - 0.02, 0.022, eyes)

    if pose == "lying":
        # Curled loaf, tail wrapped along the ground in front.
        pen.shadow(0.0, 0.0, 0.42, 0.04)
        pen.ellipse(-0.05, -0.18, 0.34, 0.17, 0, fur, edge)
        pen.ellipse(-0.2, -0.13, 0.15, 0.11, 0, dark)
        pen.line([(-0.36, -0.08), (-0.2, -0.01), (0.05, -0.01), (0.25, -0.05)], 0.05, dark)
        head(0.25, -0.35)
        return
    if pose == "sitting":
        pen.shadow(0.0, 0.0, 0.32, 0.04)
        # Tail curling up from the ground behind.
        pen.line([(-0.12, -0.04), (-0.3, -0.04), (-0.4, -0.12), (-0.42, -0.26)], 0.05, dark)
        pen.ellipse(-0.05, -0.15, 0.23, 0.15, 0, fur, edge)
        pen.ellipse(0.01, -0.34, 0.17, 0.26, 12, fur, edge)
        pen.line([(0.08, -0.3), (0.1, -0.02)], 0.05, dark)
        pen.line([(0.14, -0.3), (0.15, -0.02)], 0.05, fur)
        head(0.07, -0.66)
        return
    pen.shadow(0.0, 0.0, 0.42, 0.04)
    for lx in (-0.16, 0.2):
        pen.line([(lx + 0.04, -0.4), (lx + 0.05, -0.02)], 0.045, dark)
    # Long tail rising in an S-curve and hooking over.
    pen.line([(-0.28, -0.5), (-0.4, -0.58), (-0.47, -0.73), (-0.45, -0.86), (-0.37, -0.9)], 0.05,
             fur)
    pen.ellipse(-0.02, -0.45, 0.3, 0.12, -4, fur, edge)
    for lx in (-0.2, 0.18):
        pen.line([(lx, -0.42), (lx - 0.01, -0.02)], 0.05, fur)
    head(0.32, -0.66)


def _package(pen: Pen, colour, rng) -> None:
    a = uniform(rng, 0.8, 1.0)  # front face width
    fh, dx, dy = 0.7, uniform(rng, 0.25, 0.35), -0.3
    top = tint(colour, 0.15)
    side = shade(colour, 0.72)
    edge = shade(colour, 0.5)
    x0, x1 = -0.5 * a - dx / 2, 0.5 * a - dx / 2
    pen.shadow(0.05, 0.0, 0.7, 0.06)
    pen.poly([(x0, -fh), (x1, -fh), (x1, 0.0), (x0, 0.0)], colour, edge)
    pen.poly([(x0, -fh), (x1, -fh), (x1 + dx, -fh + dy), (x0 + dx, -fh + dy)], top, edge)
    pen.poly([(x1, 0.0), (x1, -fh), (x1 + dx, -fh + dy), (x1 + dx, dy)], side, edge)
    if colour[0] > 150 and colour[1] > 150:
        tape = pick(rng, ((60, 110, 170), (160, 110, 60)))
    else:
        tape = pick(rng, ((150, 190, 215), (70, 110, 150)))
    # Tape along the flap seam, across the top and down the front.
    cx, tw = (x0 + x1) / 2, 0.07 * a
    pen.poly([(cx - tw, -fh), (cx + tw, -fh), (cx + tw + dx, -fh + dy), (cx - tw + dx, -fh + dy)],
             tape)
    pen.poly([(cx - tw, -fh), (cx + tw, -fh), (cx + tw, -fh + 0.25), (cx - tw, -fh + 0.25)], tape)
    if rng.random() < 0.5:
        pen.poly([(x0 + 0.1 * a, -0.35), (x0 + 0.35 * a, -0.35), (x0 + 0.35 * a, -0.2),
                  (x0 + 0.1 * a, -0.2)], (240, 240, 242))


def _car(pen: Pen, colour, rng, lights) -> None:
    dark = shade(colour, 0.6) if max(colour) > 60 else tint(colour, 0.1)
    edge = shade(colour, 0.5)
    glass = jitter(rng, (120, 105, 95), 10)
    pen.shadow(0.0, -0.005, 0.52, 0.04, 0.5)
    body = [(-0.5, -0.12), (-0.5, -0.26), (-0.46, -0.31), (-0.26, -0.33), (0.2, -0.33),
            (0.42, -0.3), (0.5, -0.25), (0.5, -0.12), (0.47, -0.08), (-0.47, -0.08)]
    pen.poly([(-0.36, -0.32), (-0.29, -0.47), (0.07, -0.47), (0.23, -0.32)], colour, edge)
    pen.poly([(-0.32, -0.33), (-0.26, -0.44), (-0.08, -0.44), (-0.08, -0.33)], glass)
    pen.poly([(-0.05, -0.33), (-0.05, -0.44), (0.06, -0.44), (0.18, -0.33)], glass)
    pen.line([(-0.25, -0.43), (-0.2, -0.35)], 0.01, tint(glass, 0.35))
    pen.poly(body, colour, edge)
    pen.poly([(-0.5, -0.17), (0.5, -0.17), (0.5, -0.12), (0.47, -0.08), (-0.47, -0.08),
              (-0.5, -0.12)], dark)
    pen.line([(-0.44, -0.285), (0.4, -0.285)], 0.008, tint(colour, 0.4))
    pen.line([(-0.06, -0.32), (-0.06, -0.12)], 0.006, edge)
    pen.line([(0.0, -0.25), (0.05, -0.25)], 0.01, edge)
    pen.line([(-0.14, -0.25), (-0.09, -0.25)], 0.01, edge)
    pen.ellipse(0.48, -0.245, 0.022, 0.018, 0, (200, 240, 255))
    pen.poly([(-0.5, -0.27), (-0.48, -0.27), (-0.48, -0.22), (-0.5, -0.22)], (30, 30, 190))
    for wx in (-0.3, 0.3):
        pen.circle(wx, -0.1, 0.115, (25, 25, 27))
        pen.circle(wx, -0.1, 0.1, (30, 30, 32))
        pen.circle(wx, -0.1, 0.055, (170, 170, 172))
        pen.circle(wx, -0.1, 0.018, (90, 90, 92))
    if lights is not None:
        hx, hy = pen.pt(0.49, -0.245)
        lights.append((hx, hy, max(1.0, 0.03 * pen.s)))


def _bicycle(pen: Pen, colour, rng) -> None:
    tyre = (30, 30, 32)
    rim = (150, 150, 152)
    r = 0.2
    rear, front = (-0.29, -r), (0.29, -r)
    bb, seat, head_top, head_low = (-0.04, -0.19), (-0.11, -0.5), (0.19, -0.5), (0.21, -0.42)
    t = 0.03
    for cx, cy in (rear, front):
        pen.ring(cx, cy, r, 0.035, tyre)
        pen.ring(cx, cy, r - 0.03, 0.008, rim)
        # A few spokes so the wheels read as wheels, not rings.
        for k in range(3):
            ang = k * math.pi / 3 + 0.4
            ddx, ddy = (r - 0.03) * math.cos(ang), (r - 0.03) * math.sin(ang)
            pen.line([(cx - ddx, cy - ddy), (cx + ddx, cy + ddy)], 0.005, rim)
    pen.line([rear, bb, seat, rear], t, colour)
    pen.line([seat, head_top], t, colour)
    pen.line([bb, head_low], t * 1.1, colour)
    pen.line([head_top, head_low, front], t * 0.9, shade(colour, 0.8))
    pen.line([head_top, (0.18, -0.58), (0.12, -0.59)], 0.022, (40, 40, 42))
    pen.line([seat, (-0.12, -0.54)], 0.02, (60, 60, 62))
    pen.ellipse(-0.13, -0.55, 0.065, 0.018, 0, (25, 25, 27))
    pen.line([(bb[0] - 0.05, bb[1] + 0.04), (bb[0] + 0.05, bb[1] - 0.04)], 0.02, (50, 50, 52))


def draw_object(img: np.ndarray, kind: str, colour: str, pose: str, x: float, base_y: float,
                size: float, facing: int, rng: np.random.Generator, *, gait: float = 1.0,
                lights: list | None = None) -> list[int]:
    """Draw one object on `img` (uint8 BGR, in place) and return its box [x, y, w, h] in img pixels.

    (x, base_y) is the centre of the object's base: feet, paws, wheels or box bottom (for a
    sitting person, the seat). `size` in pixels is the height for person (standing height, also
    when sitting), dog and cat (top of head or ears when standing; lying animals are as long as
    about 1.3 size), and package; it is the overall length for car and bicycle (their height is
    about 0.47 and 0.6 of it). `facing` +1 faces right, -1 left. `gait` (-1..1) is the stride of a
    walking person (its sign says which leg is in front), for animating walks. If `lights` is a
    list, light sources of the object (car headlights) are appended as (x, y, radius) in img
    pixels; the lighting step makes them glow at night.
    """
    base = _KIND_COLOUR_BGR.get((kind, colour), _COLOUR_BGR[colour])
    col = jitter(rng, base, 14)
    pen = Pen(img, x, base_y, size, facing)
    if kind == "person":
        _person(pen, col, pose, rng, gait)
    elif kind == "dog":
        _dog(pen, col, pose, rng)
    elif kind == "cat":
        _cat(pen, col, pose, rng)
    elif kind == "package":
        _package(pen, col, rng)
    elif kind == "car":
        _car(pen, col, rng, lights)
    elif kind == "bicycle":
        _bicycle(pen, col, rng)
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return pen.box()
