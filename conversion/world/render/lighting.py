"""The lighting of a place: a per-pixel gain and an additive glow for day, night and lights on
(surface grain, uneven walls, night-time auto exposure, pools of warm light and blooming fixtures).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import cv2
import numpy as np

from .draw import grid, uniform, unit_noise

if TYPE_CHECKING:
    from .backdrop import Layout

WARM = np.array((0.7, 0.92, 1.15), np.float32)  # BGR gain of warm incandescent light
_NIGHT_TINT = np.array((1.0, 0.8, 0.66), np.float32)  # moonlight / IR-cut bluish cast


def gaussian_spot(width, height, x, y, sigma) -> np.ndarray:
    xx, yy = grid(width, height)
    d2 = (xx - np.float32(x)) ** 2 + (yy - np.float32(y)) ** 2
    return np.exp(d2 * np.float32(-0.5 / (sigma * sigma)))


def light_maps(lighting, layout: Layout, rng, small: np.ndarray, rough):
    """Per-pixel gain (h, w, 3) and additive glow (h, w, 3) or None for the place and lighting."""
    h, w = small.shape[:2]
    xx, yy = grid(w, h)
    # Surface grain (lawn, asphalt, plaster): multiplicative, so it also survives darkness.
    amp = np.zeros((h, w), np.float32)
    for x0, y0, x1, y1, a in rough:
        amp[int(y0):int(math.ceil(y1)), int(x0):int(math.ceil(x1))] = a
    grain = 1.0 + amp * unit_noise(rng, (h, w))
    # Low-frequency unevenness (dirt, light falloff), so flat walls are not flat.
    blotch = cv2.resize(rng.normal(0, 0.04, (4, 4)).astype(np.float32), (w, h),
                        interpolation=cv2.INTER_CUBIC)
    grain += blotch
    if lighting == "day":
        slope = uniform(rng, -0.15, 0.15)
        field = uniform(rng, 0.92, 1.08) * (1.0 + slope * (xx / w - 0.5))
        tint = 1.0 + rng.uniform(-0.03, 0.03, 3).astype(np.float32)
        gain = (field * grain)[..., None] * tint
        return gain.astype(np.float32), None
    # Night: dark, bluish and flat (contrast pulled towards the mean, like a noisy auto-gain).
    ambient = uniform(rng, 0.34, 0.44) if lighting == "night" else uniform(rng, 0.23, 0.3)
    contrast = uniform(rng, 0.62, 0.78)
    tint = _NIGHT_TINT * (1.0 + rng.uniform(-0.05, 0.05, 3).astype(np.float32))
    gain = (ambient * contrast * grain)[..., None] * tint
    offset = ambient * (1 - contrast) * tint * small.reshape(-1, 3).mean(axis=0)
    if lighting == "night":
        # Auto exposure: a night camera turns up its gain until the picture is dim but readable,
        # so a dark driveway does not go black while a white kitchen stays dim.
        lit_mean = float((small.astype(np.float32) * gain).mean() + offset.mean())
        exposure = float(np.clip(uniform(rng, 38.0, 52.0) / max(lit_mean, 1.0), 0.7, 2.5))
        gain *= exposure
        offset = offset * exposure
    glow = np.broadcast_to(offset.astype(np.float32), (h, w, 3)).copy()
    if lighting == "lights_on":
        warm = WARM * (1.0 + rng.uniform(-0.05, 0.05, 3).astype(np.float32))
        for i, (lx, ly) in enumerate(layout.lights):
            strength = uniform(rng, 0.95, 1.25) if i == 0 else uniform(rng, 0.4, 0.7)
            sigma = uniform(rng, 0.3, 0.42) * max(w, h)
            px, py = lx, ly
            if ly < 0:
                # A flood light above the camera: its beam lands on the ground in the picture.
                py, sigma = uniform(rng, 0.6, 0.75) * h, sigma * 1.15
            pool = gaussian_spot(w, h, px, py, sigma) * strength
            gain += (pool * grain)[..., None] * warm
            if 0 <= lx < w and 0 <= ly < h:
                # The fixture itself blooms.
                core = (0.9 * gaussian_spot(w, h, lx, ly, 0.025 * h)
                        + 0.2 * gaussian_spot(w, h, lx, ly, 0.08 * h))
                glow += core[..., None] * (255.0 * warm / warm.max())
    return gain.astype(np.float32), glow
