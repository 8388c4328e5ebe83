"""One camera's caption loop: frame source -> `SceneChangeGate` -> captioning engine -> caption sink.

The worker knows its collaborators only by Protocols: a frame source (sources/frames.FrameSource:
an OpenCV `Camera`, an MQTT or Frigate source), `CaptionService` (the shared `Captioner` behind a
lock) a CaptionEngine, `mqtt.session.Publisher` (or Frigate's descriptions in front of it) a
CaptionSink. What the loop does with a frame is decided by the pure `frame_action` and
`publish_rule` (caption_event.py), each asked at most once per frame, the pool's fence included; a
caption is a `CaptionEvent`, which the sink turns into the MQTT payload.

Tracking and events (camera_events.py): the caption states the camera's steady state, the event
messages and the occupancy follow from it, and while anything is tracked the camera is captioned
at least every `events.track_interval_s`, even when the gate would skip the frame.

Commands (caption_now, pause, resume, set_interval) arrive on the MQTT session's command
dispatcher thread: they are recorded and the loop is woken; what they cause, such as publishing
the camera's state or its interval, happens on the worker's own thread, so the dispatcher never
waits for a caption in flight.
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

from ..config import CameraConfig
from ..mqtt.topics import CameraState
from ..sources.frames import SourceState
from .camera_events import SNAPSHOT_JPEG_QUALITY, CameraEvents
from .caption_event import (
    PUBLISHED,
    CameraSoFar,
    CaptionEvent,
    Outcome,
    ReportedFindings,
    frame_action,
    publish_rule,
    withheld_reason,
)
from .events import Event
from .gate import SceneChangeGate
from .pool import CaptionFence, SeenCaption

if TYPE_CHECKING:
    from ..model.captioner import Captioner, CaptionResult
    from ..sources.frames import Frame, FrameSource

log = logging.getLogger(__name__)

FRAME_WAIT_S = 0.5  # how long one pass of the loop waits for a frame (or, paused, for a command)


# -- the collaborators ---------------------------------------------------------------------------
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

    def caption(self, image: np.ndarray, place: str | None = None, *,
                steady: Callable | None = None, regions: tuple = ()) -> EngineCaption: ...


class CaptionSink(Protocol):
    """`mqtt.Publisher`'s side that takes captions, events and camera states."""

    def publish_caption(self, event: CaptionEvent, snapshot: bytes | None = None) -> None: ...
    def publish_withheld(self, event: CaptionEvent) -> None: ...
    def publish_state(self, camera: str, state: CameraState) -> None: ...
    def publish_interval(self, camera: str, seconds: float) -> None: ...
    def publish_event(self, event: Event, snapshot: bytes | None = None) -> None: ...
    def publish_occupancy(self, camera: str, occupancy: dict) -> None: ...


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

    def caption(self, image: np.ndarray, place: str | None = None, *,
                steady: Callable | None = None, regions: tuple = ()) -> CaptionResult:
        with self._lock:
            return self.captioner.caption(image, place=place, steady=steady, regions=regions)


# -- the worker ----------------------------------------------------------------------------------
@dataclass
class WorkerStats:
    captions: int = 0  # model runs
    published: int = 0
    skipped_unchanged: int = 0
    withheld: int = 0  # under the camera's min_confidence
    superseded: int = 0  # a pool member published a newer frame's caption first (pool.py)
    # a facts bundle's decoder wrote a sentence its facts do not support: the canonical sentence
    # went out instead (scene/support.py)
    fallbacks: int = 0
    events: int = 0  # event messages sent (events.py)


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
        # tracking and events (camera_events.py)
        self.camera_events = CameraEvents(self.config, self.engine.language,
                                          self.engine.model_name, self.sink, self.stats,
                                          pooled=self.fence is not None)

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

    def camera_state(self) -> CameraState:
        streaming = self.camera.state in (SourceState.STREAMING, SourceState.STARTING)
        return CameraState.STREAMING if streaming else CameraState.LOST

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the caption in flight, then return."""
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    # -- the loop ----------------------------------------------------------------------------------
    def _run(self) -> None:
        # the interval in use, for Home Assistant's interval number: a retained one from before a
        # restart may be a `/set` one that this run no longer uses
        self.sink.publish_interval(self.name, self.interval_s)
        while not self._stop.is_set():
            self.step()

    def step(self) -> None:
        """One pass of the loop: wait for a newer frame, apply the commands, handle the frame."""
        self.last_progress = self.clock()
        frame = self.camera.latest(newer_than=self._frame_seq, timeout=FRAME_WAIT_S)
        self._apply_requests()
        if frame is None:
            if self.camera.state == SourceState.LOST:
                self.camera_events.lost()
            return  # no heartbeat either: a lost camera must not look like a quiet scene
        self._frame_seq = frame.seq
        self.camera_events.frame_arrived()
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
            self.sink.publish_interval(self.name, interval)
        if pause is not None:
            self.paused = pause
            self.sink.publish_state(self.name, CameraState.PAUSED if pause else self.camera_state())

    def _handle(self, frame: Frame) -> None:
        now = self.clock()
        if frame.event is not None:
            # a Frigate event's snapshot: each event that asks for a caption gets one, even if its
            # text is the last one's (another person at the door is another event)
            self.gate.force()
        events = self.camera_events
        decision = self.gate.check(frame.image, now, events.wants_sample(now))
        action = frame_action(decision.reason, self._so_far(frame, now))
        if action is Outcome.REPEAT_LAST:
            # the scene has not changed: say the same again, without running the model
            self._repeat_last(frame)
            self.gate.accept(frame.image, now)
            return
        if action is not Outcome.RUN_MODEL:
            self.stats.skipped_unchanged += action is Outcome.UNCHANGED
            return
        events.sampled(now)
        if events.enabled:
            result = self.engine.caption(frame.image, self.config.place,
                                         steady=events.steady_hook(frame, now),
                                         regions=events.regions)
            events.after_caption(frame, result, now)
        else:
            result = self.engine.caption(frame.image, self.config.place, regions=events.regions)
        self.stats.captions += 1
        if getattr(result, "fallback", False):
            self.stats.fallbacks += 1
            log.warning("%s: the decoder's caption was not supported by its facts; published the "
                        "canonical sentence %r", self.name, result.text)
        self.gate.accept(frame.image, now)
        # the camera as it stands now that the caption is ready: in a pool another member's caption
        # may have come while the model ran, after `now`
        outcome = publish_rule(decision.reason, self._so_far(frame, self.clock()), result.text,
                               result.confidence, self.config.min_confidence, self.config.heartbeat_s)
        if events.hold(outcome, now):
            self.stats.skipped_unchanged += 1
            log.debug("%s: caption of frame %s held: something new is not confirmed yet",
                      self.name, frame.frame_id or frame.seq)
            return
        if outcome is Outcome.SUPERSEDED:
            self.stats.superseded += 1
            log.info("%s: caption of frame %s not published: another member published a newer "
                     "frame's caption first", self.name, frame.frame_id or frame.seq)
        elif outcome is Outcome.WITHHELD:
            self._withhold(self._event(frame, result, self._last_seq()))
        elif outcome in PUBLISHED:
            self._publish(frame, self._event(frame, result, self._next_seq()))
        else:
            self.stats.skipped_unchanged += 1
            log.debug("%s: caption of frame %s unchanged, not published", self.name,
                      frame.frame_id or frame.seq)

    # -- publishing ----------------------------------------------------------------------------------
    def _so_far(self, frame: Frame, now: float) -> CameraSoFar:
        """What the camera has published, as this worker knows it when deciding on `frame`."""
        last = self._last.caption if self._last is not None else None
        if self.fence is None:
            return CameraSoFar(last, now - self._published_at)
        # in a pool any member's caption counts, as this member saw it come
        seen = self.fence.last_caption
        return CameraSoFar(seen if seen is not None else last,
                           now - max(self._published_at, self.fence.seen_at), pooled=True,
                           newer_published=not self.fence.admits(frame.wall))

    def _last_seq(self) -> int:
        return self._last.seq if self._last is not None else 0

    def _next_seq(self) -> int:
        return self.fence.next_seq(self._last_seq()) if self.fence is not None else self._last_seq() + 1

    def _frame_fields(self, frame: Frame) -> dict:
        """What the payload says about the frame itself, and who captioned it."""
        return {"frame_id": frame.frame_id, "worker": self.member_id, "frigate": frame.event}

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
        self.sink.publish_caption(event, snapshot)
        self._saw_own(event)
        self._last = event
        self._published_at = self.clock()
        self.stats.published += 1
        log.info("%s: %s (%.2f, %.0f ms)", self.name, event.caption, event.confidence, event.latency_ms)

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
        self.sink.publish_withheld(event)
        self.stats.withheld += 1
        log.info("%s: withheld %r (%s)", self.name, event.caption, event.withheld)

    def _repeat_last(self, frame: Frame) -> None:
        assert self._last is not None
        event = dataclasses.replace(self._last, seq=self._next_seq(), timestamp=frame.wall,
                                    **self._frame_fields(frame))
        self._published_at = self.clock()
        self.sink.publish_caption(event, None)
        self._saw_own(event)
        self._last = event
        self.stats.published += 1
        log.debug("%s: heartbeat: %s", self.name, event.caption)
