"""JPEG frames that arrive as MQTT payloads: accept a picture, or say in one line why not.

A camera that publishes JPEGs over MQTT (ESP32-CAM firmware, Frigate's snapshots, a script) can
send anything: an empty retained clear, a JSON status on the wrong topic, a frame cut short by a
flaky Wi-Fi link, a 40 MB mistake, a 3 MB JPEG that says it is 16000x16000 pixels. Each is refused
here with a short reason, before OpenCV sees it where that is cheap (magic bytes, size, end
marker, the pixel count in the frame header), then by the decoder's own word: libjpeg decodes
damaged data to a picture with grey or smeared blocks and only a warning, so "decodes" is not
"whole" (image_decode.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .frames import as_bgr
from .image_decode import Rejection, decode_image
from .image_header import DEFAULT_MAX_PIXELS
from .spec import MAX_JPEG_BYTES

__all__ = ["Rejection", "RejectLog", "check_jpeg", "decode_jpeg"]

JPEG_START = b"\xff\xd8\xff"  # SOI and the first marker's 0xFF
JPEG_END = b"\xff\xd9"  # EOI
# Some encoders pad the file after EOI with zeros (to a word or DMA-buffer boundary).
END_PADDING_BYTES = 64
REJECT_LOG_EVERY_S = 60.0  # at most one log line per camera and kind of rejection in this time


def check_jpeg(payload: bytes, max_bytes: int = MAX_JPEG_BYTES) -> Rejection | None:
    """None for bytes that look like one whole JPEG file; else why not (no decoding)."""
    if not payload:
        return Rejection("empty", "empty payload")
    if len(payload) > max_bytes:
        return Rejection("too_large", f"{len(payload)} bytes, over the {max_bytes}-byte limit")
    if not payload.startswith(JPEG_START):
        return Rejection("not_jpeg", f"not a JPEG (starts with {payload[:8]!r})")
    body = payload.rstrip(b"\x00")
    if len(payload) - len(body) > END_PADDING_BYTES or not body.endswith(JPEG_END):
        return Rejection("truncated", f"truncated JPEG ({len(payload)} bytes, no end marker)")
    return None


def decode_jpeg(payload: bytes, max_bytes: int = MAX_JPEG_BYTES, max_pixels: int = DEFAULT_MAX_PIXELS
                ) -> tuple[np.ndarray | None, Rejection | None]:
    """(BGR uint8 image, None) for a usable JPEG frame, or (None, why not): not a whole JPEG, over
    `max_pixels` by its header (nothing decoded), or reported damaged by the decoder."""
    rejection = check_jpeg(payload, max_bytes)
    if rejection is not None:
        return None, rejection
    image, rejection = decode_image(payload, max_pixels, cv2.IMREAD_COLOR, limit_name="max_frame_pixels")
    if rejection is not None:
        if rejection.kind == "undecodable":
            return None, Rejection("undecodable",
                                   f"undecodable JPEG ({len(payload)} bytes): {rejection.detail}")
        return None, rejection
    image, problem = as_bgr(image)
    if problem:
        return None, Rejection("bad_image", problem)
    return image, None


@dataclass
class RejectLog:
    """One WARNING line per kind of rejection per `every_s`, saying how many were dropped since:
    a camera sending garbage at 10 fps must not write 10 lines a second, nor go unnoticed."""

    name: str  # the camera, for the log line
    logger: logging.Logger
    every_s: float = REJECT_LOG_EVERY_S
    clock: Callable[[], float] = time.monotonic
    _last: dict[str, float] = field(default_factory=dict)
    _quiet: dict[str, int] = field(default_factory=dict)  # dropped since the kind's last line

    def note(self, rejection: Rejection, topic: str) -> bool:
        """Log (or count quietly); True when a line was written."""
        now = self.clock()
        last = self._last.get(rejection.kind)
        if last is not None and now - last < self.every_s:
            self._quiet[rejection.kind] = self._quiet.get(rejection.kind, 0) + 1
            return False
        more = self._quiet.pop(rejection.kind, 0)
        self._last[rejection.kind] = now
        self.logger.warning("camera %s: frame on %s dropped: %s%s", self.name, topic, rejection.detail,
                            f" ({more} more like it since the last report)" if more else "")
        return True
