"""One open attempt of a camera source: a thread that opens the capture and grabs until it fails,
ends, or is cancelled, handing each usable frame to its owner (the camera's supervisor).

A read that hangs cannot be interrupted from Python, so the supervisor abandons a stalled reader
rather than joining it: `cancel` makes it drop whatever it reads from then on and release its
capture when the read returns (FFmpeg sources get open/read timeouts so that this happens soon).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from ..config import CameraConfig
from .frames import as_bgr, file_fps, fit_within, reported_size_problem
from .image_header import size_problem
from .spec import Source, missing_backend_hint

log = logging.getLogger(__name__)

FFMPEG_TIMEOUT_MARGIN_S = 1.0  # FFmpeg gives up just after the supervisor does: clearer reasons

# Why a reader ended without failing: a file without `loop` reached its end.
END_OF_FILE = "end of file"


class ReaderOwner(Protocol):
    """What a reader needs from the camera that started it."""

    name: str
    config: CameraConfig
    clock: Callable[[], float]

    def deliver(self, reader: Reader, image: np.ndarray) -> None: ...
    def count_bad_frame(self) -> None: ...
    def wake(self) -> None: ...


class Reader(threading.Thread):
    """Opens the source once and reads until it fails, ends, or is cancelled (then it only cleans
    up). `outcome` says why it ended: None (cancelled), END_OF_FILE, or a failure reason."""

    def __init__(self, camera: ReaderOwner, source: Source):
        super().__init__(name=f"camera-{camera.name}-reader", daemon=True)
        self.camera = camera
        self.source = source
        self.config = camera.config
        self.cancel = threading.Event()
        self.frames = 0
        self.last_activity = camera.clock()  # the attempt's start, then its latest frame
        self.outcome: str | None = None
        self.capture: cv2.VideoCapture | None = None

    def run(self) -> None:
        try:
            self.outcome = self._read_until_done()
        except Exception as exc:  # noqa: BLE001 - a surprise from OpenCV must not kill the camera
            log.exception("camera %s: reader failed", self.camera.name)
            self.outcome = f"unexpected error: {exc!r}"
        finally:
            self.camera.wake()

    def _read_until_done(self) -> str | None:
        self.capture, why = self._open()
        if self.capture is None:
            return why
        try:
            return self._read_frames()
        finally:
            if self.capture is not None:
                self.capture.release()

    def _open(self) -> tuple[cv2.VideoCapture | None, str]:
        if self.source.kind == "file" and not Path(str(self.source.target)).is_file():
            return None, f"cannot open {self.config.source!r}: no such file"  # without OpenCV's stderr noise
        try:
            params = self._open_params()
            capture = cv2.VideoCapture(self.source.target, self.source.api, params)
        except cv2.error as exc:
            return None, f"cannot open {self.config.source!r}: {exc}"
        if not capture.isOpened():
            capture.release()
            return None, f"cannot open {self.config.source!r}{missing_backend_hint(self.source)}"
        if self.source.kind != "file":
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where supported: no stale frames queued
        if self.source.kind == "device" and self.config.resolution:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.resolution[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.resolution[1])
        problem = reported_size_problem(capture, self.config.max_frame_pixels, "max_frame_pixels")
        if problem:
            capture.release()
            return None, f"cannot use {self.config.source!r}: its frames are {problem}"
        return capture, ""

    def _open_params(self) -> list[int]:
        if self.source.kind != "network":
            return []
        # FFmpeg otherwise waits 30 s to open and forever to read; give up just after the supervisor
        # does, so that an abandoned reader releases its connection soon.
        timeout_ms = int((self.config.stall_timeout_s + FFMPEG_TIMEOUT_MARGIN_S) * 1000)
        return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]

    def _read_frames(self) -> str | None:
        pacer = Pacer(file_fps(self.capture)) if self.source.kind == "file" else None
        frames_this_pass = 0
        while not self.cancel.is_set():
            ok, image = self.capture.read()
            if self.cancel.is_set():
                return None
            if not ok:
                if self.source.kind != "file":
                    return "read failed (the stream ended or timed out)"
                if frames_this_pass == 0:
                    return "the file has no readable frames"
                if not self.config.loop:
                    return END_OF_FILE
                if not self._rewind():
                    return "cannot reopen the file to loop it"
                frames_this_pass = 0
                continue
            image, problem = as_bgr(image)
            if image is not None:
                problem = size_problem(image.shape[1], image.shape[0], self.config.max_frame_pixels,
                                       "max_frame_pixels")
            if problem:
                self.camera.count_bad_frame()
                return f"bad frame: {problem}"
            self.camera.deliver(self, fit_within(image, self.config.resolution))
            frames_this_pass += 1
            if pacer:
                pacer.wait(self.cancel)
        return None

    def _rewind(self) -> bool:
        # Reopening a local file costs milliseconds and, unlike seeking, works for every container.
        self.capture.release()
        log.debug("camera %s: looping %s", self.camera.name, self.config.source)
        self.capture, _ = self._open()
        return self.capture is not None


class Pacer:
    """Sleeps between file frames so that a file plays at its own frame rate, in real time."""

    def __init__(self, fps: float):
        self.period = 1.0 / fps
        self.next_at = time.monotonic()

    def wait(self, cancel: threading.Event) -> None:
        self.next_at += self.period
        delay = self.next_at - time.monotonic()
        if delay < -self.period:
            self.next_at = time.monotonic()  # fell behind (slow decode, busy CPU): don't rush to catch up
        elif delay > 0:
            cancel.wait(delay)
