"""A place rendered once for a fixed camera: background, layout of its spots, lighting; objects
are drawn on it frame after frame (see scene.py for the whole pipeline)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from . import indoor, outdoor
from .lighting import WARM, gaussian_spot, light_maps
from .objects import draw_object

SUPERSAMPLE = 2
"""Backgrounds and objects are drawn at this multiple of the output size, then area-downscaled."""


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


PLACE_DRAWERS = {
    "front_door": outdoor.front_door,
    "living_room": indoor.living_room,
    "kitchen": indoor.kitchen,
    "driveway": outdoor.driveway,
    "backyard": outdoor.backyard,
}


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
                core = (gaussian_spot(self.width, self.height, lx / s, ly / s, r * 1.2)
                        + 0.25 * gaussian_spot(self.width, self.height, lx / s, ly / s, r * 5))
                lit += core[..., None] * np.float32(255.0) * WARM / WARM.max()
        return np.clip(lit, 0, 255).astype(np.uint8), boxes


def make_backdrop(place: str, lighting: str, rng: np.random.Generator, width: int = 128,
                  height: int = 128) -> Backdrop:
    """Draw the place's background and its lighting maps (see `Backdrop`)."""
    s = SUPERSAMPLE
    canvas = np.empty((height * s, width * s, 3), np.uint8)
    spots, lights, rough = PLACE_DRAWERS[place](canvas, rng, lighting)
    layout = Layout(
        width=width,
        height=height,
        spots={name: SpotRegion(x0 / s, x1 / s, y / s, scale)
               for name, (x0, x1, y, scale) in spots.items()},
        lights=[(x / s, y / s) for x, y in lights],
    )
    small = cv2.resize(canvas, (width, height), interpolation=cv2.INTER_AREA)
    rough_small = [(x0 / s, y0 / s, x1 / s, y1 / s, a) for x0, y0, x1, y1, a in rough]
    gain, glow = light_maps(lighting, layout, rng, small, rough_small)
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
