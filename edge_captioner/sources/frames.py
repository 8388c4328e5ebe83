"""Frames: what a frame source hands out (`Frame`), what every source offers its worker (`FrameSource`),
and turning whatever a driver returns into a usable image."""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from .image_header import MAX_SIDE, size_problem

if TYPE_CHECKING:  # the integration is optional: frames only carry its events
    from ..frigate.events import FrigateEvent

DEFAULT_FILE_FPS = 10.0  # when a file does not say its frame rate
FILE_FPS_RANGE = (1.0, 240.0)  # a file claiming a rate outside this is treated as not saying


@dataclass(frozen=True)
class Frame:
    """One captured frame. Treat `image` as read-only: every consumer gets the same array."""

    image: np.ndarray  # BGR uint8 (H, W, 3)
    seq: int  # 1, 2, 3... per camera, across reopens
    monotonic: float  # the camera's clock (time.monotonic by default) when it was read
    wall: datetime  # UTC
    frame_id: str | None = None  # the sender's own id of the frame, where it gives one (MQTT sources)
    event: FrigateEvent | None = None  # the Frigate event this frame is the snapshot of (frigate: sources)


class SourceState(enum.StrEnum):
    """Where a frame source is (docs/contract.md "Camera states" for what is published)."""

    STARTING = "starting"  # before the first frame
    STREAMING = "streaming"
    LOST = "lost"  # being reopened, or no frame for stall_timeout_s
    ENDED = "ended"  # a file that does not loop has played to its end


class FrameSource(Protocol):
    """What a camera's worker uses of its frame source (camera.Camera, mqtt_jpeg.MQTTFrameSource,
    frigate.source.FrigateSource)."""

    @property
    def state(self) -> SourceState: ...
    @property
    def last_progress(self) -> float: ...  # for the daemon's watchdog, next to the worker's own

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None: ...


def as_bgr(image: object) -> tuple[np.ndarray | None, str | None]:
    """(BGR uint8 image, None) for a usable frame, or (None, why not) for anything a driver or a
    broken stream can hand back: None, empty, wrong dtype, wrong channels, absurd size."""
    if not isinstance(image, np.ndarray):
        return None, "no image"
    if image.size == 0 or image.ndim not in (2, 3):
        return None, f"empty or malformed image, shape {image.shape}"
    if image.dtype != np.uint8:
        return None, f"{image.dtype} pixels, expected uint8"
    height, width = image.shape[:2]
    if height > MAX_SIDE or width > MAX_SIDE:
        return None, f"absurd size {width}x{height}"
    channels = 1 if image.ndim == 2 else image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image.reshape(height, width), cv2.COLOR_GRAY2BGR), None
    if channels == 3:
        return image, None
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR), None
    return None, f"{channels} channels"


def fit_within(image: np.ndarray, resolution: tuple[int, int] | None) -> np.ndarray:
    """Shrink a frame larger than `resolution` (width, height) to fit in it, keeping its aspect."""
    if resolution is None:
        return image
    height, width = image.shape[:2]
    scale = min(resolution[0] / width, resolution[1] / height)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def file_fps(capture: cv2.VideoCapture) -> float:
    fps = capture.get(cv2.CAP_PROP_FPS)
    if not math.isfinite(fps) or not FILE_FPS_RANGE[0] <= fps <= FILE_FPS_RANGE[1]:
        return DEFAULT_FILE_FPS
    return fps


def reported_size_problem(capture: cv2.VideoCapture, max_pixels: int, limit_name: str = "") -> str | None:
    """What is wrong with the frame size an open capture reports, before a frame is read (the
    decoder is FFmpeg's or the driver's, not ours: this is the one look we get before it decodes);
    None when the size is fine or not reported (0: some streams say nothing until their first
    frame; each frame is checked as it comes)."""
    width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
    height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
    if width <= 0 or height <= 0:
        return None
    return size_problem(width, height, max_pixels, limit_name)
