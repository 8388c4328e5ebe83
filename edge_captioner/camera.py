"""Getting the LATEST frame from a camera source, forever.

A `Camera` owns two kinds of threads:

* a supervisor (one per camera, for the camera's whole life): opens the source by starting a
  reader, watches it, declares the source "lost" on an open failure, a read failure, a bad frame or
  a STALL (no new frame for `stall_timeout_s`), and reopens it with exponential backoff and jitter.
  It never calls into OpenCV, so it never blocks: it ticks every `TICK_S` and stamps
  `last_progress`, which the daemon's watchdog checks.
* a reader per open attempt: opens the capture and grabs continuously, keeping only the newest
  frame, so that what the daemon captions is what the camera sees now, not a stale buffered frame.
  A read that hangs (a network camera that keeps the connection open but sends nothing, a wedged
  driver) cannot be interrupted from Python, so a stalled reader is ABANDONED, not joined: it is a
  daemon thread, its frames are ignored from then on, and it releases its capture when the read
  finally returns (FFmpeg sources get open/read timeouts so that this happens soon after).

Files play at their own frame rate (a 13 s clip lasts 13 s) and loop or end ("ended").
Cameras are independent: each has its own threads and its own capture.
"""

from __future__ import annotations

import logging
import math
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import cv2
import numpy as np

from .config import NETWORK_SCHEMES, CameraConfig

log = logging.getLogger(__name__)

SAMPLE_CLIP = Path(__file__).parent / "data" / "sample_porch.mp4"
MAX_SIDE = 8192  # a frame wider or taller than this is garbage from the driver, not a picture
DEFAULT_FILE_FPS = 10.0  # when a file does not say its frame rate
FILE_FPS_RANGE = (1.0, 240.0)  # a file claiming a rate outside this is treated as not saying
TICK_S = 0.1  # the supervisor's heartbeat: stall-detection resolution and last_progress cadence
FFMPEG_TIMEOUT_MARGIN_S = 1.0  # FFmpeg gives up just after the supervisor does: clearer reasons
MAX_QUIET_BLOCKED_READS = 2  # more hung reads than this at once is worth a warning

StateCallback = Callable[[str, str], None]

# Why a reader ended without failing: a file without `loop` reached its end.
END_OF_FILE = "end of file"


@dataclass(frozen=True)
class Frame:
    """One captured frame. Treat `image` as read-only: every consumer gets the same array."""

    image: np.ndarray  # BGR uint8 (H, W, 3)
    seq: int  # 1, 2, 3... per camera, across reopens
    monotonic: float  # the camera's clock (time.monotonic by default) when it was read
    wall: datetime  # UTC


# -- sources ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Source:
    kind: str  # "device" | "network" | "gstreamer" | "file"
    target: object  # what cv2.VideoCapture gets: an int or a str
    api: int  # cv2.CAP_*


def classify_source(source: str | int) -> Source:
    """What kind of source `source` is, and how to open it (see `resolve_source`)."""
    if isinstance(source, int) or (isinstance(source, str) and source.strip().isdigit()):
        return Source("device", int(source), _device_api())
    text = str(source).strip()
    if text.startswith("/dev/video"):
        return Source("device", text, cv2.CAP_V4L2)
    if text == "sample":
        return Source("file", str(SAMPLE_CLIP), _file_api())
    if text.lower().startswith(NETWORK_SCHEMES):
        return Source("network", text, cv2.CAP_FFMPEG)
    if " ! " in text:
        return Source("gstreamer", text, cv2.CAP_GSTREAMER)
    return Source("file", text, _file_api())


def resolve_source(source: str | int) -> tuple[object, int]:
    """What to hand cv2.VideoCapture for a configured `source`, and with which API preference.

    * an int or a digit string ("0") -> that device index, CAP_V4L2 on Linux (else CAP_ANY)
    * "/dev/videoN" -> that device path, CAP_V4L2
    * "sample" -> the clip bundled with the package (edge_captioner/data/sample_porch.mp4)
    * rtsp://, rtsps://, http://, https:// -> CAP_FFMPEG (MJPEG over HTTP is read by FFmpeg too;
      FFmpeg options such as `rtsp_transport;tcp` go in OPENCV_FFMPEG_CAPTURE_OPTIONS)
    * a string containing " ! " -> a GStreamer pipeline, CAP_GSTREAMER, e.g. for the Pi camera:
      "libcamerasrc ! video/x-raw,width=1280,height=720 ! videoconvert ! appsink drop=true".
      This needs an OpenCV built with GStreamer: opencv-python(-headless) from PyPI is NOT; the
      Pi's python3-opencv from Debian is.
    * anything else -> a video file path (CAP_FFMPEG where this OpenCV has it, else CAP_ANY)
    """
    resolved = classify_source(source)
    return resolved.target, resolved.api


def _device_api() -> int:
    return cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY


def _file_api() -> int:
    return cv2.CAP_FFMPEG if _has_backend(cv2.CAP_FFMPEG) else cv2.CAP_ANY


def _has_backend(api: int) -> bool:
    try:
        return bool(cv2.videoio_registry.hasBackend(api))
    except (AttributeError, cv2.error):  # very old OpenCV: assume yes and let open() tell
        return True


# -- frames ---------------------------------------------------------------------------------------------
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


# -- one open attempt -----------------------------------------------------------------------------------
class _Reader(threading.Thread):
    """Opens the source once and reads until it fails, ends, or is cancelled (then it only cleans
    up). `outcome` says why it ended: None (cancelled), END_OF_FILE, or a failure reason."""

    def __init__(self, camera: Camera, source: Source):
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
            return None, f"cannot open {self.config.source!r}{self._missing_backend_hint()}"
        if self.source.kind != "file":
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # where supported: no stale frames queued
        if self.source.kind == "device" and self.config.resolution:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.config.resolution[0])
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.config.resolution[1])
        return capture, ""

    def _open_params(self) -> list[int]:
        if self.source.kind != "network":
            return []
        # FFmpeg otherwise waits 30 s to open and forever to read; give up just after the supervisor
        # does, so that an abandoned reader releases its connection soon.
        timeout_ms = int((self.config.stall_timeout_s + FFMPEG_TIMEOUT_MARGIN_S) * 1000)
        return [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, timeout_ms, cv2.CAP_PROP_READ_TIMEOUT_MSEC, timeout_ms]

    def _missing_backend_hint(self) -> str:
        if self.source.kind == "gstreamer" and not _has_backend(cv2.CAP_GSTREAMER):
            return " (this OpenCV has no GStreamer support: use the distribution's python3-opencv)"
        return ""

    def _read_frames(self) -> str | None:
        pacer = _Pacer(file_fps(self.capture)) if self.source.kind == "file" else None
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


class _Pacer:
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


# -- the camera -------------------------------------------------------------------------------------------
class Camera:
    """The latest frame of one source, kept current by background threads (see the module doc).

    `state`: "starting" (before the first frame), "streaming", "lost" (being reopened), "ended"
    (a file without `loop` reached its end; the threads are done). `on_state(name, state)` is called
    once per transition, from the supervisor thread; it must not block for long.
    """

    def __init__(self, config: CameraConfig, on_state: StateCallback | None = None, *,
                 backoff_initial_s: float = 1.0, backoff_max_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic):
        self.config = config
        self.name = config.name
        self.source = classify_source(config.source)
        self.on_state = on_state
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = max(backoff_max_s, backoff_initial_s)
        self.clock = clock
        self._state = "starting"
        self._frame: Frame | None = None
        self._frames_read = 0
        self._bad_frames = 0
        self._reopen_count = 0
        self._last_progress = clock()
        self._new_frame = threading.Condition()
        self._wake = threading.Event()  # the reader has news (first frame, or it ended)
        self._stopping = threading.Event()
        self._reader: _Reader | None = None
        self._abandoned: list[_Reader] = []  # readers stuck in a read when they were given up
        self._thread = threading.Thread(target=self._supervise, name=f"camera-{self.name}", daemon=True)

    # -- public API ----------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        return self._state

    @property
    def last_progress(self) -> float:
        """When the supervisor last ran (clock time). It runs every TICK_S whatever the source does
        (even in a backoff wait or while a read hangs), so a stale value means a wedged camera."""
        return self._last_progress

    @property
    def frames_read(self) -> int:
        return self._frames_read

    @property
    def reopen_count(self) -> int:
        """Opens after the first one (a looping file's restart is not one)."""
        return self._reopen_count

    @property
    def bad_frames(self) -> int:
        """Frames refused as unusable (None, empty, wrong type or size); each one is a read failure."""
        return self._bad_frames

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop promptly, even in a backoff wait or a hung read (that reader is left behind)."""
        self._stopping.set()
        self._wake.set()
        reader = self._reader
        if reader is not None:
            reader.cancel.set()
        with self._new_frame:
            self._new_frame.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_for_readers(self, timeout: float) -> bool:
        """After stop(): wait (bounded) until this camera's reader threads have left OpenCV.

        A daemon thread still inside OpenCV when the interpreter exits aborts the process
        ("terminate called without an active exception"), so a clean shutdown waits here, after
        the slower-to-notice parts (MQTT's `offline`) are done. False if one is still in a read."""
        deadline = time.monotonic() + timeout
        readers = [r for r in (self._reader, *self._abandoned) if r is not None]
        for reader in readers:
            reader.join(max(deadline - time.monotonic(), 0.0))
        return not any(r.is_alive() for r in readers)

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None:
        """The newest frame once its seq is > `newer_than`; None after `timeout` seconds, or at
        once when the camera is stopped or ended and has nothing newer."""
        def ready() -> bool:
            fresh = self._frame is not None and self._frame.seq > newer_than
            return fresh or self._stopping.is_set() or self._state == "ended"

        with self._new_frame:
            self._new_frame.wait_for(ready, timeout)
            frame = self._frame
        return frame if frame is not None and frame.seq > newer_than else None

    # -- called by readers --------------------------------------------------------------------------
    def deliver(self, reader: _Reader, image: np.ndarray) -> None:
        now = self.clock()
        with self._new_frame:
            if reader is not self._reader or reader.cancel.is_set():
                return  # an abandoned reader whose hung read came back: too late
            seq = self._frame.seq + 1 if self._frame else 1
            self._frame = Frame(image, seq, now, datetime.now(UTC))
            self._frames_read += 1
            reader.frames += 1
            reader.last_activity = now
            self._new_frame.notify_all()
        if reader.frames == 1:
            self.wake()

    def count_bad_frame(self) -> None:
        self._bad_frames += 1

    def wake(self) -> None:
        self._wake.set()

    # -- the supervisor ------------------------------------------------------------------------------
    def _supervise(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            reader = self._launch_reader()
            outcome = self._watch(reader)
            reader.cancel.set()
            if outcome is None:
                return  # stopping
            if outcome == END_OF_FILE:
                self._set_state("ended", outcome)
                return
            failures = 1 if reader.frames else failures + 1
            delay = self._backoff_delay(failures)
            self._set_state("lost", outcome)
            log.log(logging.INFO if failures == 1 else logging.DEBUG,
                    "camera %s: %s; reopening in %.1f s (attempt %d)", self.name, outcome, delay, failures)
            self._idle(delay)

    def _launch_reader(self) -> _Reader:
        if self._reader is not None:
            self._reopen_count += 1
            self._note_blocked_reads(self._reader)
        reader = _Reader(self, self.source)
        with self._new_frame:
            self._reader = reader
        self._wake.clear()
        reader.start()
        return reader

    def _note_blocked_reads(self, previous: _Reader) -> None:
        """Readers left inside a hung read normally end at the FFmpeg/driver timeout; many of them
        at once means a source whose reads never return (each holds a thread and a capture)."""
        self._abandoned = [r for r in self._abandoned if r.is_alive()]
        if previous.is_alive():
            self._abandoned.append(previous)
        if self._abandoned:
            log.log(logging.WARNING if len(self._abandoned) > MAX_QUIET_BLOCKED_READS else logging.INFO,
                    "camera %s: %d earlier read(s) still blocked, left behind",
                    self.name, len(self._abandoned))

    def _watch(self, reader: _Reader) -> str | None:
        """Until the reader ends or stalls: None when stopping, else why it ended."""
        while True:
            self._last_progress = self.clock()
            if self._stopping.is_set():
                return None
            if reader.frames and self._state != "streaming":
                self._set_state("streaming", "frames are arriving")
            if not reader.is_alive():
                return reader.outcome
            idle = self.clock() - reader.last_activity
            if idle > self.config.stall_timeout_s:
                what = "no frame" if reader.frames else "no first frame"
                return f"{what} for {idle:.1f} s (stalled)"
            self._wake.wait(TICK_S)
            self._wake.clear()

    def _backoff_delay(self, failures: int) -> float:
        """Exponential in the consecutive failures, +-20 % jitter (so that cameras behind one
        flaky switch do not all retry in step), within [backoff_initial_s, backoff_max_s]."""
        base = min(self.backoff_initial_s * 2.0 ** min(failures - 1, 32), self.backoff_max_s)
        # Draw inside the bounds rather than clamping, which would bunch retries at the bounds.
        low = max(0.8 * base, self.backoff_initial_s)
        high = min(1.2 * base, self.backoff_max_s)
        return random.uniform(low, high)

    def _idle(self, seconds: float) -> None:
        """Wait (ticking last_progress) until `seconds` pass or stop() is called."""
        deadline = time.monotonic() + seconds
        while not self._stopping.is_set():
            self._last_progress = self.clock()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._stopping.wait(min(remaining, 1.0))

    def _set_state(self, state: str, reason: str) -> None:
        if state == self._state:
            return
        self._state = state
        if state == "lost":
            log.warning("camera %s: lost: %s", self.name, reason)
        else:
            log.info("camera %s: %s (%s)", self.name, state, reason)
        if state == "ended":
            with self._new_frame:
                self._new_frame.notify_all()  # nothing more will come: wake latest() callers
        if self.on_state is not None:
            try:
                self.on_state(self.name, state)
            except Exception:  # noqa: BLE001 - a listener's bug must not stop the camera
                log.exception("camera %s: state callback failed", self.name)
