"""What happened on a camera, from its steady tracks: the `Event`s and the pure state machine that
makes them. Time is given (monotonic `now` and the frame's wall clock); nothing here reads one.

The rules (docs/events.md has the reasons and what each does against false alarms):

* **arrived / left** (people, vehicles, animals): a confirmed track seen over `passing_s`
  starts an `arrived` event (its start is when it was first seen); its end message is sent when
  the track is gone (absent `absent_after_s`), with the dwell time. A track gone before
  `passing_s` is no arrival: a person whose feet moved at least PASS_TRAVEL of the frame is a
  **passed_by** (one message); anything else that brief is not reported. What is in the
  camera's first frame was there before: neither its arrival nor its leaving is reported.
* a **visit** is a time with at least one confirmed person. When its last person is gone:
  **box_left** for each box first seen during the visit (or in the `absent_after_s` after its
  last person was last seen) that is still seen (and, on a camera with zones, in a zone);
  **box_taken** for each box present at least `box_after_s` before the visit that vanished
  during it. A box that vanishes and comes back at the same place (a person stood in front of
  it) is neither. Both are sent before the visit's `left` messages.
* **possible_fall**: a person seen lying (pose model), not on a sofa or bed, continuously for
  `fall_after_s` (a standing or sitting posture resets it; a frame with no posture neither resets
  nor extends it, and the person must be seen lying in the frame that fires it). Ends when they
  are seen standing or sitting, or are gone.
* **lingering** (cameras with zones): a person whose feet stay in one zone for
  `linger_after_s`; ends when they leave the zone or are gone.

Events with a duration (arrived, possible_fall, lingering) send a `start` message when they begin
and an `end` message (same id) when they end; passed_by, box_left and box_taken are known only
once they are over and send one `end` message holding both times.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..mqtt.discovery import END_NAMES
from ..scene.event_words import sentence
from ..scene.facts import ANIMALS, VEHICLES, place_key
from .matching import iou
from .tracks import Track
from .zones import Zone, place_for, zone_at

ARRIVING = ("person", *VEHICLES, *ANIMALS)
PASS_TRAVEL = 0.25  # a passer-by's feet move at least this (frame fractions) while in view
REAPPEARED_IOU = 0.3  # a box back at the place of one that vanished is the same box
# An arrival (and a passer-by) is announced only for a track the detector was this sure of at
# least once: a borderline detection flickering in a still crowd or a row of parked cars is in the
# caption's steady counts, but it did not arrive (docs/events.md, still scenes)
SURE_SCORE = 0.65
PHASES = ("start", "end")
INSTANT = ("passed_by", "box_left", "box_taken")  # one `end` message, with both times


@dataclass(frozen=True)
class EventObject:
    kind: str
    track: int  # the tracker's id, per camera and run


@dataclass(frozen=True)
class Event:
    """One event message (docs/contract.md "Events"); `payload()` is its MQTT JSON."""

    id: str
    type: str  # arrived, passed_by, box_left, box_taken, possible_fall, lingering
    phase: str  # start | end
    camera: str
    zone: str | None
    start: datetime
    end: datetime | None  # None in a start message
    objects: tuple[EventObject, ...]
    sentence: str
    language: str
    model: str
    snapshot: bool = False  # a JPEG went to `<base>/<camera>/event/snapshot` (retained) with it
    camera_lost: bool = False  # an end that came because the camera was lost, not the object

    @property
    def duration_s(self) -> float | None:
        return None if self.end is None else (self.end - self.start).total_seconds()

    @property
    def name(self) -> str:
        """The name Home Assistant's event entity gives this message (EVENT_TYPES)."""
        if self.camera_lost:
            return "camera_lost"
        return END_NAMES.get(self.type, self.type) if self.phase == "end" and \
            self.type not in INSTANT else self.type

    def payload(self) -> dict:
        """The MQTT JSON payload: this key order and rounding are the wire format."""
        def stamp(t: datetime | None) -> str | None:
            return None if t is None else t.astimezone(UTC).isoformat(timespec="milliseconds")

        duration = self.duration_s
        return {
            "id": self.id, "type": self.type, "phase": self.phase, "camera": self.camera,
            "zone": self.zone, "start": stamp(self.start), "end": stamp(self.end),
            "duration_s": None if duration is None else round(duration, 1),
            "objects": [{"kind": o.kind, "track": o.track} for o in self.objects],
            "snapshot": self.snapshot, "camera_lost": self.camera_lost,
            "sentence": self.sentence, "language": self.language,
            "model": self.model,
        }


@dataclass(frozen=True)
class EventSettings:
    passing_s: float = 5.0
    absent_after_s: float = 5.0
    fall_after_s: float = 30.0
    linger_after_s: float = 60.0
    box_after_s: float = 10.0


@dataclass(frozen=True)
class Happened:
    """An event message to send, with the frame for its snapshot (None: no snapshot)."""

    event: Event
    frame: Any = None


@dataclass
class _Open:
    id: str
    type: str
    start: float  # monotonic
    zone: str | None
    place: str | None


@dataclass
class _Visit:
    start: float  # the first person's first sighting
    people_last_seen: float
    boxes_before: dict[int, Track] = field(default_factory=dict)  # present when it began


def _new_id() -> str:
    return uuid.uuid4().hex


class EventMachine:
    """The events of one camera. `step` once per frame the tracker took, with its result."""

    def __init__(self, camera: str, language: str, model: str, settings: EventSettings,
                 zones: Sequence[Zone] = (), place: str | None = None,
                 new_id: Callable[[], str] = _new_id):
        self.camera, self.language, self.model = camera, language, model
        self.settings = settings
        self.zones = tuple(zones)
        self.place = place  # the camera's configured place (zones.place_for)
        self.new_id = new_id
        self._arrivals: dict[int, _Open] = {}
        self._falls: dict[int, _Open] = {}
        self._lingers: dict[int, _Open] = {}
        self._in_zone: dict[int, tuple[str | None, float]] = {}
        self._visit: _Visit | None = None
        self._vanished: list[Track] = []  # boxes of the visit's boxes_before that were dropped
        self._wall0: tuple[float, datetime] | None = None
        self._first: float | None = None  # the camera's first frame

    @property
    def falls(self) -> int:
        """Possible falls open now (Home Assistant's possible-fall sensor)."""
        return len(self._falls)

    def step(self, tracks: Sequence[Track], dropped: Sequence[Track], now: float, wall: datetime,
             seen: Sequence[Track] = ()) -> list[Happened]:
        """tracks: the confirmed tracks after this frame; dropped: those this frame ended; seen:
        every track, tentative ones included (a vanished box coming back)."""
        self._wall0 = (now, wall)
        if self._first is None:
            self._first = now
        out: list[Happened] = []
        s = self.settings
        people = [t for t in tracks if t.kind == "person"]
        # a visit begins with its first confirmed person
        if people and self._visit is None:
            self._visit = _Visit(min(t.first_seen for t in people), max(t.last_seen for t in people),
                                 {t.id: t for t in tracks if t.kind == "box"})
        if self._visit is not None and people:
            self._visit.people_last_seen = max([self._visit.people_last_seen,
                                                *(t.last_seen for t in people)])
        for track in dropped:
            if self._visit is not None and track.kind == "box" and track.id in self._visit.boxes_before:
                self._vanished.append(track)
        # the visit is over when its last person is gone: its boxes first, then who left
        visit_over = self._visit is not None and not people
        if visit_over:
            out += self._boxes(tracks, seen, now)
        for track in dropped:
            out += self._ended(track, now)
        if visit_over:
            self._visit, self._vanished = None, []
        for track in tracks:
            out += self._ongoing(track, now, s)
        return out

    # -- per track ---------------------------------------------------------------------------------
    def _ongoing(self, track: Track, now: float, s: EventSettings) -> list[Happened]:
        out = []
        # seen (not coasting) for passing_s: a passer-by gone from view is not an arrival
        if (track.kind in ARRIVING and track.id not in self._arrivals
                and not self._there_before(track) and track.best_score >= SURE_SCORE
                and track.last_seen - track.first_seen >= s.passing_s):
            opened = self._open(track, "arrived", track.first_seen)
            self._arrivals[track.id] = opened
            out.append(self._message(opened, "start", track, now))
        if track.kind != "person":
            return out
        fall = self._falls.get(track.id)
        lying = track.lying_since
        if fall is None and lying is not None and track.last_seen == now \
                and now - lying >= s.fall_after_s:
            opened = self._falls[track.id] = self._open(track, "possible_fall", lying)
            out.append(self._message(opened, "start", track, now, duration=now - lying))
        elif fall is not None and lying is None:
            del self._falls[track.id]
            out.append(self._message(fall, "end", track, now))
        if self.zones:
            out += self._linger(track, now, s)
        return out

    def _linger(self, track: Track, now: float, s: EventSettings) -> list[Happened]:
        out = []
        zone = zone_at(self.zones, track.box)
        first = zone_at(self.zones, (*track.first_anchor, *track.first_anchor))
        # a new track: in its zone since first seen there (before it was confirmed)
        was, since = self._in_zone.get(track.id, (first, track.first_seen))
        if zone != was:
            since = now
            opened = self._lingers.pop(track.id, None)
            if opened is not None:
                out.append(self._message(opened, "end", track, now))
        self._in_zone[track.id] = (zone, since)
        if zone is not None and track.id not in self._lingers and now - since >= s.linger_after_s:
            opened = self._lingers[track.id] = _Open(self.new_id(), "lingering", since, zone,
                                                     place_for(self.zones, [track.box], self.place))
            out.append(self._message(opened, "start", track, now, duration=now - since))
        return out

    def _ended(self, track: Track, now: float) -> list[Happened]:
        """A confirmed track is gone: the ends of its open events, or that it passed by."""
        out = []
        self._in_zone.pop(track.id, None)
        for book in (self._lingers, self._falls):
            opened = book.pop(track.id, None)
            if opened is not None:
                out.append(self._message(opened, "end", track, track.last_seen, gone=True))
        arrival = self._arrivals.pop(track.id, None)
        if arrival is not None:
            out.append(self._message(arrival, "end", track, track.last_seen))
        elif (track.kind == "person" and track.travel >= PASS_TRAVEL and not self._there_before(track)
              and track.best_score >= SURE_SCORE):
            opened = self._open(track, "passed_by", track.first_seen)
            out.append(self._message(opened, "end", track, track.last_seen))
        return out

    def _there_before(self, track: Track) -> bool:
        """In the camera's first frame: it was there before the daemon looked (a restart must
        not announce that the parked car arrived), so neither its arrival nor its leaving is
        known. Likewise a track the detector saw unsure at its place before it was sure of it
        (tracks.Track.seen_unsure_before): it was there, the detector only became sure of it."""
        return (self._first is not None and track.first_seen <= self._first) or \
            track.seen_unsure_before

    def camera_lost(self, tracks: Sequence[Track]) -> list[Happened]:
        """The camera is lost: what it shows is not known any more. Every open event of these
        (the confirmed) tracks ends at its object's last sighting, marked `camera_lost` (nobody is
        said to have left or got up); nothing else is inferred (no passer-by, no box left or
        taken). What the camera shows when it is back was there before, as at start."""
        out = []
        for track in tracks:
            for book in (self._lingers, self._falls, self._arrivals):
                opened = book.pop(track.id, None)
                if opened is not None:
                    out.append(self._message(opened, "end", track, track.last_seen, lost=True))
        self._in_zone.clear()
        self._visit, self._vanished, self._first = None, [], None
        return out

    # -- boxes at the end of a visit ---------------------------------------------------------------
    def _boxes(self, tracks: Sequence[Track], seen: Sequence[Track], now: float) -> list[Happened]:
        visit = self._visit
        assert visit is not None
        out = []
        boxes = [t for t in tracks if t.kind == "box"]
        back = [t for t in (*boxes, *(t for t in seen if t.kind == "box"))]
        for gone in self._vanished:
            if gone.last_seen < visit.start or gone.present_for(gone.last_seen) < \
                    self.settings.box_after_s:
                continue
            if any(iou(gone.box, t.box) >= REAPPEARED_IOU for t in back):
                continue  # it was only hidden
            opened = self._open(gone, "box_taken", gone.last_seen)
            out.append(self._message(opened, "end", gone, gone.last_seen))
        for box in boxes:
            if box.id in visit.boxes_before or box.first_seen < visit.start:
                continue
            if box.last_seen < visit.people_last_seen:
                continue  # not seen since the person went: it may have gone with them
            if any(iou(box.box, g.box) >= REAPPEARED_IOU for g in self._vanished):
                continue  # a box that was there before, seen again
            if self.zones and zone_at(self.zones, box.box) is None:
                continue
            opened = self._open(box, "box_left", box.first_seen)
            out.append(self._message(opened, "end", box, now))
        return out

    # -- messages ----------------------------------------------------------------------------------
    def _open(self, track: Track, event_type: str, start: float) -> _Open:
        zone = zone_at(self.zones, track.box) if self.zones else None
        return _Open(self.new_id(), event_type, start, zone,
                     place_for(self.zones, [track.box], self.place))

    def _wall(self, t: float) -> datetime:
        assert self._wall0 is not None
        now, wall = self._wall0
        return wall - timedelta(seconds=now - t)

    def _message(self, opened: _Open, phase: str, track: Track, at: float, *,
                 duration: float | None = None, gone: bool = False, lost: bool = False) -> Happened:
        took = duration if duration is not None else at - opened.start
        place = None if opened.place is None else place_key(opened.place)
        text = sentence(opened.type, phase, track.kind, place, took, self.language,
                        gone=gone, lost=lost)
        frame = track.best_frame
        end = self._wall(at) if phase == "end" else None
        event = Event(opened.id, opened.type, phase, self.camera, opened.zone,
                      self._wall(opened.start), end, (EventObject(track.kind, track.id),), text,
                      self.language, self.model, snapshot=frame is not None, camera_lost=lost)
        return Happened(event, frame)


def occupancy(tracks: Sequence[Track], falls: int) -> dict:
    """The camera's `occupancy` payload (retained): how many of each group are present now."""
    count = {"person": 0, "vehicle": 0, "animal": 0, "box": 0}
    for t in tracks:
        group = ("person" if t.kind == "person" else "vehicle" if t.kind in VEHICLES
                 else "animal" if t.kind in ANIMALS else "box" if t.kind == "box" else None)
        if group is not None:
            count[group] += 1
    return {**count, "possible_fall": falls > 0}
