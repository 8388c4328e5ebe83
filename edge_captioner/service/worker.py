"""One camera's caption loop: frame source -> `SceneChangeGate` -> captioning engine -> caption sink.

The worker knows its collaborators only by Protocols: a frame source (sources/frames.FrameSource:
an OpenCV `Camera`, an MQTT or Frigate source), `CaptionService` (the shared `Captioner` behind a
lock) a CaptionEngine, `mqtt.session.Publisher` (or Frigate's descriptions in front of it) a
CaptionSink. What the loop does with a frame is decided by the pure `frame_action` and
`publish_rule` (caption_event.py), each asked at most once per frame, the pool's fence included; a
caption is a `CaptionEvent`, which the sink turns into the MQTT payload.

Events (events.py): each captioned frame's objects go to the camera's tracker (tracks.py); the
caption and its `found` state the tracker's steady state, not the frame's raw detections (a facts
bundle's engine takes a `steady` hook: the same constrained search and check, on the steady
objects); the event machine turns the steady tracks into event messages, and the occupancy
(what is present now) is published when it changes. While anything is tracked the camera is
captioned at least every `events.track_interval_s`, even when the gate would skip the frame.

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
from ..config.parse import events_owner
from ..mqtt.topics import CameraState
from ..scene.facts import SPOTS
from ..scene.from_findings import spot_of
from ..sources.frames import SourceState
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
from .events import Event, EventMachine, EventSettings, Happened, occupancy
from .gate import SceneChangeGate
from .pool import CaptionFence, SeenCaption
from .tracks import Observation, Tracker, TrackSettings
from .zones import bounds, place_for, zones_of

if TYPE_CHECKING:
    from ..model.captioner import Captioner, CaptionResult
    from ..sources.frames import Frame, FrameSource

log = logging.getLogger(__name__)

SNAPSHOT_JPEG_QUALITY = 80
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


def _with_posture(found, posture: str | None):
    """A track's latest object with the track's steady posture (tracks.steady_posture)."""
    if getattr(found, "posture", None) == posture or not dataclasses.is_dataclass(found):
        return found
    return dataclasses.replace(found, posture=posture)


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
        # tracking and events: null `events.enabled` (a config made in code) decided as the
        # loader decides it (config/parse.py)
        events = self.config.events
        self.tracking = (events.enabled if events.enabled is not None
                         else events_owner(self.config, self.fence is not None) is None)
        self.zones = zones_of(self.config.zones)
        # where a parcel would be: the box detector also looks at each zone's rectangle
        self.regions = tuple(dict.fromkeys(bounds(z) for z in self.zones))
        self.tracker = Tracker(TrackSettings(events.present_after_frames,
                                             events.present_window_frames, events.absent_after_s))
        self.machine = EventMachine(
            self.name, self.engine.language, self.engine.model_name,
            EventSettings(events.passing_s, events.absent_after_s, events.fall_after_s,
                          events.linger_after_s, events.box_after_s),
            self.zones, self.config.place)
        self._sampled_at = -math.inf  # when the model last ran
        self._fed = False  # the tracker took this frame's objects (the engine called `steady`)
        self._occupancy: dict | None = None  # the last published
        self._held = 0  # changed captions held in a row (`_hold`)
        self._camera_lost = False  # the tracks were ended for a lost camera (`_lost`)
        # the tracker has to look at the next frame even if the gate sees no change: the camera is
        # back from being lost, its tracks forgotten, and its picture may be the one before
        self._look_again = False

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
            self._lost()
            return  # no heartbeat either: a lost camera must not look like a quiet scene
        self._frame_seq = frame.seq
        self._camera_lost = False
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
        sample = (self.tracking and (self.tracker.active or self._look_again)
                  and now - self._sampled_at >= self.config.events.track_interval_s)
        decision = self.gate.check(frame.image, now, sample)
        action = frame_action(decision.reason, self._so_far(frame, now))
        if action is Outcome.REPEAT_LAST:
            # the scene has not changed: say the same again, without running the model
            self._repeat_last(frame)
            self.gate.accept(frame.image, now)
            return
        if action is not Outcome.RUN_MODEL:
            self.stats.skipped_unchanged += action is Outcome.UNCHANGED
            return
        self._sampled_at, self._look_again = now, False
        if self.tracking:
            self._fed = False
            result = self.engine.caption(frame.image, self.config.place,
                                         steady=self._steady_hook(frame, now),
                                         regions=self.regions)
            self._events(frame, result, now)
        else:
            result = self.engine.caption(frame.image, self.config.place, regions=self.regions)
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
        if self._hold(outcome, now):
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

    # -- tracking and events -------------------------------------------------------------------------
    def _hold(self, outcome: Outcome, now: float) -> bool:
        """Whether a changed caption waits for the tracker: in this frame it saw something it has
        not confirmed yet (a new object, or a ghost), so the steady state may be about to change,
        and may be understating the frame ("no one" with a person just arriving). It waits at most
        until such an object could be confirmed (`present_window_frames`); a heartbeat or
        caption_now is never held."""
        unsettled = self.tracking and any(not t.confirmed and t.last_seen == now
                                          for t in self.tracker.every)
        if (unsettled and outcome in (Outcome.CHANGED, Outcome.WITHHELD)
                and self._held < self.config.events.present_window_frames - 1):
            self._held += 1
            return True
        self._held = 0
        return False

    def _lost(self) -> None:
        """The camera is lost (no frame for `stall_timeout_s`, or being reopened): what it shows is
        not known. Its open events end (marked `camera_lost`), its tracks are forgotten and its
        occupancy is all zeros (Home Assistant shows it unavailable while the camera is lost);
        what it shows when it is back was there before, as at start. Once per loss."""
        if not self.tracking or self._camera_lost or self.camera.state != SourceState.LOST:
            return
        self._camera_lost = self._look_again = True
        for happened in self.machine.camera_lost(self.tracker.tracks):
            self._publish_event(happened)
        self.tracker = Tracker(self.tracker.settings)
        self._publish_occupancy(occupancy([], 0))

    def _publish_occupancy(self, present: dict) -> None:
        if present != self._occupancy:
            self.sink.publish_occupancy(self.name, present)
            self._occupancy = present

    def _track(self, objects: list, frame: Frame, now: float, under: list = ()) -> None:
        """One frame's objects (over their thresholds: furniture too) into the tracker; `under`:
        its objects under their thresholds, which may only keep a confirmed track alive."""
        furniture = [o for o in objects if o.kind in SPOTS]
        seen = [Observation(o.kind, tuple(o.box), float(o.score), o.posture,
                            spot_of(o, furniture) if o.posture in ("sitting", "lying") else None, o)
                for o in objects if o.kind is not None and o.kind not in SPOTS]
        weak = [Observation(o.kind, tuple(o.box), float(o.score))
                for o in under if o.kind is not None and o.kind not in SPOTS]
        self.tracker.update(seen, now, frame.image, weak)
        self._fed = True

    def _steady_hook(self, frame: Frame, now: float) -> Callable:
        """The engine's `steady`: the frame's objects in, the steady objects and place out."""
        def steady(objects: list, under: list = ()) -> tuple[list, str | None]:
            self._track(objects, frame, now, under)
            tracks = self.tracker.steady
            furniture = [o for o in objects if o.kind in SPOTS]
            return ([_with_posture(t.stated.source, t.posture) for t in tracks] + furniture,
                    place_for(self.zones, [t.box for t in tracks], self.config.place))
        return steady

    def _events(self, frame: Frame, result: EngineCaption, now: float) -> None:
        findings = result.findings
        if not self._fed:
            objects = getattr(findings, "objects", None)
            if objects is None:
                return  # an engine without findings: nothing to track
            # a bundle whose caption does not read facts: tracked for the events only
            self._track(list(objects), frame, now)
        for happened in self.machine.step(self.tracker.tracks, self.tracker.dropped, now,
                                          frame.wall, self.tracker.every):
            self._publish_event(happened)
        self._publish_occupancy(occupancy(self.tracker.steady, self.machine.falls))

    def _publish_event(self, happened: Happened) -> None:
        snapshot = None
        if happened.frame is not None:
            ok, jpeg = cv2.imencode(".jpg", happened.frame,
                                    [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_JPEG_QUALITY])
            snapshot = jpeg.tobytes() if ok else None
        event = happened.event
        if snapshot is None and event.snapshot:
            event = dataclasses.replace(event, snapshot=False)
        self.sink.publish_event(event, snapshot)
        self.stats.events += 1
        log.info("%s: event %s %s: %s", self.name, event.type, event.phase, event.sentence)

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
