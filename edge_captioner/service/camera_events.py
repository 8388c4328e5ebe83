"""One camera's tracking and events, as its caption loop (worker.py) uses them.

Each captioned frame's objects go to the camera's tracker (tracks.py); the caption and its
`found` state the tracker's steady state, not the frame's raw detections (a facts bundle's engine
takes a `steady` hook: the same constrained search and check, on the steady objects); the event
machine (events.py) turns the steady tracks into event messages, and the occupancy (what is
present now) is published when it changes. While anything is tracked the camera is to be
captioned at least every `events.track_interval_s`, even when the gate would skip the frame; a
lost camera ends its open events and clears its occupancy.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Callable
from typing import TYPE_CHECKING

import cv2

from ..config import CameraConfig
from ..config.parse import events_owner
from ..scene.facts import SPOTS
from ..scene.from_findings import spot_of
from .caption_event import Outcome
from .events import EventMachine, EventSettings, Happened, occupancy
from .tracks import Observation, Tracker, TrackSettings
from .zones import bounds, place_for, zones_of

if TYPE_CHECKING:
    from ..sources.frames import Frame
    from .worker import CaptionSink, EngineCaption, WorkerStats

log = logging.getLogger(__name__)

SNAPSHOT_JPEG_QUALITY = 80


def _with_posture(found, posture: str | None):
    """A track's latest object with the track's steady posture (tracks.steady_posture)."""
    if getattr(found, "posture", None) == posture or not dataclasses.is_dataclass(found):
        return found
    return dataclasses.replace(found, posture=posture)


class CameraEvents:
    """The tracker, the event machine and the occupancy of one camera. Used on the camera's
    worker thread only."""

    def __init__(self, config: CameraConfig, language: str, model_name: str, sink: CaptionSink,
                 stats: WorkerStats, pooled: bool):
        self.name = config.name
        self.config = config
        self.sink = sink
        self.stats = stats
        # null `events.enabled` (a config made in code) decided as the loader decides it
        # (config/parse.py)
        settings = config.events
        self.enabled = (settings.enabled if settings.enabled is not None
                        else events_owner(config, pooled) is None)
        self.zones = zones_of(config.zones)
        # where a parcel would be: the box detector also looks at each zone's rectangle
        self.regions = tuple(dict.fromkeys(bounds(z) for z in self.zones))
        self.tracker = Tracker(TrackSettings(settings.present_after_frames,
                                             settings.present_window_frames,
                                             settings.absent_after_s))
        self.machine = EventMachine(
            self.name, language, model_name,
            EventSettings(settings.passing_s, settings.absent_after_s, settings.fall_after_s,
                          settings.linger_after_s, settings.box_after_s),
            self.zones, config.place)
        self._sampled_at = -math.inf  # when the model last ran
        self.fed = False  # the tracker took this frame's objects (the engine called `steady`)
        self._occupancy: dict | None = None  # the last published
        self._held = 0  # changed captions held in a row (`hold`)
        self._camera_lost = False  # the tracks were ended for a lost camera (`lost`)
        # the tracker has to look at the next frame even if the gate sees no change: the camera is
        # back from being lost, its tracks forgotten, and its picture may be the one before
        self._look_again = False

    # -- the loop's questions -------------------------------------------------------------------------
    def wants_sample(self, now: float) -> bool:
        """Whether this frame is to be captioned though the gate sees no change: something is
        tracked (or the camera is back from being lost) and `track_interval_s` has passed."""
        return (self.enabled and (self.tracker.active or self._look_again)
                and now - self._sampled_at >= self.config.events.track_interval_s)

    def sampled(self, now: float) -> None:
        """The model is about to run on a frame taken at `now`."""
        self._sampled_at, self._look_again, self.fed = now, False, False

    def hold(self, outcome: Outcome, now: float) -> bool:
        """Whether a changed caption waits for the tracker: in this frame it saw something it has
        not confirmed yet (a new object, or a ghost), so the steady state may be about to change,
        and may be understating the frame ("no one" with a person just arriving). It waits at most
        until such an object could be confirmed (`present_window_frames`); a heartbeat or
        caption_now is never held."""
        unsettled = self.enabled and any(not t.confirmed and t.last_seen == now
                                         for t in self.tracker.every)
        if (unsettled and outcome in (Outcome.CHANGED, Outcome.WITHHELD)
                and self._held < self.config.events.present_window_frames - 1):
            self._held += 1
            return True
        self._held = 0
        return False

    # -- what happens -----------------------------------------------------------------------------------
    def lost(self) -> None:
        """The camera is lost (no frame for `stall_timeout_s`, or being reopened): what it shows is
        not known. Its open events end (marked `camera_lost`), its tracks are forgotten and its
        occupancy is all zeros (Home Assistant shows it unavailable while the camera is lost);
        what it shows when it is back was there before, as at start. Once per loss."""
        if not self.enabled or self._camera_lost:
            return
        self._camera_lost = self._look_again = True
        for happened in self.machine.camera_lost(self.tracker.tracks):
            self.publish_event(happened)
        self.tracker = Tracker(self.tracker.settings)
        self._publish_occupancy(occupancy([], 0))

    def frame_arrived(self) -> None:
        """A frame came: the camera is not (or no longer) lost."""
        self._camera_lost = False

    def steady_hook(self, frame: Frame, now: float) -> Callable:
        """The engine's `steady`: the frame's objects in, the steady objects and place out."""
        def steady(objects: list, under: list = ()) -> tuple[list, str | None]:
            self.track(objects, frame, now, under)
            tracks = self.tracker.steady
            furniture = [o for o in objects if o.kind in SPOTS]
            return ([_with_posture(t.stated.source, t.posture) for t in tracks] + furniture,
                    place_for(self.zones, [t.box for t in tracks], self.config.place))
        return steady

    def track(self, objects: list, frame: Frame, now: float, under: list = ()) -> None:
        """One frame's objects (over their thresholds: furniture too) into the tracker; `under`:
        its objects under their thresholds, which may only keep a confirmed track alive."""
        furniture = [o for o in objects if o.kind in SPOTS]
        seen = [Observation(o.kind, tuple(o.box), float(o.score), o.posture,
                            spot_of(o, furniture) if o.posture in ("sitting", "lying") else None, o)
                for o in objects if o.kind is not None and o.kind not in SPOTS]
        weak = [Observation(o.kind, tuple(o.box), float(o.score))
                for o in under if o.kind is not None and o.kind not in SPOTS]
        self.tracker.update(seen, now, frame.image, weak)
        self.fed = True

    def after_caption(self, frame: Frame, result: EngineCaption, now: float) -> None:
        """The events and the occupancy once the frame is captioned."""
        if not self.fed:
            objects = getattr(result.findings, "objects", None)
            if objects is None:
                return  # an engine without findings: nothing to track
            # a bundle whose caption does not read facts: tracked for the events only
            self.track(list(objects), frame, now)
        for happened in self.machine.step(self.tracker.tracks, self.tracker.dropped, now,
                                          frame.wall, self.tracker.every):
            self.publish_event(happened)
        self._publish_occupancy(occupancy(self.tracker.steady, self.machine.falls))

    def publish_event(self, happened: Happened) -> None:
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

    def _publish_occupancy(self, present: dict) -> None:
        if present != self._occupancy:
            self.sink.publish_occupancy(self.name, present)
            self._occupancy = present
