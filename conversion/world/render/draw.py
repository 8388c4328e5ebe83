"""Drawing helpers shared by the place and object drawers: random draws and colour jitter,
antialiased OpenCV primitives in float pixel coordinates, the window fixture both indoor and
outdoor places have, and the pixel grids and fast noise of the lighting and camera steps."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import cv2
import numpy as np

AA = cv2.LINE_AA


def uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def pick(rng: np.random.Generator, options: Sequence):
    return options[int(rng.integers(len(options)))]


def jitter(rng: np.random.Generator, bgr: Sequence[float], amount: float = 12.0) -> tuple:
    base = np.asarray(bgr, dtype=np.float64)
    gain = rng.uniform(0.9, 1.08)
    # Per-channel shifts shrink for dark colours: +-7 on a black coat would turn it green.
    noise = rng.normal(0.0, amount * 0.5, 3) * (0.25 + 0.75 * base / 255.0)
    return tuple(int(v) for v in np.clip(base * gain + noise, 0, 255))


def shade(bgr: Sequence[float], factor: float) -> tuple:
    return tuple(int(min(255, max(0, v * factor))) for v in bgr)


def tint(bgr: Sequence[float], amount: float) -> tuple:
    """Move towards white by `amount` (0..1): highlights that show even on black objects."""
    return tuple(int(v + (255 - v) * amount) for v in bgr)


def ipt(x: float, y: float) -> tuple[int, int]:
    return int(round(x)), int(round(y))


def rect(img, x0, y0, x1, y1, colour, thickness=-1) -> None:
    cv2.rectangle(img, ipt(x0, y0), ipt(x1, y1), colour, thickness, AA)


def poly(img, pts, colour) -> None:
    cv2.fillPoly(img, [np.round(np.asarray(pts)).astype(np.int32)], colour, AA)


def line(img, p, q, colour, thickness=1) -> None:
    cv2.line(img, ipt(*p), ipt(*q), colour, max(1, int(round(thickness))), AA)


def vgradient(img, y0, y1, top, bottom, x0=0, x1=None) -> None:
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


def window(img, rng, x0, y0, x1, y1, lighting, frame_colour, indoor: bool) -> None:
    fw = max(2.0, 0.06 * (x1 - x0))
    rect(img, x0 - fw, y0 - fw, x1 + fw, y1 + fw, frame_colour)
    if lighting == "day":
        glass_top = jitter(rng, (245, 222, 190) if indoor else (200, 170, 140), 8)
        glass_bottom = jitter(rng, (250, 240, 228) if indoor else (170, 150, 130), 8)
    elif lighting == "lights_on" and not indoor:
        # Seen from outside at night with the lights on inside: a warm glowing pane.
        glass_top, glass_bottom = (70, 150, 205), (55, 120, 175)
    else:
        glass_top, glass_bottom = (30, 22, 18), (22, 18, 16)
    vgradient(img, y0, y1, glass_top, glass_bottom, int(x0), int(x1))
    if lighting == "day":
        # A diagonal reflection streak reads as glass.
        w = x1 - x0
        poly(img, [(x0 + 0.15 * w, y1), (x0 + 0.35 * w, y1), (x0 + 0.75 * w, y0),
                    (x0 + 0.55 * w, y0)], shade(glass_bottom, 1.03))
    mid_x, mid_y = (x0 + x1) / 2, (y0 + y1) / 2
    bar = max(1.0, fw * 0.6)
    line(img, (mid_x, y0), (mid_x, y1), frame_colour, bar)
    line(img, (x0, mid_y), (x1, mid_y), frame_colour, bar)


@functools.lru_cache(maxsize=16)
def grid(width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    return xx, yy


def unit_noise(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Zero-mean, unit-variance noise, about Gaussian (sum of two uniform bytes, triangular).

    Several times faster than rng.standard_normal, which matters at ~50k values per image.
    """
    n = int(np.prod(shape))
    raw = np.frombuffer(rng.bytes(2 * n), np.uint8)
    tri = cv2.add(raw[:n], raw[n:], dtype=cv2.CV_32F)
    return ((tri - np.float32(255.0)) * np.float32(1.0 / 104.4)).reshape(shape)
