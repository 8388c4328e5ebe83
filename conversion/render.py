"""Render a synthetic home-camera frame from a Scene (see scenes.py) with OpenCV.

Pipeline of `render_scene`:

1. `make_backdrop`: the place's background (wall, door, sofa, fence, ...) drawn at 2x resolution
   with randomised colours, positions and sizes, a `Layout` that says where each spot of the place
   is, and the lighting maps (a per-pixel gain and an additive glow) for that place and lighting.
2. Objects are placed side by side at their group's spot and drawn with `draw_object` on a copy of
   the 2x canvas, back to front.
3. `Backdrop.frame`: the canvas is downscaled with INTER_AREA (the 2x drawing is our
   antialiasing) and lit: pixels times the gain map plus the glow map (porch light, lamp,
   headlights).
4. `apply_camera`: lens distortion, blur, vignette, gain and white balance, sensor noise, gamma and
   JPEG artefacts, so a model cannot learn from exact pixel values.

Determinism and video: everything random is drawn from the caller's `np.random.Generator`, so the
same scene and the same generator state give identical pixels. For a fixed camera filming moving
objects (the sample clip), build the parts once and reuse them on every frame::

    backdrop = make_backdrop("front_door", "day", rng, 320, 240)   # same background + lighting
    params = sample_camera_params(rng, "day")                      # same distortion + exposure
    for each frame:
        img, boxes = backdrop.frame([Placement(...), ...])          # objects move
        out = apply_camera(img, rng, "day", params=params)          # only the sensor noise is new

A `Placement` carries its own `seed`, so an object keeps its exact colours from frame to frame.
Boxes are [x, y, w, h] in output pixels; `CameraParams.map_box` moves a box through the camera's
distortion, which `render_scene` does for the boxes it stores in the scene.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from conversion.scenes import SPOTS, Scene

SUPERSAMPLE = 2
"""Backgrounds and objects are drawn at this multiple of the output size, then area-downscaled."""

_AA = cv2.LINE_AA

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


# ----------------------------------------------------------------------------------------------
# Layout
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SpotRegion:
    """Where objects of one spot stand, in output pixels.

    x0..x1: horizontal range the objects' extents should stay in; base_y: the ground line (feet,
    paws, wheels, a box's bottom; for the sofa, the seat surface); scale: the height of a standing
    adult person at this spot as a fraction of the image height (smaller further back).
    """

    x0: float
    x1: float
    base_y: float
    scale: float


@dataclass
class Layout:
    """The spots of a rendered place and its light fixtures, in output pixels."""

    width: int
    height: int
    spots: dict[str, SpotRegion]
    lights: list[tuple[float, float]] = field(default_factory=list)
    """Warm light fixtures (x, y) that light the scene under lighting "lights_on"; may lie outside
    the frame (a flood light mounted above the camera)."""


@dataclass(frozen=True)
class Placement:
    """One object to draw, in output pixels (see `draw_object` for what size means)."""

    kind: str
    colour: str
    pose: str
    x: float
    base_y: float
    size: float
    facing: int = 1
    seed: int = 0
    gait: float = 1.0


# ----------------------------------------------------------------------------------------------
# Small drawing helpers
# ----------------------------------------------------------------------------------------------


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def _jitter(rng: np.random.Generator, bgr: Sequence[float], amount: float = 12.0) -> tuple:
    base = np.asarray(bgr, dtype=np.float64)
    gain = rng.uniform(0.9, 1.08)
    # Per-channel shifts shrink for dark colours: +-7 on a black coat would turn it green.
    noise = rng.normal(0.0, amount * 0.5, 3) * (0.25 + 0.75 * base / 255.0)
    return tuple(int(v) for v in np.clip(base * gain + noise, 0, 255))


def _shade(bgr: Sequence[float], factor: float) -> tuple:
    return tuple(int(min(255, max(0, v * factor))) for v in bgr)


def _tint(bgr: Sequence[float], amount: float) -> tuple:
    """Move towards white by `amount` (0..1): highlights that show even on black objects."""
    return tuple(int(v + (255 - v) * amount) for v in bgr)


def _ipt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def _rect(img, x0, y0, x1, y1, colour, thickness=-1) -> None:
    cv2.rectangle(img, _ipt(x0, y0), _ipt(x1, y1), colour, thickness, _AA)


def _poly(img, pts, colour) -> None:
    cv2.fillPoly(img, [np.round(np.asarray(pts)).astype(np.int32)], colour, _AA)


def _line(img, p, q, colour, thickness=1) -> None:
    cv2.line(img, _ipt(*p), _ipt(*q), colour, max(1, int(round(thickness))), _AA)


def _vgradient(img, y0, y1, top, bottom, x0=0, x1=None) -> None:
    """Fill rows y0..y1 (and columns x0..x1) with a vertical gradient from `top` to `bottom`."""
    y0, y1 = max(0, int(y0)), min(img.shape[0], int(y1))
    if y1 <= y0:
        return
    x1 = img.shape[1] if x1 is None else min(img.shape[1], int(x1))
    x0 = max(0, int(x0))
    if x1 <= x0:
        return
    t = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None]
    col = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    # Stretching a one-pixel-wide column with cv2 is much faster than numpy broadcasting.
    img[y0:y1, x0:x1] = cv2.resize(col.astype(np.uint8)[:, None, :], (x1 - x0, y1 - y0),
                                   interpolation=cv2.INTER_NEAREST)


# ----------------------------------------------------------------------------------------------
# Places. Each draws on a canvas of size (H, W) and returns spots and lights in canvas pixels,
# plus "rough" rectangles (x0, y0, x1, y1, amplitude) where the surface gets grain (lawn, asphalt).
# ----------------------------------------------------------------------------------------------

_SKY_DAY = ((225, 165, 110), (240, 218, 195))
_SKY_NIGHT = ((38, 20, 10), (62, 38, 26))


def _sky(img, rng, y1, lighting) -> None:
    W = img.shape[1]
    top, bottom = _SKY_DAY if lighting == "day" else _SKY_NIGHT
    _vgradient(img, 0, y1, _jitter(rng, top, 10), _jitter(rng, bottom, 10))
    if lighting == "day":
        # A few soft clouds so the sky is not a flat gradient.
        for _ in range(int(rng.integers(0, 4))):
            cx, cy = _u(rng, 0, W), _u(rng, 0.1, 0.7) * y1
            for k in range(3):
                cv2.ellipse(img, _ipt(cx + k * 0.05 * W, cy - (k % 2) * 0.02 * W),
                            _ipt(0.06 * W, 0.025 * W), 0, 0, 360, (245, 243, 240), -1, _AA)


def _window(img, rng, x0, y0, x1, y1, lighting, frame_colour, indoor: bool) -> None:
    fw = max(2.0, 0.06 * (x1 - x0))
    _rect(img, x0 - fw, y0 - fw, x1 + fw, y1 + fw, frame_colour)
    if lighting == "day":
        glass_top = _jitter(rng, (245, 222, 190) if indoor else (200, 170, 140), 8)
        glass_bottom = _jitter(rng, (250, 240, 228) if indoor else (170, 150, 130), 8)
    elif lighting == "lights_on" and not indoor:
        # Seen from outside at night with the lights on inside: a warm glowing pane.
        glass_top, glass_bottom = (70, 150, 205), (55, 120, 175)
    else:
        glass_top, glass_bottom = (30, 22, 18), (22, 18, 16)
    _vgradient(img, y0, y1, glass_top, glass_bottom, int(x0), int(x1))
    if lighting == "day":
        # A diagonal reflection streak reads as glass.
        w = x1 - x0
        _poly(img, [(x0 + 0.15 * w, y1), (x0 + 0.35 * w, y1), (x0 + 0.75 * w, y0),
                    (x0 + 0.55 * w, y0)], _shade(glass_bottom, 1.03))
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    bar = max(1.0, fw * 0.6)
    _line(img, (mid_x, y0), (mid_x, y1), frame_colour, bar)
    _line(img, (x0, mid_y), (x1, mid_y), frame_colour, bar)


def _front_door(img, rng, lighting):
    H, W = img.shape[:2]
    wall = _jitter(rng, _pick(rng, ((200, 215, 225), (198, 198, 192), (205, 188, 160),
                                     (165, 205, 225), (150, 165, 178), (70, 85, 150))))
    porch_y = _u(rng, 0.74, 0.8) * H
    img[:] = wall
    # Siding boards: horizontal lines give the wall its texture.
    step = _u(rng, 0.035, 0.05) * H
    y = _u(rng, 0, step)
    line_colour = _shade(wall, 0.84)
    while y < porch_y:
        _line(img, (0, y), (W, y), line_colour, 1)
        y += step
    porch = _jitter(rng, _pick(rng, ((150, 155, 160), (75, 105, 140), (85, 115, 170),
                                      (120, 125, 128))))
    _vgradient(img, porch_y, H, _shade(porch, 0.9), _shade(porch, 1.08))
    _line(img, (0, porch_y), (W, porch_y), _shade(porch, 0.7), max(1, 0.008 * H))

    door_w = _u(rng, 0.2, 0.25) * H
    door_h = _u(rng, 0.6, 0.66) * H
    left_door = rng.random() < 0.5
    door_cx = (_u(rng, 0.3, 0.42) if left_door else _u(rng, 0.58, 0.7)) * W
    dx0, dx1 = door_cx - door_w / 2, door_cx + door_w / 2
    dy0 = porch_y - door_h
    trim = _jitter(rng, _pick(rng, ((240, 240, 238), (225, 232, 236), (60, 60, 62))), 6)
    tw = 0.025 * H
    _rect(img, dx0 - tw, dy0 - tw, dx1 + tw, porch_y, trim)
    door = _jitter(rng, _pick(rng, ((40, 35, 130), (50, 80, 40), (85, 48, 30), (236, 236, 234),
                                     (40, 72, 115), (36, 36, 38), (130, 105, 55))))
    _rect(img, dx0, dy0, dx1, porch_y, door)
    # Inset panels and the knob make it a door rather than a dark rectangle.
    panel = _shade(door, 0.8)
    pw, ph = door_w * 0.32, door_h * 0.36
    for px in (dx0 + door_w * 0.12, dx1 - door_w * 0.12 - pw):
        for py in (dy0 + door_h * 0.07, dy0 + door_h * 0.52):
            _rect(img, px, py, px + pw, py + ph, panel, max(1, int(0.006 * H)))
    knob_x = dx1 - door_w * 0.13 if left_door else dx0 + door_w * 0.13
    cv2.circle(img, _ipt(knob_x, dy0 + door_h * 0.5), max(2, int(0.014 * H)), (60, 175, 215), -1,
               _AA)
    # Steps down from the porch across the whole front: a full-width band cannot pass for a box.
    sy = _u(rng, 0.9, 0.93) * H
    _rect(img, 0, sy, W, sy + 0.03 * H, _shade(porch, 0.72))
    _rect(img, 0, sy + 0.03 * H, W, H, _shade(porch, 1.05))
    _line(img, (0, sy), (W, sy), _shade(porch, 1.2), max(1, 0.006 * H))
    # Doormat.
    mat = _jitter(rng, _pick(rng, ((40, 60, 90), (50, 50, 52), (35, 45, 70))))
    mat_y0, mat_y1 = porch_y + 0.01 * H, porch_y + 0.05 * H
    _poly(img, [(dx0 + 0.1 * door_w, mat_y0), (dx1 - 0.1 * door_w, mat_y0),
                (dx1 - 0.02 * door_w, mat_y1), (dx0 + 0.02 * door_w, mat_y1)], mat)

    # Porch light on the wall beside the door, usually on the side away from the porch spot.
    side = (-1 if left_door else 1) * (1 if rng.random() < 0.7 else -1)
    lx = (dx1 + tw + 0.06 * H) if side > 0 else (dx0 - tw - 0.06 * H)
    ly = dy0 + 0.1 * H
    _rect(img, lx - 0.018 * H, ly - 0.045 * H, lx + 0.018 * H, ly + 0.04 * H, (30, 30, 32))
    glass = (200, 240, 255) if lighting == "lights_on" else (150, 185, 200)
    cv2.ellipse(img, _ipt(lx, ly), _ipt(0.012 * H, 0.03 * H), 0, 0, 360, glass, -1, _AA)

    # Window on the porch side of the door, above where porch objects stand.
    win_w, win_h = _u(rng, 0.18, 0.24) * H, _u(rng, 0.2, 0.26) * H
    if left_door:
        wx0 = min(W - win_w - 0.04 * H, dx1 + tw + _u(rng, 0.16, 0.24) * H)
    else:
        wx0 = max(0.04 * H, dx0 - tw - _u(rng, 0.16, 0.24) * H - win_w)
    wy0 = dy0 + _u(rng, 0.02, 0.08) * H
    _window(img, rng, wx0, wy0, wx0 + win_w, wy0 + win_h, lighting, trim, indoor=False)

    margin = 0.03 * W
    door_spot = (dx0 - 0.04 * H, dx1 + 0.04 * H)
    porch_spot = (dx1 + tw + 0.02 * H, W - margin) if left_door else (margin, dx0 - tw - 0.02 * H)
    door_scale = _u(rng, 0.56, 0.62)
    spots = {
        "door": (door_spot[0], door_spot[1], porch_y + _u(rng, 0.07, 0.09) * H, door_scale),
        # A little nearer the camera than the door, so a little larger.
        "porch": (porch_spot[0], porch_spot[1], porch_y + _u(rng, 0.1, 0.12) * H,
                  door_scale * _u(rng, 1.0, 1.04)),
    }
    rough = [(0, porch_y, W, H, 0.04), (0, 0, W, porch_y, 0.015)]
    return spots, [(lx, ly)], rough


def _living_room(img, rng, lighting):
    H, W = img.shape[:2]
    wall = _jitter(rng, _pick(rng, ((200, 222, 232), (200, 200, 198), (180, 205, 185),
                                     (215, 200, 170), (150, 175, 205), (225, 225, 220))))
    floor_y = _u(rng, 0.6, 0.66) * H
    _vgradient(img, 0, floor_y, _shade(wall, 0.92), wall)
    wood = rng.random() < 0.6
    floor = _jitter(rng, _pick(rng, ((50, 90, 140), (70, 115, 160), (40, 65, 95))) if wood else
                    _pick(rng, ((150, 150, 148), (120, 130, 150), (90, 90, 100))))
    _vgradient(img, floor_y, H, _shade(floor, 0.85), _shade(floor, 1.1))
    if wood:
        # Plank seams, closer together further back.
        y, gap = floor_y, 0.025 * H
        while y < H:
            _line(img, (0, y), (W, y), _shade(floor, 0.78), 1)
            gap *= 1.25
            y += gap
    _rect(img, 0, floor_y - 0.02 * H, W, floor_y, (235, 238, 240))  # skirting board

    sofa_w = _u(rng, 0.5, 0.62) * W
    sofa_x0 = _u(rng, 0.03, 0.97) * (W - sofa_w)
    sofa_x1 = sofa_x0 + sofa_w
    sofa_bottom = floor_y + _u(rng, 0.09, 0.12) * H
    seat_y = sofa_bottom - _u(rng, 0.12, 0.14) * H
    back_top = seat_y - _u(rng, 0.15, 0.18) * H
    arm_w = _u(rng, 0.05, 0.07) * W

    # Window on the wall, on the side with more room, else behind the sofa.
    win_w, win_h = _u(rng, 0.2, 0.28) * W, _u(rng, 0.24, 0.3) * H
    room_left, room_right = sofa_x0, W - sofa_x1
    if max(room_left, room_right) > win_w + 0.12 * W:
        if room_left > room_right:
            wx0 = (room_left - win_w) / 2
        else:
            wx0 = sofa_x1 + (room_right - win_w) / 2
        lamp_side = 1 if room_left > room_right else -1
    else:
        wx0 = sofa_x0 + _u(rng, 0.05, 0.95) * (sofa_w - win_w)
        lamp_side = 1 if rng.random() < 0.5 else -1
    wy0 = _u(rng, 0.08, 0.14) * H
    # Curtains either side.
    curtain = _jitter(rng, _pick(rng, ((60, 60, 140), (120, 90, 60), (200, 210, 215),
                                        (70, 110, 90))))
    _window(img, rng, wx0, wy0, wx0 + win_w, wy0 + win_h, lighting, (240, 240, 240), indoor=True)
    for cx in (wx0 - 0.02 * W, wx0 + win_w + 0.02 * W):
        _rect(img, cx - 0.025 * W, wy0 - 0.04 * H, cx + 0.025 * W, wy0 + win_h + 0.06 * H, curtain)

    # Picture frame above the sofa, clear of the window.
    pic_w, pic_h = _u(rng, 0.12, 0.18) * W, _u(rng, 0.1, 0.14) * H
    pic_x0 = sofa_x0 + _u(rng, 0.2, 0.8) * (sofa_w - pic_w)
    if wx0 - pic_w - 0.04 * W < pic_x0 < wx0 + win_w + 0.04 * W:
        pic_x0 = None  # no free wall above the sofa
    if pic_x0 is not None:
        pic_y0 = back_top - pic_h - _u(rng, 0.04, 0.08) * H
        _rect(img, pic_x0, pic_y0, pic_x0 + pic_w, pic_y0 + pic_h,
              _pick(rng, ((30, 30, 30), (60, 140, 180), (235, 235, 235))))
        ix0, iy0 = pic_x0 + 0.12 * pic_w, pic_y0 + 0.15 * pic_h
        ix1, iy1 = pic_x0 + 0.88 * pic_w, pic_y0 + 0.85 * pic_h
        art = _jitter(rng, _pick(rng, ((190, 150, 100), (90, 160, 200), (120, 170, 120))))
        _rect(img, ix0, iy0, ix1, iy1, art)
        _poly(img, [(ix0, iy1), ((ix0 + ix1) / 2, iy0 + 0.3 * (iy1 - iy0)), (ix1, iy1)],
              _shade(art, 0.6))

    # Sofa: back, seat cushions, arms, feet.
    sofa = _jitter(rng, _pick(rng, ((110, 110, 112), (90, 50, 35), (40, 60, 100), (70, 100, 70),
                                     (150, 180, 200), (50, 50, 140), (60, 60, 62))))
    shadow = _shade(sofa, 0.7)
    _rect(img, sofa_x0 + 0.03 * W, sofa_bottom - 0.01 * H, sofa_x0 + 0.05 * W,
          sofa_bottom + 0.02 * H, (30, 30, 30))
    _rect(img, sofa_x1 - 0.05 * W, sofa_bottom - 0.01 * H, sofa_x1 - 0.03 * W,
          sofa_bottom + 0.02 * H, (30, 30, 30))
    _rect(img, sofa_x0 + 0.02 * W, back_top, sofa_x1 - 0.02 * W, seat_y, _shade(sofa, 0.92))
    n_cushions = int(rng.integers(2, 4))
    cw = (sofa_w - 2 * arm_w) / n_cushions
    for i in range(1, n_cushions):
        x = sofa_x0 + arm_w + i * cw
        _line(img, (x, back_top + 0.015 * H), (x, seat_y), shadow, max(1, 0.008 * H))
    _rect(img, sofa_x0, seat_y, sofa_x1, sofa_bottom, sofa)
    _line(img, (sofa_x0 + arm_w, seat_y + 0.005 * H), (sofa_x1 - arm_w, seat_y + 0.005 * H),
          _tint(sofa, 0.2), max(1, 0.01 * H))
    _line(img, (sofa_x0, seat_y + 0.07 * H), (sofa_x1, seat_y + 0.07 * H), shadow,
          max(1, 0.008 * H))
    for ax0 in (sofa_x0, sofa_x1 - arm_w):
        _rect(img, ax0, seat_y - 0.07 * H, ax0 + arm_w, sofa_bottom, _shade(sofa, 1.05))
        cv2.ellipse(img, _ipt(ax0 + arm_w / 2, seat_y - 0.07 * H), _ipt(arm_w / 2, 0.02 * H), 0,
                    180, 360, _shade(sofa, 1.05), -1, _AA)

    # Floor lamp beside the sofa.
    lamp_x = (sofa_x1 + 0.07 * W) if lamp_side > 0 else (sofa_x0 - 0.07 * W)
    lamp_x = min(max(lamp_x, 0.06 * W), 0.94 * W)
    shade_y = back_top - _u(rng, 0.1, 0.16) * H
    _line(img, (lamp_x, shade_y), (lamp_x, sofa_bottom), (40, 40, 42), max(1, 0.01 * H))
    _poly(img, [(lamp_x - 0.04 * H, sofa_bottom + 0.005 * H), (lamp_x + 0.04 * H, sofa_bottom +
                0.005 * H), (lamp_x, sofa_bottom - 0.01 * H)], (40, 40, 42))
    lit = lighting == "lights_on"
    shade_col = (170, 225, 250) if lit else _jitter(rng, (185, 215, 230), 8)
    _poly(img, [(lamp_x - 0.035 * H, shade_y - 0.05 * H), (lamp_x + 0.035 * H, shade_y - 0.05 * H),
                (lamp_x + 0.055 * H, shade_y + 0.03 * H), (lamp_x - 0.055 * H, shade_y + 0.03 * H)],
          shade_col)
    if rng.random() < 0.5:
        # A rug in front of the sofa.
        rug = _jitter(rng, _pick(rng, ((60, 60, 130), (140, 120, 90), (170, 175, 180),
                                       (70, 90, 60))))
        cv2.ellipse(img, _ipt((sofa_x0 + sofa_x1) / 2, sofa_bottom + 0.12 * H),
                    _ipt(sofa_w * 0.45, 0.07 * H), 0, 0, 360, rug, -1, _AA)

    spots = {
        "sofa": (sofa_x0 + arm_w, sofa_x1 - arm_w, seat_y + 0.01 * H, _u(rng, 0.47, 0.52)),
        "floor": (0.03 * W, 0.97 * W, _u(rng, 0.88, 0.93) * H, _u(rng, 0.58, 0.64)),
    }
    rough = [(0, floor_y, W, H, 0.02 if wood else 0.05), (0, 0, W, floor_y, 0.012)]
    return spots, [(lamp_x, shade_y - 0.01 * H)], rough


def _kitchen(img, rng, lighting):
    H, W = img.shape[:2]
    top_y = _u(rng, 0.5, 0.56) * H  # counter top surface
    floor_y = _u(rng, 0.8, 0.84) * H
    upper_bottom = _u(rng, 0.25, 0.3) * H
    wall = _jitter(rng, _pick(rng, ((215, 220, 225), (190, 200, 210), (170, 190, 200))))
    img[:] = wall
    # Backsplash tiles between upper cabinets and counter.
    tile = _jitter(rng, _pick(rng, ((235, 235, 232), (200, 180, 150), (150, 190, 160),
                                     (170, 175, 180))))
    _rect(img, 0, upper_bottom, W, top_y, tile)
    grout = _shade(tile, 0.78)
    ts = _u(rng, 0.045, 0.065) * H
    y = upper_bottom
    while y < top_y:
        _line(img, (0, y), (W, y), grout, 1)
        y += ts
    x = 0.0
    while x < W:
        _line(img, (x, upper_bottom), (x, top_y), grout, 1)
        x += ts * 1.5  # oblong "subway" tiles

    cab = _jitter(rng, _pick(rng, ((240, 240, 238), (60, 95, 140), (110, 115, 120), (120, 90, 60),
                                    (90, 120, 95))))
    fridge_w = _u(rng, 0.2, 0.25) * W
    fridge_left = rng.random() < 0.5
    fx0 = 0.02 * W if fridge_left else W - 0.02 * W - fridge_w
    fx1 = fx0 + fridge_w
    # Upper cabinets: doors with handles.
    _rect(img, 0, 0, W, upper_bottom, cab)
    door_w = _u(rng, 0.14, 0.2) * W
    x = _u(rng, 0, door_w)
    while x < W:
        _rect(img, x - door_w + 0.01 * W, 0.02 * H, x - 0.01 * W, upper_bottom - 0.02 * H,
              _shade(cab, 0.82), 1)
        _line(img, (x - 0.03 * W, upper_bottom - 0.06 * H), (x - 0.03 * W, upper_bottom - 0.03 * H),
              (70, 70, 72), max(1, 0.008 * H))
        x += door_w
    # Counter top and base cabinets.
    counter = _jitter(rng, _pick(rng, ((80, 80, 82), (225, 225, 222), (40, 40, 42), (70, 120, 160),
                                        (150, 150, 145))))
    _rect(img, 0, top_y + 0.025 * H, W, floor_y, _shade(cab, 0.95))
    x = _u(rng, 0, door_w)
    while x < W:
        _rect(img, x - door_w + 0.01 * W, top_y + 0.05 * H, x - 0.01 * W, floor_y - 0.04 * H,
              _shade(cab, 0.8), 1)
        _line(img, (x - door_w + 0.03 * W, top_y + 0.07 * H), (x - 0.03 * W, top_y + 0.07 * H),
              (70, 70, 72), max(1, 0.008 * H))
        x += door_w
    _rect(img, 0, floor_y - 0.03 * H, W, floor_y, (35, 35, 37))  # toe kick
    _rect(img, 0, top_y - 0.012 * H, W, top_y + 0.025 * H, counter)
    _line(img, (0, top_y - 0.012 * H), (W, top_y - 0.012 * H), _tint(counter, 0.3), 1)
    _line(img, (0, top_y + 0.025 * H), (W, top_y + 0.025 * H), _shade(counter, 0.6), 1)
    # Floor.
    floor = _jitter(rng, _pick(rng, ((200, 200, 198), (120, 130, 140), (70, 100, 140),
                                      (160, 170, 180))))
    _vgradient(img, floor_y, H, _shade(floor, 0.85), _shade(floor, 1.05))
    y, gap = floor_y, 0.04 * H
    while y < H:
        _line(img, (0, y), (W, y), _shade(floor, 0.8), 1)
        gap *= 1.3
        y += gap
    # Fridge: tall box with freezer split and handles.
    fridge = _jitter(rng, _pick(rng, ((200, 200, 198), (235, 235, 235), (50, 50, 52))), 6)
    f_top = _u(rng, 0.04, 0.1) * H
    _rect(img, fx0, f_top, fx1, floor_y + 0.01 * H, fridge)
    _rect(img, fx0, f_top, fx1, floor_y + 0.01 * H, _shade(fridge, 0.7), 1)
    split = f_top + 0.32 * (floor_y - f_top)
    _line(img, (fx0, split), (fx1, split), _shade(fridge, 0.65), max(1, 0.008 * H))
    hx = fx1 - 0.03 * W if fridge_left else fx0 + 0.03 * W
    _line(img, (hx, split - 0.12 * H), (hx, split - 0.03 * H), (90, 90, 92), max(1, 0.012 * H))
    _line(img, (hx, split + 0.03 * H), (hx, split + 0.2 * H), (90, 90, 92), max(1, 0.012 * H))
    # Pendant lamp hanging from the ceiling above the counter.
    px = (_u(rng, 0.45, 0.8) if fridge_left else _u(rng, 0.2, 0.55)) * W
    py = _u(rng, 0.1, 0.16) * H
    _line(img, (px, 0), (px, py), (40, 40, 40), 1)
    shade = (170, 225, 250) if lighting == "lights_on" else (60, 60, 62)
    cv2.ellipse(img, _ipt(px, py + 0.005 * H), _ipt(0.05 * H, 0.035 * H), 0, 180, 360, shade, -1,
                _AA)

    cx0, cx1 = (fx1 + 0.02 * W, 0.98 * W) if fridge_left else (0.02 * W, fx0 - 0.02 * W)
    spots = {
        "counter": (cx0, cx1, top_y + 0.004 * H, _u(rng, 0.4, 0.45)),
        "floor": (0.03 * W, 0.97 * W, _u(rng, 0.9, 0.95) * H, _u(rng, 0.6, 0.65)),
    }
    rough = [(0, floor_y, W, H, 0.025), (0, 0, W, floor_y, 0.012)]
    return spots, [(px, py + 0.01 * H)], rough


def _driveway(img, rng, lighting):
    H, W = img.shape[:2]
    horizon = _u(rng, 0.2, 0.28) * H
    ground_y = _u(rng, 0.56, 0.62) * H
    _sky(img, rng, ground_y, lighting)
    # Far hedge / trees along the horizon so the ground does not meet the sky directly.
    hedge = _jitter(rng, (45, 95, 50), 10)
    for _ in range(7):
        cx = _u(rng, 0, W)
        cv2.ellipse(img, _ipt(cx, ground_y - 0.08 * H), _ipt(_u(rng, 0.08, 0.15) * W, 0.12 * H), 0,
                    0, 360, _shade(hedge, _u(rng, 0.8, 1.15)), -1, _AA)
    grass = _jitter(rng, (60, 140, 75), 12)
    _vgradient(img, ground_y, H, _shade(grass, 0.85), _shade(grass, 1.1))

    # Garage building with a pitched roof.
    gw = _u(rng, 0.5, 0.62) * W
    garage_left = rng.random() < 0.5
    gx0 = _u(rng, 0.0, 0.08) * W if garage_left else W - gw - _u(rng, 0.0, 0.08) * W
    gx1 = gx0 + gw
    wall = _jitter(rng, _pick(rng, ((200, 215, 225), (198, 198, 192), (205, 188, 160),
                                     (70, 85, 150), (150, 165, 178))))
    eave = horizon + 0.06 * H
    _rect(img, gx0, eave, gx1, ground_y, wall)
    roof = _jitter(rng, _pick(rng, ((60, 60, 65), (50, 60, 110), (80, 80, 75))))
    ridge = horizon - 0.08 * H
    _poly(img, [(gx0 - 0.03 * W, eave), (gx1 + 0.03 * W, eave), (gx1 - 0.12 * W, ridge),
                (gx0 + 0.12 * W, ridge)], roof)
    door_w = gw * _u(rng, 0.68, 0.8)
    gd0 = gx0 + (gw - door_w) / 2
    gd1 = gd0 + door_w
    gdy = ground_y - _u(rng, 0.27, 0.31) * H
    trim = (235, 235, 235)
    _rect(img, gd0 - 0.015 * H, gdy - 0.015 * H, gd1 + 0.015 * H, ground_y, trim)
    gdoor = _jitter(rng, _pick(rng, ((225, 228, 230), (170, 170, 168), (60, 90, 130),
                                      (90, 90, 92))))
    _rect(img, gd0, gdy, gd1, ground_y, gdoor)
    n_panels = int(rng.integers(4, 6))
    for i in range(1, n_panels):
        y = gdy + i * (ground_y - gdy) / n_panels
        _line(img, (gd0, y), (gd1, y), _shade(gdoor, 0.72), max(1, 0.008 * H))
    # Flood light above the garage door.
    lx, ly = (gd0 + gd1) / 2 + _u(rng, -0.2, 0.2) * door_w, gdy - 0.05 * H
    _rect(img, lx - 0.025 * H, ly - 0.012 * H, lx + 0.025 * H, ly + 0.012 * H, (30, 30, 32))
    cv2.ellipse(img, _ipt(lx, ly + 0.012 * H), _ipt(0.02 * H, 0.01 * H), 0, 0, 180,
                (200, 240, 255) if lighting == "lights_on" else (150, 160, 170), -1, _AA)

    # Drive surface widening towards the camera.
    drive = _jitter(rng, _pick(rng, ((160, 162, 165), (85, 85, 88), (120, 125, 130))))
    spread = _u(rng, 0.15, 0.3) * W
    pts = [(gd0 - 0.02 * W, ground_y), (gd1 + 0.02 * W, ground_y), (gd1 + spread, H),
           (gd0 - spread, H)]
    _poly(img, pts, drive)
    _line(img, pts[1], pts[2], _shade(drive, 0.75), max(1, 0.008 * H))
    _line(img, pts[0], pts[3], _shade(drive, 0.75), max(1, 0.008 * H))
    # Expansion joints in concrete.
    y = ground_y + 0.12 * H
    while y < H:
        t = (y - ground_y) / (H - ground_y)
        _line(img, (gd0 - 0.02 * W - t * (spread - 0.02 * W), y),
              (gd1 + 0.02 * W + t * (spread - 0.02 * W), y), _shade(drive, 0.85), 1)
        y += 0.12 * H * (1 + t)

    drive_spot_x = (max(0.02 * W, gd0 - spread * 0.8), min(0.98 * W, gd1 + spread * 0.8))
    spots = {
        "driveway": (drive_spot_x[0], drive_spot_x[1], _u(rng, 0.88, 0.93) * H,
                     _u(rng, 0.48, 0.54)),
        # In front of the garage door or beside it.
        "garage": (max(0.02 * W, gx0 - 0.08 * W), min(0.98 * W, gx1 + 0.08 * W),
                   ground_y + 0.04 * H, _u(rng, 0.36, 0.4)),
    }
    rough = [(0, ground_y, W, H, 0.06), (0, 0, W, ground_y, 0.01)]
    return spots, [(lx, ly + 0.01 * H)], rough


def _backyard(img, rng, lighting):
    H, W = img.shape[:2]
    fence_top = _u(rng, 0.28, 0.36) * H
    fence_bottom = _u(rng, 0.55, 0.6) * H
    _sky(img, rng, fence_bottom, lighting)
    # Tree behind the fence: trunk and a canopy of overlapping blobs.
    tree_x = (_u(rng, 0.08, 0.3) if rng.random() < 0.5 else _u(rng, 0.7, 0.92)) * W
    leaf = _jitter(rng, _pick(rng, ((50, 110, 45), (40, 90, 60), (60, 125, 80))), 10)
    _line(img, (tree_x, fence_top - 0.1 * H), (tree_x, fence_bottom), (40, 60, 80), 0.035 * H)
    crown_y = fence_top - _u(rng, 0.1, 0.16) * H
    for _ in range(6):
        cv2.ellipse(img, _ipt(tree_x + _u(rng, -0.1, 0.1) * H, crown_y + _u(rng, -0.07, 0.05) * H),
                    _ipt(_u(rng, 0.07, 0.12) * H, _u(rng, 0.06, 0.1) * H), 0, 0, 360,
                    _shade(leaf, _u(rng, 0.8, 1.2)), -1, _AA)
    # Wooden fence: planks, gaps, two rails.
    wood = _jitter(rng, _pick(rng, ((60, 100, 140), (120, 135, 145), (225, 228, 230),
                                     (50, 80, 115))))
    _rect(img, 0, fence_top, W, fence_bottom, wood)
    plank = _u(rng, 0.04, 0.06) * W
    x = _u(rng, 0, plank)
    gap_col = _shade(wood, 0.6)
    while x < W:
        _line(img, (x, fence_top), (x, fence_bottom), gap_col, 1)
        # Pointed plank tops.
        _poly(img, [(x, fence_top), (x + plank, fence_top), (x + plank / 2, fence_top -
                                                                 0.025 * H)], wood)
        x += plank
    for ry in (0.25, 0.75):
        y = fence_top + ry * (fence_bottom - fence_top)
        _line(img, (0, y), (W, y), _shade(wood, 0.8), max(1, 0.012 * H))
    # Soil strip and lawn.
    _rect(img, 0, fence_bottom - 0.01 * H, W, fence_bottom + 0.02 * H, (40, 55, 75))
    grass = _jitter(rng, _pick(rng, ((55, 145, 70), (60, 130, 90), (70, 155, 110))), 10)
    _vgradient(img, fence_bottom + 0.02 * H, H, _shade(grass, 0.8), _shade(grass, 1.12))
    bush_x = None
    if rng.random() < 0.5:
        # A bush in front of the fence at one edge.
        bush_x = 0.06 * W if tree_x > W / 2 else 0.94 * W
        for _ in range(4):
            cv2.ellipse(img, _ipt(bush_x + _u(rng, -0.06, 0.06) * W,
                                  fence_bottom - _u(rng, 0.0, 0.06) * H),
                        _ipt(_u(rng, 0.05, 0.08) * W, _u(rng, 0.05, 0.08) * H), 0, 0, 360,
                        _shade(leaf, _u(rng, 0.75, 1.1)), -1, _AA)
    fx0, fx1 = 0.04 * W, 0.96 * W
    if bush_x is not None:
        fx0, fx1 = (0.16 * W, fx1) if bush_x < W / 2 else (fx0, 0.84 * W)
    spots = {
        "lawn": (0.03 * W, 0.97 * W, _u(rng, 0.86, 0.93) * H, _u(rng, 0.56, 0.62)),
        "fence": (fx0, fx1, fence_bottom + 0.03 * H, _u(rng, 0.36, 0.4)),
    }
    rough = [(0, fence_bottom, W, H, 0.08), (0, fence_top, W, fence_bottom, 0.03)]
    # Flood light on the house wall above the camera: outside the frame, lighting the lawn.
    light = (_u(rng, 0.2, 0.8) * W, -0.15 * H)
    return spots, [light], rough


_PLACE_DRAWERS = {
    "front_door": _front_door,
    "living_room": _living_room,
    "kitchen": _kitchen,
    "driveway": _driveway,
    "backyard": _backyard,
}


# ----------------------------------------------------------------------------------------------
# Lighting
# ----------------------------------------------------------------------------------------------

_WARM = np.array((0.7, 0.92, 1.15), np.float32)  # BGR gain of warm incandescent light
_NIGHT_TINT = np.array((1.0, 0.8, 0.66), np.float32)  # moonlight / IR-cut bluish cast


@functools.lru_cache(maxsize=16)
def _grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return xx, yy


def _gaussian_spot(width, height, x, y, sigma) -> np.ndarray:
    xx, yy = _grid(width, height)
    d2 = (xx - np.float32(x)) ** 2 + (yy - np.float32(y)) ** 2
    return np.exp(d2 * np.float32(-0.5 / (sigma * sigma)))


def _light_maps(lighting, layout: Layout, rng, small: np.ndarray, rough):
    """Per-pixel gain (h, w, 3) and additive glow (h, w, 3) or None for the place and lighting."""
    h, w = small.shape[:2]
    xx, yy = _grid(w, h)
    # Surface grain (lawn, asphalt, plaster): multiplicative, so it also survives darkness.
    amp = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1, a in rough:
        amp[int(y0):int(math.ceil(y1)), int(x0):int(math.ceil(x1))] = a
    grain = 1.0 + amp * _unit_noise(rng, (h, w))
    # Low-frequency unevenness (dirt, light falloff), so flat walls are not flat.
    blotch = cv2.resize(rng.normal(0, 0.04, (4, 4)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    grain += blotch
    if lighting == "day":
        slope = _u(rng, -0.15, 0.15)
        field = _u(rng, 0.92, 1.08) * (1.0 + slope * (xx / w - 0.5))
        tint = 1.0 + rng.uniform(-0.03, 0.03, 3).astype(np.float32)
        gain = (field * grain)[..., None] * tint
        return gain.astype(np.float32), None
    # Night: dark, bluish and flat (contrast pulled towards the mean, like a noisy auto-gain).
    ambient = _u(rng, 0.34, 0.44) if lighting == "night" else _u(rng, 0.23, 0.3)
    contrast = _u(rng, 0.62, 0.78)
    tint = _NIGHT_TINT * (1.0 + rng.uniform(-0.05, 0.05, 3).astype(np.float32))
    gain = (ambient * contrast * grain)[..., None] * tint
    offset = ambient * (1 - contrast) * tint * small.reshape(-1, 3).mean(axis=0)
    if lighting == "night":
        # Auto exposure: a night camera turns up its gain until the picture is dim but readable,
        # so a dark driveway does not go black while a white kitchen stays dim.
        lit_mean = float((small.astype(np.float32) * gain).mean() + offset.mean())
        exposure = float(np.clip(_u(rng, 38.0, 52.0) / max(lit_mean, 1.0), 0.7, 2.5))
        gain *= exposure
        offset = offset * exposure
    glow = np.broadcast_to(offset.astype(np.float32), (h, w, 3)).copy()
    if lighting == "lights_on":
        warm = _WARM * (1.0 + rng.uniform(-0.05, 0.05, 3).astype(np.float32))
        for i, (lx, ly) in enumerate(layout.lights):
            strength = _u(rng, 0.95, 1.25) if i == 0 else _u(rng, 0.4, 0.7)
            sigma = _u(rng, 0.3, 0.42) * max(w, h)
            px, py = lx, ly
            if ly < 0:
                # A flood light above the camera: its beam lands on the ground in the picture.
                py, sigma = _u(rng, 0.6, 0.75) * h, sigma * 1.15
            pool = _gaussian_spot(w, h, px, py, sigma) * strength
            gain += (pool * grain)[..., None] * warm
            if 0 <= lx < w and 0 <= ly < h:
                # The fixture itself blooms.
                core = (0.9 * _gaussian_spot(w, h, lx, ly, 0.025 * h)
                        + 0.2 * _gaussian_spot(w, h, lx, ly, 0.08 * h))
                glow += core[..., None] * (255.0 * warm / warm.max())
    return gain.astype(np.float32), glow


# ----------------------------------------------------------------------------------------------
# Backdrop: background + layout + lighting, reusable across frames
# ----------------------------------------------------------------------------------------------


@dataclass
class Backdrop:
    """A place rendered once for a fixed camera: draw objects on it with `frame`, any number of
    times. `canvas` is the SUPERSAMPLE x background (uint8 BGR, unlit); `gain` and `glow` are the
    lighting maps at output size (float32; no glow by day)."""

    place: str
    lighting: str
    width: int
    height: int
    canvas: np.ndarray
    layout: Layout
    gain: np.ndarray
    glow: np.ndarray | None

    def frame(self, placements: Sequence[Placement]) -> tuple[np.ndarray, list[list[int]]]:
        """Draw the placements (back to front), downscale and light.

        Returns the lit uint8 BGR image at output size, before camera effects, and one box
        [x, y, w, h] (output pixels) per placement, in the order given.
        """
        s = SUPERSAMPLE
        canvas = self.canvas.copy()
        lights: list[tuple[float, float, float]] = []
        boxes: list[list[int]] = [[0, 0, 0, 0]] * len(placements)
        order = sorted(range(len(placements)), key=lambda i: placements[i].base_y)
        for i in order:
            p = placements[i]
            bx, by, bw, bh = draw_object(canvas, p.kind, p.colour, p.pose, p.x * s, p.base_y * s,
                                         p.size * s, p.facing, np.random.default_rng(p.seed),
                                         gait=p.gait, lights=lights)
            x0, y0 = bx // s, by // s
            boxes[i] = [x0, y0, -(-(bx + bw) // s) - x0, -(-(by + bh) // s) - y0]
        small = cv2.resize(canvas, (self.width, self.height), interpolation=cv2.INTER_AREA)
        lit = small.astype(np.float32) * self.gain
        if self.glow is not None:
            lit += self.glow
        if self.lighting != "day":
            # Headlights and other object lights glow in the dark.
            for lx, ly, radius in lights:
                r = radius / s
                core = (_gaussian_spot(self.width, self.height, lx / s, ly / s, r * 1.2)
                        + 0.25 * _gaussian_spot(self.width, self.height, lx / s, ly / s, r * 5))
                lit += core[..., None] * np.float32(255.0) * _WARM / _WARM.max()
        return np.clip(lit, 0, 255).astype(np.uint8), boxes


def make_backdrop(place: str, lighting: str, rng: np.random.Generator, width: int = 128,
                  height: int = 128) -> Backdrop:
    """Draw the place's background and its lighting maps (see `Backdrop`)."""
    s = SUPERSAMPLE
    canvas = np.empty((height * s, width * s, 3), np.uint8)
    spots, lights, rough = _PLACE_DRAWERS[place](canvas, rng, lighting)
    layout = Layout(
        width=width,
        height=height,
        spots={name: SpotRegion(x0 / s, x1 / s, y / s, scale)
               for name, (x0, x1, y, scale) in spots.items()},
        lights=[(x / s, y / s) for x, y in lights],
    )
    small = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    rough_small = [(x0 / s, y0 / s, x1 / s, y1 / s, a) for x0, y0, x1, y1, a in rough]
    gain, glow = _light_maps(lighting, layout, rng, small, rough_small)
    return Backdrop(place, lighting, width, height, canvas, layout, gain, glow)


def render_background(place: str, lighting: str, rng: np.random.Generator, width: int = 128,
                      height: int = 128) -> tuple[np.ndarray, Layout]:
    """The place without objects: lit uint8 BGR (height, width, 3), before camera effects.

    Draws from `rng` exactly as the first step of `render_scene` does, so with the same generator
    state it is the background of that scene.
    """
    backdrop = make_backdrop(place, lighting, rng, width, height)
    img, _ = backdrop.frame([])
    return img, backdrop.layout


# ----------------------------------------------------------------------------------------------
# Objects
# ----------------------------------------------------------------------------------------------


class _Pen:
    """Draws in object-local units (size = 1, y up is negative, +x = facing direction) and keeps
    the bounding box of everything drawn."""

    def __init__(self, img, x, base_y, size, facing):
        self.img, self.x, self.y, self.s, self.f = img, x, base_y, size, 1 if facing >= 0 else -1
        self.x0 = self.y0 = math.inf
        self.x1 = self.y1 = -math.inf

    def pt(self, dx, dy) -> tuple[int, int]:
        return _ipt(self.x + self.f * dx * self.s, self.y + dy * self.s)

    def _grow(self, cx, cy, hx, hy) -> None:
        self.x0, self.x1 = min(self.x0, cx - hx), max(self.x1, cx + hx)
        self.y0, self.y1 = min(self.y0, cy - hy), max(self.y1, cy + hy)

    def ellipse(self, dx, dy, ax, ay, angle, colour, outline=None, arc=(0, 360)) -> None:
        c = self.pt(dx, dy)
        axes = (max(1, int(round(ax * self.s))), max(1, int(round(ay * self.s))))
        ang = angle * self.f
        start, end = arc if self.f > 0 else (180 - arc[1], 180 - arc[0])
        cv2.ellipse(self.img, c, axes, ang, start, end, colour, -1, _AA)
        if outline is not None:
            cv2.ellipse(self.img, c, axes, ang, start, end, outline, 1, _AA)
        t = math.radians(ang)
        hx = math.hypot(axes[0] * math.cos(t), axes[1] * math.sin(t))
        hy = math.hypot(axes[0] * math.sin(t), axes[1] * math.cos(t))
        self._grow(c[0], c[1], hx, hy)

    def circle(self, dx, dy, r, colour, outline=None) -> None:
        self.ellipse(dx, dy, r, r, 0, colour, outline)

    def poly(self, pts, colour, outline=None) -> None:
        arr = np.array([self.pt(dx, dy) for dx, dy in pts], np.int32)
        cv2.fillPoly(self.img, [arr], colour, _AA)
        if outline is not None:
            cv2.polylines(self.img, [arr], True, outline, 1, _AA)
        self._grow(arr[:, 0].min(), arr[:, 1].min(), 0, 0)
        self._grow(arr[:, 0].max(), arr[:, 1].max(), 0, 0)

    def line(self, pts, thick, colour) -> None:
        arr = np.array([self.pt(dx, dy) for dx, dy in pts], np.int32)
        t = max(1, int(round(thick * self.s)))
        cv2.polylines(self.img, [arr], False, colour, t, _AA)
        self._grow(arr[:, 0].min(), arr[:, 1].min(), t / 2, t / 2)
        self._grow(arr[:, 0].max(), arr[:, 1].max(), t / 2, t / 2)

    def ring(self, dx, dy, r, thick, colour) -> None:
        c = self.pt(dx, dy)
        t = max(1, int(round(thick * self.s)))
        rad = max(1, int(round(r * self.s)))
        cv2.circle(self.img, c, rad, colour, t, _AA)
        self._grow(c[0], c[1], rad + t / 2, rad + t / 2)

    def shadow(self, dx, dy, ax, ay, strength=0.4) -> None:
        """Darken a soft ellipse on the ground (not part of the box)."""
        h, w = self.img.shape[:2]
        cx, cy = self.pt(dx, dy)
        rx, ry = max(1, int(ax * self.s)), max(1, int(ay * self.s))
        x0, x1 = max(0, cx - rx - 1), min(w, cx + rx + 2)
        y0, y1 = max(0, cy - ry - 1), min(h, cy + ry + 2)
        if x1 <= x0 or y1 <= y0:
            return
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.ellipse(mask, (cx - x0, cy - y0), (rx, ry), 0, 0, 360, 255, -1, _AA)
        roi = self.img[y0:y1, x0:x1]
        k = 1.0 - mask.astype(np.float32)[..., None] * np.float32(strength / 255.0)
        roi[:] = (roi * k).astype(np.uint8)

    def box(self) -> list[int]:
        h, w = self.img.shape[:2]
        x0, y0 = max(0, int(math.floor(self.x0))), max(0, int(math.floor(self.y0)))
        x1, y1 = min(w, int(math.ceil(self.x1)) + 1), min(h, int(math.ceil(self.y1)) + 1)
        return [x0, y0, max(0, x1 - x0), max(0, y1 - y0)]


def _person(pen: _Pen, cloth, pose, rng, gait) -> None:
    skin = _jitter(rng, _pick(rng, _SKIN), 8)
    hair = _jitter(rng, _pick(rng, _HAIR), 8)
    trousers = _jitter(rng, _pick(rng, _TROUSERS), 8)
    shoes = (28, 28, 30)
    cloth_dark = _shade(cloth, 0.72) if max(cloth) > 60 else _tint(cloth, 0.08)
    edge = _shade(cloth, 0.55)
    if pose == "sitting":
        # Side view on a seat: base is the seat surface, the legs hang down in front.
        pen.line([(0.0, -0.07), (0.2, -0.08)], 0.09, _shade(trousers, 0.8))
        pen.line([(0.0, -0.04), (0.21, -0.05), (0.23, 0.19)], 0.09, trousers)
        pen.ellipse(0.26, 0.205, 0.055, 0.025, 0, shoes)
        pen.poly([(-0.09, -0.02), (0.08, -0.02), (0.04, -0.37), (-0.11, -0.37)], cloth, edge)
        pen.poly([(-0.09, -0.02), (-0.03, -0.02), (-0.06, -0.37), (-0.11, -0.37)], cloth_dark)
        pen.line([(-0.03, -0.34), (0.03, -0.17), (0.14, -0.1)], 0.055, cloth_dark)
        pen.circle(0.16, -0.1, 0.03, skin)
        pen.line([(-0.03, -0.36), (-0.03, -0.41)], 0.05, _shade(skin, 0.85))
        pen.ellipse(-0.02, -0.45, 0.065, 0.078, 0, skin, _shade(skin, 0.7))
        pen.ellipse(-0.035, -0.47, 0.068, 0.06, -20, hair, arc=(150, 360))
        pen.circle(0.045, -0.445, 0.016, skin)
        return
    if pose == "walking":
        a = 0.15 * gait
        pen.shadow(0.0, 0.0, 0.2, 0.03)
        far_trousers = _shade(trousers, 0.75)
        pen.line([(0.0, -0.48), (-0.45 * a, -0.25), (-a, -0.03)], 0.085, far_trousers)
        pen.ellipse(-a + 0.03, -0.02, 0.05, 0.022, 0, shoes)
        pen.line([(0.0, -0.77), (0.35 * a - 0.02, -0.63), (0.6 * a, -0.5)], 0.055,
                 _shade(cloth_dark, 0.85))
        pen.poly([(-0.08, -0.8), (0.07, -0.8), (0.07, -0.46), (-0.075, -0.46)], cloth, edge)
        pen.poly([(-0.08, -0.8), (-0.03, -0.8), (-0.035, -0.46), (-0.075, -0.46)], cloth_dark)
        pen.line([(0.0, -0.48), (0.55 * a + 0.03, -0.26), (a, -0.03)], 0.085, trousers)
        pen.ellipse(a + 0.03, -0.02, 0.05, 0.022, 0, shoes)
        pen.line([(0.0, -0.77), (-0.35 * a - 0.02, -0.63), (-0.6 * a, -0.5)], 0.055, cloth_dark)
        pen.circle(-0.6 * a, -0.49, 0.028, skin)
        pen.line([(0.0, -0.79), (0.0, -0.85)], 0.05, _shade(skin, 0.85))
        pen.ellipse(0.01, -0.92, 0.065, 0.078, 0, skin, _shade(skin, 0.7))
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
    pen.line([(0.0, -0.8), (0.0, -0.85)], 0.05, _shade(skin, 0.85))
    pen.ellipse(0.0, -0.92, 0.065, 0.078, 0, skin, _shade(skin, 0.7))
    pen.ellipse(0.0, -0.95, 0.068, 0.05, 0, hair, arc=(180, 360))


def _dog(pen: _Pen, fur, pose, rng) -> None:
    dark = _shade(fur, 0.7) if max(fur) > 60 else _tint(fur, 0.1)
    ear = _shade(fur, 0.55) if max(fur) > 60 else _tint(fur, 0.06)
    edge = _shade(fur, 0.55)
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


def _cat(pen: _Pen, fur, pose, rng) -> None:
    dark = _shade(fur, 0.72) if max(fur) > 60 else _tint(fur, 0.08)
    edge = _shade(fur, 0.55)
    inner_ear = (150, 150, 215) if max(fur) > 60 else (90, 90, 140)
    eyes = _pick(rng, ((60, 200, 200), (80, 190, 90), (40, 160, 220)))

    def head(hx, hy):
        # Round face, no snout, upright POINTY ears: a cat, not a dog.
        for ex in (-0.07, 0.06):
            pen.poly([(hx + ex - 0.055, hy - 0.07), (hx + ex + 0.005, hy - 0.23),
                      (hx + ex + 0.06, hy - 0.06)], fur, edge)
            pen.poly([(hx + ex - 0.025, hy - 0.08), (hx + ex + 0.005, hy - 0.17),
                      (hx + ex + 0.035, hy - 0.08)], inner_ear)
        pen.circle(hx, hy, 0.13, fur, edge)
        pen.ellipse(hx + 0.06, hy + 0.05, 0.05, 0.035, 0, _tint(fur, 0.15))
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


def _package(pen: _Pen, colour, rng) -> None:
    a = _u(rng, 0.8, 1.0)  # front face width
    fh, dx, dy = 0.7, _u(rng, 0.25, 0.35), -0.3
    top = _tint(colour, 0.15)
    side = _shade(colour, 0.72)
    edge = _shade(colour, 0.5)
    x0, x1 = -0.5 * a - dx / 2, 0.5 * a - dx / 2
    pen.shadow(0.05, 0.0, 0.7, 0.06)
    pen.poly([(x0, -fh), (x1, -fh), (x1, 0.0), (x0, 0.0)], colour, edge)
    pen.poly([(x0, -fh), (x1, -fh), (x1 + dx, -fh + dy), (x0 + dx, -fh + dy)], top, edge)
    pen.poly([(x1, 0.0), (x1, -fh), (x1 + dx, -fh + dy), (x1 + dx, dy)], side, edge)
    if colour[0] > 150 and colour[1] > 150:
        tape = _pick(rng, ((60, 110, 170), (160, 110, 60)))
    else:
        tape = _pick(rng, ((150, 190, 215), (70, 110, 150)))
    # Tape along the flap seam, across the top and down the front.
    cx, tw = (x0 + x1) / 2, 0.07 * a
    pen.poly([(cx - tw, -fh), (cx + tw, -fh), (cx + tw + dx, -fh + dy), (cx - tw + dx, -fh + dy)],
             tape)
    pen.poly([(cx - tw, -fh), (cx + tw, -fh), (cx + tw, -fh + 0.25), (cx - tw, -fh + 0.25)], tape)
    if rng.random() < 0.5:
        pen.poly([(x0 + 0.1 * a, -0.35), (x0 + 0.35 * a, -0.35), (x0 + 0.35 * a, -0.2),
                  (x0 + 0.1 * a, -0.2)], (240, 240, 242))


def _car(pen: _Pen, colour, rng, lights) -> None:
    dark = _shade(colour, 0.6) if max(colour) > 60 else _tint(colour, 0.1)
    edge = _shade(colour, 0.5)
    glass = _jitter(rng, (120, 105, 95), 10)
    pen.shadow(0.0, -0.005, 0.52, 0.04, 0.5)
    body = [(-0.5, -0.12), (-0.5, -0.26), (-0.46, -0.31), (-0.26, -0.33), (0.2, -0.33),
            (0.42, -0.3), (0.5, -0.25), (0.5, -0.12), (0.47, -0.08), (-0.47, -0.08)]
    pen.poly([(-0.36, -0.32), (-0.29, -0.47), (0.07, -0.47), (0.23, -0.32)], colour, edge)
    pen.poly([(-0.32, -0.33), (-0.26, -0.44), (-0.08, -0.44), (-0.08, -0.33)], glass)
    pen.poly([(-0.05, -0.33), (-0.05, -0.44), (0.06, -0.44), (0.18, -0.33)], glass)
    pen.line([(-0.25, -0.43), (-0.2, -0.35)], 0.01, _tint(glass, 0.35))
    pen.poly(body, colour, edge)
    pen.poly([(-0.5, -0.17), (0.5, -0.17), (0.5, -0.12), (0.47, -0.08), (-0.47, -0.08),
              (-0.5, -0.12)], dark)
    pen.line([(-0.44, -0.285), (0.4, -0.285)], 0.008, _tint(colour, 0.4))
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


def _bicycle(pen: _Pen, colour, rng) -> None:
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
    pen.line([head_top, head_low, front], t * 0.9, _shade(colour, 0.8))
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
    col = _jitter(rng, base, 14)
    pen = _Pen(img, x, base_y, size, facing)
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


# ----------------------------------------------------------------------------------------------
# Placing groups at their spots
# ----------------------------------------------------------------------------------------------


def _object_size(kind: str, pose: str, region: SpotRegion, width: int, height: int,
                 rng: np.random.Generator) -> float:
    lo, hi = _SIZE_RANGE[kind]
    size = max(region.scale * height * _u(rng, lo, hi), _MIN_PX_AT_128[kind] * height / 128)
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


def _place_groups(scene: Scene, layout: Layout, rng: np.random.Generator):
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
        gaps = [_u(rng, 0.0, 0.06) * H for _ in items]
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
            t = _u(rng, 0.0, 1.0) if k < 10 else float(k - 10)
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
            base = region.base_y + _u(rng, -0.012, 0.012) * H
            seed = int(rng.integers(2**31))
            gait = 1.0 if rng.random() < 0.5 else -1.0  # which leg is in front
            out.append((gi, Placement(g.kind, g.colour, g.pose, cx, base, size, facing, seed,
                                      gait)))
    return out


# ----------------------------------------------------------------------------------------------
# Camera
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraParams:
    """Everything a camera does to an image except the per-frame noise; reuse one instance for
    every frame of a video from a fixed camera."""

    gain: float
    white_balance: tuple[float, float, float]
    gamma: float
    barrel: float  # radial distortion k (0 = none); the image is zoomed so edges stay filled
    corners: tuple[float, ...]  # perspective tilt: 8 corner offsets as fractions of the size
    blur: str  # "none", "gauss" or "motion"
    blur_amount: float  # gauss sigma, or motion length, in pixels at 128 px height
    blur_angle: float
    vignette: float  # brightness lost at the corners, 0..1
    noise: float  # sensor noise sigma in 8-bit units
    jpeg_quality: int | None  # None: no JPEG round trip (video frames)

    def map_box(self, box: Sequence[int], width: int, height: int) -> list[int]:
        """Where a box of the undistorted image lands in the camera image (clipped to it)."""
        return self.map_boxes([box], width, height)[0]

    def map_boxes(self, boxes: Sequence[Sequence[int]], width: int,
                  height: int) -> list[list[int]]:
        """`map_box` for many boxes at once (corners and edge midpoints of each are mapped)."""
        if not boxes:
            return []
        b = np.asarray(boxes, np.float64).reshape(-1, 4)
        x, y, w, h = b[:, 0:1], b[:, 1:2], b[:, 2:3], b[:, 3:4]
        fx = np.array([[0, 0.5, 1, 1, 1, 0.5, 0, 0]])
        fy = np.array([[0, 0, 0, 0.5, 1, 1, 1, 0.5]])
        u, v = _undistorted_to_camera(x + w * fx, y + h * fy, width, height, self.barrel,
                                      self.corners)
        out = []
        for i, (bw, bh) in enumerate(zip(w[:, 0], h[:, 0], strict=True)):
            if bw <= 0 or bh <= 0:
                out.append([int(v) for v in b[i]])
                continue
            x0 = int(np.clip(np.floor(u[i].min()), 0, width - 1))
            y0 = int(np.clip(np.floor(v[i].min()), 0, height - 1))
            x1 = int(np.clip(np.ceil(u[i].max()), x0 + 1, width))
            y1 = int(np.clip(np.ceil(v[i].max()), y0 + 1, height))
            out.append([x0, y0, x1 - x0, y1 - y0])
        return out


def sample_camera_params(rng: np.random.Generator, lighting: str,
                         strength: float = 1.0) -> CameraParams:
    """Random camera settings; `strength` scales every effect (0 = a perfect camera)."""
    s = float(strength)
    gain_lo, gain_hi = {"day": (0.88, 1.12), "night": (0.95, 1.25), "lights_on": (0.92, 1.18)}[
        lighting]
    noise_lo, noise_hi = {"day": (1.5, 3.5), "night": (3.0, 5.0), "lights_on": (2.5, 4.5)}[lighting]
    r = rng.random()
    blur = "gauss" if r < 0.3 else "motion" if r < 0.45 else "none"
    return CameraParams(
        gain=1.0 + (_u(rng, gain_lo, gain_hi) - 1.0) * s,
        white_balance=tuple(float(v) for v in 1.0 + rng.uniform(-0.06, 0.06, 3) * s),
        gamma=1.0 + _u(rng, -0.15, 0.15) * s,
        barrel=_u(rng, 0.0, 0.18) * s,
        corners=tuple(float(v) for v in rng.uniform(-0.02, 0.02, 8) * s),
        blur=blur if s > 0 else "none",
        blur_amount=_u(rng, 0.4, 0.9) if blur == "gauss" else _u(rng, 2.0, 4.0),
        blur_angle=_u(rng, 0.0, 180.0),
        vignette=_u(rng, 0.1, 0.35) * s,
        noise=_u(rng, noise_lo, noise_hi) * s,
        jpeg_quality=int(rng.integers(35, 91)) if s > 0 else None,
    )


def _homography(width: int, height: int, corners: tuple[float, ...]) -> np.ndarray:
    """Maps camera-image pixels to undistorted-scene pixels (a slight tilt of the camera)."""
    dst = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    off = np.asarray(corners, np.float32).reshape(4, 2) * np.array([width, height], np.float32)
    return cv2.getPerspectiveTransform(dst, dst + off).astype(np.float64)


def _radial(width: int, height: int, barrel: float) -> tuple[float, float, float, float]:
    cx, cy = (width - 1) / 2, (height - 1) / 2
    f = 0.5 * math.hypot(width, height)
    # Zoom so the side midpoints stay on the image and only the far corners reach past it.
    zoom = 1.0 / (1.0 + barrel * 0.6)
    return cx, cy, f, zoom


@functools.lru_cache(maxsize=64)
def _distortion_maps(width: int, height: int, barrel: float, corners: tuple[float, ...]):
    """cv2.remap maps: camera pixel -> scene pixel (barrel distortion, then tilt)."""
    xx, yy = _grid(width, height)
    cx, cy, f, zoom = _radial(width, height, barrel)
    dx, dy = (xx - cx) / f, (yy - cy) / f
    k = zoom * (1.0 + barrel * (dx * dx + dy * dy))
    px, py = cx + f * dx * k, cy + f * dy * k
    hm = _homography(width, height, corners).astype(np.float32)
    den = hm[2, 0] * px + hm[2, 1] * py + hm[2, 2]
    mx = (hm[0, 0] * px + hm[0, 1] * py + hm[0, 2]) / den
    my = (hm[1, 0] * px + hm[1, 1] * py + hm[1, 2]) / den
    return cv2.convertMaps(mx.astype(np.float32), my.astype(np.float32), cv2.CV_16SC2)


def _undistorted_to_camera(xs, ys, width, height, barrel, corners):
    """Inverse of `_distortion_maps` for a few points (Newton on the radial polynomial)."""
    inv = np.linalg.inv(_homography(width, height, corners))
    den = inv[2, 0] * xs + inv[2, 1] * ys + inv[2, 2]
    px = (inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]) / den
    py = (inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]) / den
    cx, cy, f, zoom = _radial(width, height, barrel)
    ux, uy = (px - cx) / f, (py - cy) / f
    rho_u = np.hypot(ux, uy)
    rho = rho_u / zoom
    for _ in range(6):
        g = zoom * rho * (1 + barrel * rho * rho) - rho_u
        rho = rho - g / (zoom * (1 + 3 * barrel * rho * rho))
    ratio = np.where(rho_u > 1e-9, rho / np.maximum(rho_u, 1e-9), 1.0 / zoom)
    return cx + f * ux * ratio, cy + f * uy * ratio


@functools.lru_cache(maxsize=16)
def _radius2(width: int, height: int) -> np.ndarray:
    xx, yy = _grid(width, height)
    cx, cy, f, _ = _radial(width, height, 0.0)
    return ((xx - cx) ** 2 + (yy - cy) ** 2) / (f * f)


def _unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-mean, unit-variance noise, about Gaussian (sum of two uniform bytes, triangular).

    Several times faster than rng.standard_normal, which matters at ~50k values per image.
    """
    n = int(np.prod(shape))
    raw = np.frombuffer(rng.bytes(2 * n), np.uint8)
    tri = cv2.add(raw[:n], raw[n:], dtype=cv2.CV_32F)
    return ((tri - np.float32(255.0)) * np.float32(1.0 / 104.4)).reshape(shape)


def _sensor_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Unit-scale sensor noise (h, w, 3): mostly luminance with some colour speckle, as a real
    sensor gives after demosaicing."""
    luma = _unit_noise(rng, (h, w, 1))
    raw = np.frombuffer(rng.bytes(h * w * 3), np.uint8).reshape(h, w, 3)
    chroma = raw.astype(np.float32) - np.float32(127.5)  # uniform, std 73.9
    return luma * np.float32(1.3) + chroma * np.float32(0.45 / 73.9)


@functools.lru_cache(maxsize=64)
def _gamma_lut(gamma: float) -> np.ndarray:
    return (np.power(np.arange(256) / 255.0, 1.0 / gamma) * 255.0 + 0.5).astype(np.uint8)


def apply_camera(img: np.ndarray, rng: np.random.Generator, lighting: str, strength: float = 1.0,
                 params: CameraParams | None = None) -> np.ndarray:
    """Make a clean render look like a cheap home camera's frame; returns uint8 BGR.

    Without `params`, fresh settings are drawn with `sample_camera_params(rng, lighting,
    strength)`. With `params` (a fixed camera), `lighting` and `strength` are ignored and only the
    sensor noise is drawn from `rng`, so consecutive frames differ by noise alone.
    """
    if params is None:
        params = sample_camera_params(rng, lighting, strength)
    h, w = img.shape[:2]
    scale = h / 128.0
    # Optics: lens distortion and tilt, blur, vignette.
    if params.barrel > 0 or any(params.corners):
        m1, m2 = _distortion_maps(w, h, round(params.barrel, 4),
                                  tuple(round(c, 4) for c in params.corners))
        img = cv2.remap(img, m1, m2, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    if params.blur == "gauss":
        img = cv2.GaussianBlur(img, (0, 0), params.blur_amount * scale)
    elif params.blur == "motion":
        n = max(2, int(round(params.blur_amount * scale)))
        kernel = np.zeros((n | 1, n | 1), np.float32)
        c = (n | 1) // 2
        t = math.radians(params.blur_angle)
        dx, dy = math.cos(t) * n / 2, math.sin(t) * n / 2
        cv2.line(kernel, _ipt(c - dx, c - dy), _ipt(c + dx, c + dy), 1.0, 1, _AA)
        img = cv2.filter2D(img, -1, kernel / kernel.sum())
    # Sensor: exposure gain, white balance and vignette in one multiply, then noise.
    wb = np.asarray(params.white_balance, np.float32) * np.float32(params.gain)
    shading = 1.0 - np.float32(params.vignette) * _radius2(w, h)
    f = img.astype(np.float32) * (shading[..., None] * wb)
    if params.noise > 0:
        f += _sensor_noise(rng, h, w) * np.float32(params.noise)
    out = np.clip(f, 0, 255).astype(np.uint8)
    if abs(params.gamma - 1.0) > 1e-3:
        out = cv2.LUT(out, _gamma_lut(round(params.gamma, 3)))
    if params.jpeg_quality is not None:
        ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(params.jpeg_quality)])
        if ok:
            out = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return out


# ----------------------------------------------------------------------------------------------
# The whole scene
# ----------------------------------------------------------------------------------------------


def render_scene(scene: Scene, rng: np.random.Generator, width: int = 128,
                 height: int = 128) -> np.ndarray:
    """Render `scene` as a camera frame: uint8 BGR (height, width, 3).

    Fills each group's `boxes` with one [x, y, w, h] per instance, in output pixels, mapped
    through the camera's distortion. Same scene and same generator state give identical pixels.
    """
    for g in scene.groups:
        if g.where not in SPOTS[scene.place]:
            raise ValueError(f"{g.where!r} is not a spot of {scene.place!r}")
    backdrop = make_backdrop(scene.place, scene.lighting, rng, width, height)
    placed = _place_groups(scene, backdrop.layout, rng)
    img, boxes = backdrop.frame([p for _, p in placed])
    params = sample_camera_params(rng, scene.lighting)
    out = apply_camera(img, rng, scene.lighting, params=params)
    for g in scene.groups:
        g.boxes = []
    for (gi, _), box in zip(placed, params.map_boxes(boxes, width, height), strict=True):
        scene.groups[gi].boxes.append(box)
    return out


__all__ = [
    "SUPERSAMPLE", "Backdrop", "CameraParams", "Layout", "Placement", "SpotRegion",
    "apply_camera", "draw_object", "make_backdrop", "render_background", "render_scene",
    "sample_camera_params",
]
