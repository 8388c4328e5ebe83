"""One camera's caption loop: frame source -> `SceneChangeGate` -> captioning engine -> caption sink.

The worker knows its collaborators only by the Protocols below: `camera.Camera` is a FrameSource,
`CaptionService` (the shared `Captioner` behind a lock) a CaptionEngine, `mqtt.Publisher`
a CaptionSink. The one decision the loop makes, whether a frame's caption is published, is the pure
`publish_rule`; a published caption is a `CaptionEvent`, which becomes the MQTT payload dict only
as it is handed to the sink (both in caption_event.py).

Commands (caption_now, pause, resume, set_interval) arrive on the MQTT session's command
dispatcher thread: they are recorded and the loop is woken; what they cause, such as publishing
the camera's state, happens on the worker's own thread, so the dispatcher never waits for a
caption in flight.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

from .caption_event import (
    PUBLISHED,
    CaptionEvent,
    Outcome,
    ReportedFindings,
    publish_rule,
    withheld_reason,
)
from .config import CameraConfig
from .frigate import caption_fields
from .gate import SceneChangeGate
from .pool import CaptionFence, SeenCaption

if TYPE_CHECKING:
    from .camera import Frame
    from .captioner import Captioner, CaptionResult

# The loop's lines are the daemon's in the journal ("edge_captioner.daemon: porch: a person ..."), as
# they were before the worker had a module of its own: log filters and tests read them by that name.
log = logging.getLogger("edge_captioner.daemon")

SNAPSHOT_JPEG_QUALITY = 80
FRAME_WAIT_S = 0.5  # how long one pass of the loop waits for a frame (or, paused, for a command)


# -- the collaborators ---------------------------------------------------------------------------
class FrameSource(Protocol):
    """What the worker uses of `camera.Camera`."""

    @property
    def state(self) -> str: ...  # "starting" | "streaming" | "lost" | "ended"
    @property
    def last_progress(self) -> float: ...  # for the daemon's watchdog, next to the worker's own

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None: ...


class EngineCaption(Protocol):
    """What the worker uses of `captioner.CaptionResult`."""

    @property
    def text(self) -> str: ...
    @property
    def confidence(self) -> float: ...
    @property
    def latency_ms(self) -> float: ...
    @property
    def findings(self) -> ReportedFindings | None: ...
    @property
    def truncated(self) -> bool: ...


class CaptionEngine(Protocol):
    @property
    def language(self) -> str: ...
    @property
    def model_name(self) -> str: ...

    def caption(self, image: np.ndarray, place: str | None = None) -> EngineCaption: ...


class CaptionSink(Protocol):
    """`mqtt.Publisher`'s side that takes captions and camera states."""

    def publish_caption(self, camera: str, payload: dict, snapshot: bytes | None = None) -> None: ...
    def publish_withheld(self, camera: str, payload: dict) -> None: ...
    def publish_state(self, camera: str, state: str) -> None: ...


class CaptionService:
    """The one Captioner, shared by all cameras: TFLite interpreters are not thread-safe."""

    def __init__(self, captioner: Captioner):
        self.captioner = captioner
        self._lock = threading.Lock()

    @property
    def language(self) -> str:
        return self.captioner.bundle.language

    @property
    def model_name(self) -> str:
        return self.captioner.bundle.name

    def caption(self, image: np.ndarray, place: str | None = None) -> CaptionResult:
        with self._lock:
            return self.captioner.caption(image, place=place)


# -- the worker ----------------------------------------------------------------------------------
@dataclass
class WorkerStats:
    captions: int = 0  # model runs
    published: int = 0
    skipped_unchanged: int = 0
    withheld: int = 0  # under the camera's min_confidence
    superseded: int = 0  # a pool member published a newer frame's caption first (pool.py)


@dataclass
class CameraWorker:
    config: CameraConfig
    camera: FrameSource
    engine: CaptionEngine
    sink: CaptionSink
    stats: WorkerStats = field(default_factory=WorkerStats)
    clock: Callable[[], float] = time.monotonic
    # in a pool (pool.py): the camera's captions as all members publish them, and our member id
    fence: CaptionFence | None = None
    member_id: str | None = None

    def __post_init__(self) -> None:
        self.name = self.config.name
        self.gate = SceneChangeGate(self.config.scene_change_threshold,
                                    max_interval_s=self.config.heartbeat_s,
                                    min_interval_s=self.config.interval_s)
        self.interval_s = self.config.interval_s
        # changed on the worker's thread only; the daemon reads it to keep a paused camera "paused"
        self.paused = False
        self.last_progress = self.clock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._requests = threading.Lock()
        # the newest pause (True) or resume (False) not applied yet: a pause and a resume that come
        # within one pass of the loop leave the camera resumed, and its state said once
        self._pause_request: bool | None = None
        self._interval_request: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"worker-{self.name}", daemon=True)
        self._frame_seq = 0  # the newest frame taken from the camera
        self._last: CaptionEvent | None = None  # the last published caption
        self._published_at = -math.inf

    # -- commands (from the MQTT command dispatcher): record, wake the loop, return -------------
    def caption_now(self) -> None:
        self.gate.force()
        self._command("caption_now")

    def pause(self) -> None:
        with self._requests:
            self._pause_request = True
        self._command("pause")

    def resume(self) -> None:
        with self._requests:
            self._pause_request = False
        self._command("resume")

    def set_interval(self, seconds: float) -> None:
        with self._requests:
            self._interval_request = seconds
        self._command("set_interval", f" {seconds:g} s")

    def _command(self, action: str, detail: str = "") -> None:
        log.info("%s: command %s%s", self.name, action, detail)
        self._wake.set()

    def camera_state(self) -> str:
        return "streaming" if self.camera.state in ("streaming", "starting") else "lost"

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the caption in flight, then return."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    # -- the loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self.step()

    def step(self) -> None:
        """One pass of the loop: wait for a newer frame, apply the commands, handle the frame."""
        self.last_progress = self.clock()
        frame = self.camera.latest(newer_than=self._frame_seq, timeout=FRAME_WAIT_S)
        self._apply_requests()
        if frame is None:
            return  # no heartbeat either: a lost camera must not look like a quiet scene
        self._frame_seq = frame.seq
        if self.paused and not self.gate.forced:
            self._wake.wait(FRAME_WAIT_S)
            self._wake.clear()
            return
        try:
            self._handle(frame)
        except Exception:  # noqa: BLE001 - one bad frame must not end the camera
            log.exception("%s: captioning failed for frame %d", self.name, frame.seq)

    def _apply_requests(self) -> None:
        with self._requests:
            pause, self._pause_request = self._pause_request, None
            interval, self._interval_request = self._interval_request, None
        if interval is not None:
            self.interval_s = interval
            self.gate.min_interval_s = interval
        if pause is not None:
            self.paused = pause
            self.sink.publish_state(self.name, "paused" if pause else self.camera_state())

    def _handle(self, frame: Frame) -> None:
        now = self.clock()
        if getattr(frame, "event", None) is not None:
            # a Frigate event's snapshot: each event that asks for a caption gets one, even if its
            # text is the last one's (another person at the door is another event)
            self.gate.force()
        decision = self.gate.check(frame.image, now)
        outcome = self._rule(decision.reason, None, 0.0, now)
        if outcome is Outcome.REPEAT_LAST and self.fence is not None:
            # in a pool the camera's last caption may be another member's, of a newer frame than
            # ours: caption this frame rather than repeat an older text
            outcome = Outcome.RUN_MODEL
        if outcome is Outcome.REPEAT_LAST:
            # the scene has not changed: say the same again, without running the model
            self._repeat_last(frame)
            self.gate.accept(frame.image, now)
            return
        if outcome is not Outcome.RUN_MODEL:
            self.stats.skipped_unchanged += outcome is Outcome.UNCHANGED
            return
        result = self.engine.caption(frame.image, self.config.place)
        self.stats.captions += 1
        self.gate.accept(frame.image, now)
        if self.fence is not None and not self.fence.admits(frame.wall):
            self.stats.superseded += 1
            log.info("%s: caption of frame %s not published: another member published a newer "
                     "frame's caption first", self.name, frame.frame_id or frame.seq)
            return
        # the time since the last publish as of NOW, with the caption ready: in a pool another
        # member's caption may have been seen while the model ran, after the frame came (`now`)
        outcome = self._rule(decision.reason, result.text, result.confidence, self.clock())
        if outcome is Outcome.WITHHELD:
            self._withhold(self._event(frame, result, self._last_seq()))
        elif outcome in PUBLISHED:
            self._publish(frame, self._event(frame, result, self._next_seq()))
        else:
            self.stats.skipped_unchanged += 1
            log.debug("%s: caption of frame %s unchanged, not published", self.name,
                      frame.frame_id or frame.seq)

    def _rule(self, reason: str, caption: str | None, confidence: float, now: float) -> Outcome:
        published_at = self._published_at
        if self.fence is not None:  # any member's caption counts (as this member saw it come)
            published_at = max(published_at, self.fence.seen_at)
        return publish_rule(reason, self._last_caption(), caption, confidence,
                            self.config.min_confidence, now - published_at, self.config.heartbeat_s)

    def _last_caption(self) -> str | None:
        """The camera's caption now: in a pool, the newest any member published."""
        if self.fence is not None and self.fence.last_caption is not None:
            return self.fence.last_caption
        return self._last.caption if self._last is not None else None

    def _last_seq(self) -> int:
        return self._last.seq if self._last is not None else 0

    def _next_seq(self) -> int:
        return self.fence.next_seq(self._last_seq()) if self.fence is not None else self._last_seq() + 1

    def _frame_fields(self, frame: Frame) -> dict:
        """What the payload says about the frame itself, and who captioned it."""
        event = getattr(frame, "event", None)
        return {"frame_id": frame.frame_id, "worker": self.member_id,
                "frigate": caption_fields(event) if event is not None else None}

    def _event(self, frame: Frame, result: EngineCaption, seq: int) -> CaptionEvent:
        return CaptionEvent(camera=self.name, caption=result.text, confidence=result.confidence,
                            language=self.engine.language, timestamp=frame.wall,
                            model=self.engine.model_name, latency_ms=result.latency_ms, seq=seq,
                            findings=result.findings, truncated=result.truncated,
                            **self._frame_fields(frame))

    def _publish(self, frame: Frame, event: CaptionEvent) -> None:
        snapshot = None
        if self.config.snapshot:
            ok, jpeg = cv2.imencode(".jpg", frame.image,
                                    [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_JPEG_QUALITY])
            snapshot = jpeg.tobytes() if ok else None
        payload = event.payload()
        self.sink.publish_caption(self.name, payload, snapshot)
        self._saw_own(event)
        self._last = event
        self._published_at = self.clock()
        self.stats.published += 1
        log.info("%s: %s (%.2f, %.0f ms)", self.name, payload["caption"], payload["confidence"],
                 payload["latency_ms"])

    def _saw_own(self, event: CaptionEvent) -> None:
        # at once, not when the broker echoes it: the next caption must already count it
        if self.fence is not None:
            self.fence.observe(SeenCaption(event.seq, event.timestamp, event.caption))

    def _withhold(self, event: CaptionEvent) -> None:
        """A caption under the camera's min_confidence: not the camera's caption (the state and
        Home Assistant keep the last sure one); the newest such one goes, not retained, to
        `<base>/<camera>/withheld` with the reason, for whoever wants to see it."""
        event = dataclasses.replace(
            event, withheld=withheld_reason(event.confidence, self.config.min_confidence))
        self.sink.publish_withheld(self.name, event.payload())
        self.stats.withheld += 1
        log.info("%s: withheld %r (%s)", self.name, event.caption, event.withheld)

    def _repeat_last(self, frame: Frame) -> None:
        assert self._last is not None
        event = dataclasses.replace(self._last, seq=self._next_seq(), timestamp=frame.wall,
                                    **self._frame_fields(frame))
        self._published_at = self.clock()
        self.sink.publish_caption(self.name, event.payload(), None)
        self._saw_own(event)
        self._last = event
        self.stats.published += 1
        log.debug("%s: heartbeat: %s", self.name, event.caption)
