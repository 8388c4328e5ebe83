"""The pen the object drawers draw with: object-local units, and the bounding box of the drawing."""

from __future__ import annotations

import math

import cv2
import numpy as np

from .draw import AA, ipt


class Pen:
    """Draws in object-local units (size = 1, y up is negative, +x = facing direction) and keeps
    the bounding box of everything drawn."""

    def __init__(self, img, x, base_y, size, facing):
        self.img, self.x, self.y, self.s, self.f = img, x, base_y, size, 1 if facing >= 0 else -1
        self.x0 = self.y0 = math.inf
        self.x1 = self.y1 = -math.inf

    def pt(self, dx, dy) -> tuple[int, int]:
        return ipt(self.x + self.f * dx * self.s, self.y + dy * self.s)

    def _grow(self, cx, cy, hx, hy) -> None:
        self.x0, self.x1 = min(self.x0, cx - hx), max(self.x1, cx + hx)
        self.y0, self.y1 = min(self.y0, cy - hy), max(self.y1, cy + hy)

    def ellipse(self, dx, dy, ax, ay, angle, colour, outline=None, arc=(0, 360)) -> None:
        c = self.pt(dx, dy)
        axes = (max(1, int(round(ax * self.s))), max(1, int(round(ay * self.s))))
        ang = angle * self.f
        start, end = arc if self.f > 0 else (180 - arc[1], 180 - arc[0])
        cv2.ellipse(self.img, c, axes, ang, start, end, colour, -1, AA)
        if outline is not None:
            cv2.ellipse(self.img, c, axes, ang, start, end, outline, 1, AA)
        t = math.radians(ang)
        hx = math.hypot(axes[0] * math.cos(t), axes[1] * math.sin(t))
        hy = math.hypot(axes[0] * math.sin(t), axes[1] * math.cos(t))
        self._grow(c[0], c[1], hx, hy)

    def circle(self, dx, dy, r, colour, outline=None) -> None:
        self.ellipse(dx, dy, r, r, 0, colour, outline)

    def poly(self, pts, colour, outline=None) -> None:
        arr = np.array([self.pt(dx, dy) for dx, dy in pts], np.int32)
        cv2.fillPoly(self.img, [arr], colour, AA)
        if outline is not None:
            cv2.polylines(self.img, [arr], True, outline, 1, AA)
        self._grow(arr[:, 0].min(), arr[:, 1].min(), 0, 0)
        self._grow(arr[:, 0].max(), arr[:, 1].max(), 0, 0)

    def line(self, pts, thick, colour) -> None:
        arr = np.array([self.pt(dx, dy) for dx, dy in pts], np.int32)
        t = max(1, int(round(thick * self.s)))
        cv2.polylines(self.img, [arr], False, colour, t, AA)
        self._grow(arr[:, 0].min(), arr[:, 1].min(), t / 2, t / 2)
        self._grow(arr[:, 0].max(), arr[:, 1].max(), t / 2, t / 2)

    def ring(self, dx, dy, r, thick, colour) -> None:
        c = self.pt(dx, dy)
        t = max(1, int(round(thick * self.s)))
        rad = max(1, int(round(r * self.s)))
        cv2.circle(self.img, c, rad, colour, t, AA)
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
        cv2.ellipse(mask, (cx - x0, cy - y0), (rx, ry), 0, 0, 360, 255, -1, AA)
        roi = self.img[y0:y1, x0:x1]
        k = 1.0 - mask.astype(np.float32)[..., None] * np.float32(strength / 255.0)
        roi[:] = (roi * k).astype(np.uint8)

    def box(self) -> list[int]:
        h, w = self.img.shape[:2]
        x0, y0 = max(0, int(math.floor(self.x0))), max(0, int(math.floor(self.y0)))
        x1, y1 = min(w, int(math.ceil(self.x1)) + 1), min(h, int(math.ceil(self.y1)) + 1)
        return [x0, y0, max(0, x1 - x0), max(0, y1 - y0)]
