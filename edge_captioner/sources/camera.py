"""`Camera`: the LATEST frame of an OpenCV source (device, file, URL, pipeline), forever.

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
import random
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np

from ..config import CameraConfig
from .capture import END_OF_FILE, Reader
from .frames import Frame, SourceState
from .spec import classify_source

log = logging.getLogger(__name__)

TICK_S = 0.1  # the supervisor's heartbeat: stall-detection resolution and last_progress cadence
MAX_QUIET_BLOCKED_READS = 2  # more hung reads than this at once is worth a warning

StateCallback = Callable[[str, str], None]


def report_state(logger: logging.Logger, name: str, state: SourceState, reason: str,
                 on_state: StateCallback | None) -> None:
    """A frame source's new state: one log line (a WARNING when lost), then the listener, whose
    bug must not stop the camera. Shared by every kind of frame source."""
    if state == SourceState.LOST:
        logger.warning("camera %s: lost: %s", name, reason)
    else:
        logger.info("camera %s: %s (%s)", name, state, reason)
    if on_state is not None:
        try:
            on_state(name, state)
        except Exception:  # noqa: BLE001 - a listener's bug must not stop the camera
            logger.exception("camera %s: state callback failed", name)


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
        self._state = SourceState.STARTING
        self._frame: Frame | None = None
        self._frames_read = 0
        self._bad_frames = 0
        self._reopen_count = 0
        self._last_progress = clock()
        self._new_frame = threading.Condition()
        self._wake = threading.Event()  # the reader has news (first frame, or it ended)
        self._stopping = threading.Event()
        self._reader: Reader | None = None
        self._abandoned: list[Reader] = []  # readers stuck in a read when they were given up
        self._thread = threading.Thread(target=self._supervise, name=f"camera-{self.name}", daemon=True)

    # -- public API ----------------------------------------------------------------------------------
    @property
    def state(self) -> SourceState:
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
            return fresh or self._stopping.is_set() or self._state == SourceState.ENDED

        with self._new_frame:
            self._new_frame.wait_for(ready, timeout)
            frame = self._frame
        return frame if frame is not None and frame.seq > newer_than else None

    # -- called by readers --------------------------------------------------------------------------
    def deliver(self, reader: Reader, image: np.ndarray) -> None:
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
                self._set_state(SourceState.ENDED, outcome)
                return
            failures = 1 if reader.frames else failures + 1
            delay = self._backoff_delay(failures)
            self._set_state(SourceState.LOST, outcome)
            log.log(logging.INFO if failures == 1 else logging.DEBUG,
                    "camera %s: %s; reopening in %.1f s (attempt %d)", self.name, outcome, delay, failures)
            self._idle(delay)

    def _launch_reader(self) -> Reader:
        if self._reader is not None:
            self._reopen_count += 1
            self._note_blocked_reads(self._reader)
        reader = Reader(self, self.source)
        with self._new_frame:
            self._reader = reader
        self._wake.clear()
        reader.start()
        return reader

    def _note_blocked_reads(self, previous: Reader) -> None:
        """Readers left inside a hung read normally end at the FFmpeg/driver timeout; many of them
        at once means a source whose reads never return (each holds a thread and a capture)."""
        self._abandoned = [r for r in self._abandoned if r.is_alive()]
        if previous.is_alive():
            self._abandoned.append(previous)
        if self._abandoned:
            log.log(logging.WARNING if len(self._abandoned) > MAX_QUIET_BLOCKED_READS else logging.INFO,
                    "camera %s: %d earlier read(s) still blocked, left behind",
                    self.name, len(self._abandoned))

    def _watch(self, reader: Reader) -> str | None:
        """Until the reader ends or stalls: None when stopping, else why it ended."""
        while True:
            self._last_progress = self.clock()
            if self._stopping.is_set():
                return None
            if reader.frames and self._state != SourceState.STREAMING:
                self._set_state(SourceState.STREAMING, "frames are arriving")
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

    def _set_state(self, state: SourceState, reason: str) -> None:
        if state == self._state:
            return
        self._state = state
        if state == SourceState.ENDED:
            with self._new_frame:
                self._new_frame.notify_all()  # nothing more will come: wake latest() callers
        report_state(log, self.name, state, reason, self.on_state)
