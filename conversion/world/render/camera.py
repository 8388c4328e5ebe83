"""What a cheap home camera does to a clean render: lens distortion and tilt, blur, vignette, gain
and white balance, sensor noise, gamma and JPEG artefacts (`apply_camera`)."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .draw import AA, grid, ipt, uniform, unit_noise


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

    def map_boxes(self, boxes: Sequence[Sequence[int]], width: int,
                  height: int) -> list[list[int]]:
        """Where boxes of the undistorted image land in the camera image, clipped to it (the
        corners and edge midpoints of each are mapped)."""
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
        gain=1.0 + (uniform(rng, gain_lo, gain_hi) - 1.0) * s,
        white_balance=tuple(float(v) for v in 1.0 + rng.uniform(-0.06, 0.06, 3) * s),
        gamma=1.0 + uniform(rng, -0.15, 0.15) * s,
        barrel=uniform(rng, 0.0, 0.18) * s,
        corners=tuple(float(v) for v in rng.uniform(-0.02, 0.02, 8) * s),
        blur=blur if s > 0 else "none",
        blur_amount=uniform(rng, 0.4, 0.9) if blur == "gauss" else uniform(rng, 2.0, 4.0),
        blur_angle=uniform(rng, 0.0, 180.0),
        vignette=uniform(rng, 0.1, 0.35) * s,
        noise=uniform(rng, noise_lo, noise_hi) * s,
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
    xx, yy = grid(width, height)
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
    xx, yy = grid(width, height)
    cx, cy, f, _ = _radial(width, height, 0.0)
    return ((xx - cx) ** 2 + (yy - cy) ** 2) / (f * f)


def _sensor_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Unit-scale sensor noise (h, w, 3): mostly luminance with some colour speckle, as a real
    sensor gives after demosaicing."""
    luma = unit_noise(rng, (h, w, 1))
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
        cv2.line(kernel, ipt(c - dx, c - dy), ipt(c + dx, c + dy), 1.0, 1, AA)
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
