"""The scene-change gate: do not caption a scene that has not changed. Pure and cheap.

Each frame is reduced to a 64x48 grayscale thumbnail (INTER_AREA averages ~100 pixels into one, so
sensor noise and JPEG artefacts vanish), blurred a little (a one-pixel jitter of the camera is not a
change), and compared with the thumbnail of the last CAPTIONED frame: the change is the share of
thumbnail pixels that differ by more than a noise floor. Comparing with the last captioned frame,
not the previous frame, makes a slow drift (the sun moving, a parked car creeping into view)
trigger once it has added up.

Auto-exposure and lights dimming change every pixel a little; before the comparison the thumbnail
is matched to the reference's mean and contrast (a gain and an offset), so that a global brightness
step is not a scene change while a person walking in still is.
"""

from __future__ import annotations

import enum
import threading
from dataclasses import dataclass

import cv2
import numpy as np

THUMB_SIZE = (64, 48)  # (width, height)
NOISE_FLOOR = 20.0  # of 255: a thumbnail pixel must move this much to count as changed
MAX_GAIN = 2.0  # contrast matching stops here: going dark is a change, not an exposure step
FLAT_STD = 1.0  # below this a thumbnail has no contrast to match (a black frame)


class GateReason(enum.StrEnum):
    """Why the gate lets a frame through (the first four) or not (the last two)."""

    FIRST = "first"  # nothing captioned yet
    CHANGED = "changed"  # the scene changed by the threshold or more
    HEARTBEAT = "heartbeat"  # unchanged, but max_interval_s have passed since the last caption
    FORCED = "forced"  # caption_now
    TRACKING = "tracking"  # unchanged or too soon, but objects are tracked: sampled at the track rate
    UNCHANGED = "unchanged"
    TOO_SOON = "too_soon"  # within min_interval_s of the last caption


@dataclass(frozen=True)
class GateDecision:
    run: bool
    reason: GateReason
    change: float  # share of thumbnail pixels that changed, 0..1 (1.0 with no reference)


@dataclass(frozen=True)
class Thumbnail:
    pixels: np.ndarray  # float32 (48, 64)
    mean: float
    std: float


def thumbnail(image: np.ndarray) -> Thumbnail:
    """Any uint8 image, gray (H,W) or (H,W,1), BGR or BGRA -> a blurred 64x48 gray thumbnail."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError(f"expected a uint8 image, got {image.dtype} {image.shape}")
    if image.ndim == 3 and image.shape[2] not in (1, 3, 4):
        raise ValueError(f"expected 1, 3 or 4 channels, got {image.shape}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3:
        # Gray first: INTER_AREA on one channel costs a third, more than the conversion adds.
        image = cv2.cvtColor(image, _TO_GRAY[image.shape[2]])
    small = cv2.resize(image, THUMB_SIZE, interpolation=cv2.INTER_AREA)
    pixels = cv2.GaussianBlur(small, (3, 3), 0).astype(np.float32)
    mean, std = cv2.meanStdDev(pixels)
    return Thumbnail(pixels, float(mean[0, 0]), float(std[0, 0]))


_TO_GRAY = {3: cv2.COLOR_BGR2GRAY, 4: cv2.COLOR_BGRA2GRAY}


def change_between(reference: Thumbnail, current: Thumbnail) -> float:
    """Share of pixels that differ by more than NOISE_FLOOR once brightness and contrast match."""
    gain = 1.0
    if current.std > FLAT_STD and reference.std > FLAT_STD:
        gain = min(max(reference.std / current.std, 1.0 / MAX_GAIN), MAX_GAIN)
    matched = (current.pixels - current.mean) * gain
    diff = np.abs(matched - (reference.pixels - reference.mean))
    return float(np.count_nonzero(diff > NOISE_FLOOR)) / diff.size


class SceneChangeGate:
    """Decides, frame by frame, whether to caption; `accept` the frames that were captioned.

    `min_interval_s` and `max_interval_s` may be changed at any time (an MQTT interval command).
    """

    def __init__(self, threshold: float, max_interval_s: float, min_interval_s: float = 0.0):
        self.threshold = threshold
        self.max_interval_s = max_interval_s
        self.min_interval_s = min_interval_s
        self._reference: Thumbnail | None = None
        self._accepted_at = 0.0
        self._forced = False
        self._forced_lock = threading.Lock()  # force() comes from the MQTT thread
        self._last_image: np.ndarray | None = None  # check() then accept() of one frame: one thumbnail
        self._last_thumb: Thumbnail | None = None

    @property
    def forced(self) -> bool:
        """force() was called and no check has used it yet."""
        return self._forced

    def force(self) -> None:
        """Make the next check run, whatever the scene and however soon (caption_now)."""
        with self._forced_lock:
            self._forced = True

    def check(self, image: np.ndarray, now: float, sample: bool = False) -> GateDecision:
        """sample: the camera's tracker wants this frame (service/tracks.py): a frame the gate
        would skip (unchanged, too soon) runs with reason TRACKING."""
        decision = self._check(image, now)
        if sample and not decision.run:
            return GateDecision(True, GateReason.TRACKING, decision.change)
        return decision

    def _check(self, image: np.ndarray, now: float) -> GateDecision:
        current = self._thumbnail(image)
        if self._take_forced():
            return GateDecision(True, GateReason.FORCED, self._change(current))
        if self._reference is None:
            return GateDecision(True, GateReason.FIRST, 1.0)
        change = change_between(self._reference, current)
        since = now - self._accepted_at
        if change >= self.threshold:
            reason = GateReason.CHANGED
        elif since >= self.max_interval_s:
            reason = GateReason.HEARTBEAT
        else:
            return GateDecision(False, GateReason.UNCHANGED, change)
        if since < self.min_interval_s:
            return GateDecision(False, GateReason.TOO_SOON, change)
        return GateDecision(True, reason, change)

    def accept(self, image: np.ndarray, now: float) -> None:
        """`image` was captioned at `now`: it is the new reference."""
        self._reference = self._thumbnail(image)
        self._accepted_at = now

    def _take_forced(self) -> bool:
        with self._forced_lock:
            forced, self._forced = self._forced, False
        return forced

    def _thumbnail(self, image: np.ndarray) -> Thumbnail:
        if image is not self._last_image or self._last_thumb is None:
            self._last_thumb = thumbnail(image)
            self._last_image = image
        return self._last_thumb

    def _change(self, current: Thumbnail) -> float:
        return 1.0 if self._reference is None else change_between(self._reference, current)
