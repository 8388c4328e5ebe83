"""One camera's objects followed across frames, with hysteresis: the steady state. Pure.

Each captioned frame's objects (over their kind's threshold) are matched to the camera's tracks of
the same kind (or one the detector confuses it with: MATCH_GROUP), greedily by IoU, then by centre
distance for the ones left (at one frame a second a walking person's boxes may not overlap).
Greedy, not Hungarian: a doorstep has a handful of objects, where greedy and optimal agree but for
ties, and the Hungarian solver would be scipy, which is not a device dependency (a Pi wheel of it
is 30 MB for one function).

Hysteresis, so that one frame's flicker is neither a caption change nor an event:

* a new track is *tentative*; it is *confirmed* (present) once matched in `present_after` of its
  first `present_window` frames, and dropped unconfirmed otherwise;
* a confirmed track that is not matched coasts: it stays present, with its last box and posture,
  until it has been missing for `absent_after_s` seconds;
* a detection under its kind's threshold (but at least `keep_score`) may keep a confirmed track
  alive, for at most `keep_for_s` after its last sure detection: matched second, after the sure
  ones, by overlap only (ByteTrack's second association). It never creates, confirms or re-kinds
  a track, nor is it what a caption states of it;
* a new track at a place where such unsure detections were in more than `unsure_share` of the
  frames of the `unsure_before_s` before it is `seen_unsure_before`: it did not come, the detector
  only became sure of it (a still crowd's borderline member); the events do not announce its
  arrival.

The steady state is the confirmed tracks: the caption and the `found` payload state them, not the
frame's raw detections. Time is given (`now`, monotonic seconds): nothing here reads a clock.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..scene.facts import CONFUSED_ANIMALS, CONFUSED_VEHICLES
from .matching import MAX_JUMP, greedy_match, iou
from .zones import Box, Point, anchor

POSTURE_AFTER = 2  # a person's steady posture changes once a new one is seen this many times in a row
# Kinds the detector confuses for one object (scene/facts.py): matched together, and the track is
# the kind it was seen as most often
MATCH_GROUP = {**dict.fromkeys(CONFUSED_VEHICLES, "vehicle"),
               **dict.fromkeys(CONFUSED_ANIMALS, "animal")}
# two boxes of one frame, of kinds the detector confuses, overlapping this much are one object seen
# as both (the detector's NMS is per class: a van is often a car AND a truck in one frame)
SAME_OBJECT_IOU = 0.7
# a detection under its kind's threshold keeps alive a confirmed track it overlaps this much: by
# overlap only, and more than matching.MIN_IOU (a borderline detection between two people of a crowd must
# not keep the wrong one)
KEEP_IOU = 0.5


@dataclass(frozen=True)
class Observation:
    """One detection as the tracker takes it."""

    kind: str
    box: Box  # x1, y1, x2, y2, fractions of the frame
    score: float
    posture: str | None = None  # a person's: standing, sitting, lying, or None (not known)
    spot: str | None = None  # the furniture a sitting or lying person is on (sofa, bed, chair)
    source: Any = None  # what it came from (a perception `Found`): the caption's facts reuse it


@dataclass
class Track:
    id: int
    kind: str
    last: Observation
    first_seen: float
    last_seen: float
    hits: list[bool] = field(default_factory=list)  # matched or not, frame by frame since born
    confirmed_at: float | None = None
    first_anchor: Point = (0.0, 0.0)
    travel: float = 0.0  # the farthest its anchor got from where it was first seen (frame fractions)
    best_score: float = 0.0
    best_frame: Any = None  # the frame of its best-scored detection (the event's snapshot)
    lying_since: float | None = None  # lying, not on a sofa or bed, since (see `observe_posture`)
    missed: int = 0  # frames in a row it was not matched in
    kept_at: float = -math.inf  # when a detection under the threshold last kept it alive
    # unsure detections were at its place before it was first seen surely (TrackSettings)
    seen_unsure_before: bool = False
    seen_as: dict[str, int] = field(default_factory=dict)  # kind -> times (MATCH_GROUP)
    last_as: dict[str, Observation] = field(default_factory=dict)  # kind -> its latest observation
    posture: str | None = None  # the steady posture: the caption's (see `steady_posture`)
    posture_next: tuple[str | None, int] = (None, 0)  # a new posture seen, and how many times

    @property
    def confirmed(self) -> bool:
        return self.confirmed_at is not None

    @property
    def group(self) -> str:
        return MATCH_GROUP.get(self.kind, self.kind)

    @property
    def stated(self) -> Observation:
        """Its latest observation as its own kind (what a caption states of it)."""
        return self.last_as.get(self.kind, self.last)

    @property
    def box(self) -> Box:
        return self.last.box

    def present_for(self, now: float) -> float:
        return now - self.first_seen

    @property
    def located(self) -> float:
        """When it was last found, by a sure detection or by one that only kept it alive."""
        return max(self.last_seen, self.kept_at)


@dataclass(frozen=True)
class TrackSettings:
    present_after: int = 2  # k: matched in k ...
    present_window: int = 3  # ... of its first n frames: present
    absent_after_s: float = 5.0  # missing this long: gone
    # A detection under its kind's threshold scoring at least this keeps a confirmed track it
    # overlaps by KEEP_IOU alive (None: never). The detector's own floor (0.2 in the shipped
    # bundles): chosen on 6 real still scenes, where it cut caption changes from 22 to 7 in six
    # minutes (0.3: 10; docs/events.md)
    keep_score: float | None = 0.2
    # ... but not for longer than this since the detector was last sure of it (None: forever): a
    # person who left may leave behind something scored as a person under the threshold (a coat
    # on a chair), and a track kept by that alone would say them present for ever
    keep_for_s: float | None = 60.0
    # A new track is `seen_unsure_before` when such detections were at its place in more than
    # unsure_share of the frames of the last unsure_before_s seconds (0: never); chosen on the
    # same scenes, where it left no false arrival of 4 (5 s and more than half of them: 1)
    unsure_before_s: float = 10.0
    unsure_share: float = 0.25


class Tracker:
    """The tracks of one camera. `update` once per captioned frame; `tracks` is the steady state."""

    def __init__(self, settings: TrackSettings = TrackSettings()):
        if not 1 <= settings.present_after <= settings.present_window:
            raise ValueError("present_after must be 1..present_window")
        self.settings = settings
        self._tracks: list[Track] = []
        self._next_id = 1
        self.dropped: list[Track] = []  # the confirmed tracks the last update ended
        self._recent: deque[tuple[float, dict[str, int]]] = deque()  # per frame: count per kind
        self._unsure: deque[tuple[float, list[Observation]]] = deque()  # per frame: unsure ones

    @property
    def tracks(self) -> list[Track]:
        """The confirmed tracks (the steady state), oldest first."""
        return [t for t in self._tracks if t.confirmed]

    @property
    def every(self) -> list[Track]:
        """Every track, tentative ones included."""
        return list(self._tracks)

    @property
    def active(self) -> bool:
        """Anything tracked, tentative or confirmed: the camera is sampled at the track rate."""
        return bool(self._tracks)

    def update(self, seen: Sequence[Observation], now: float, frame: Any = None,
               weak: Sequence[Observation] = ()) -> list[Track]:
        """Take one frame's observations at `now`; returns the confirmed tracks. `frame` is kept
        by reference with a track whose best detection it holds (for the event's snapshot).
        weak: the frame's detections under their kind's threshold, which may only keep a
        confirmed track alive (`TrackSettings.keep_score`)."""
        s = self.settings
        seen = one_per_object(seen)
        matched: set[int] = set()
        taken: set[int] = set()
        for group in sorted({_group(o.kind) for o in seen} | {t.group for t in self._tracks}):
            t_idx = [i for i, t in enumerate(self._tracks) if t.group == group]
            f_idx = [j for j, o in enumerate(seen) if _group(o.kind) == group]
            if not t_idx or not f_idx:
                continue
            boxes_t = [self._tracks[i].box for i in t_idx]
            boxes_f = [seen[j].box for j in f_idx]
            # an object missed for a few frames may have moved farther: reach grows with them
            reach = [MAX_JUMP * (1 + self._tracks[i].missed) for i in t_idx]
            for ti, fj in greedy_match(boxes_t, boxes_f, reach):
                track, obs = self._tracks[t_idx[ti]], seen[f_idx[fj]]
                self._hit(track, obs, now, frame)
                matched.add(t_idx[ti])
                taken.add(f_idx[fj])
        kept_alive = self._keep_alive(weak, seen, matched, now)
        for i, track in enumerate(self._tracks):
            if i in matched or i in kept_alive:
                continue
            track.missed += 1
            if not track.confirmed:  # after that only last_seen counts
                track.hits.append(False)
        for j, obs in enumerate(seen):
            if j not in taken:
                track = Track(self._next_id, obs.kind, obs, now, now, [],
                              first_anchor=anchor(obs.box),
                              seen_unsure_before=self._was_unsure_at(obs, now))
                self._next_id += 1
                self._hit(track, obs, now, frame)
                self._tracks.append(track)
        kept, self.dropped = [], []
        for track in self._tracks:
            if track.confirmed:
                if now - track.located >= s.absent_after_s or (
                        s.keep_for_s is not None and now - track.last_seen >= s.keep_for_s):
                    self.dropped.append(track)
                    continue
            elif sum(track.hits[: s.present_window]) >= s.present_after:
                track.confirmed_at = now
            elif len(track.hits) >= s.present_window:
                continue  # a flicker: never present
            kept.append(track)
        self._tracks = kept
        # a track kept alive is one of the objects this frame showed (for the cap of `steady`),
        # though not surely: it may keep a count, never raise it, being confirmed already
        self._recent.append((now, _counts([*seen, *kept_alive.values()])))
        while self._recent and now - self._recent[0][0] >= s.absent_after_s:
            self._recent.popleft()
        if s.keep_score is not None and s.unsure_before_s > 0:
            self._unsure.append((now, [o for o in weak if o.score >= s.keep_score]))
            while self._unsure and now - self._unsure[0][0] > s.unsure_before_s:
                self._unsure.popleft()
        return self.tracks

    @property
    def steady(self) -> list[Track]:
        """The present tracks a caption states: per kind (MATCH_GROUP) at most as many as one frame
        showed in the last `absent_after_s` (those found last first). An object that jumped farther
        than the matcher reaches leaves a coasting track behind its new one; without this cap the
        caption would count it twice until the old one is gone."""
        most: dict[str, int] = {}
        for _t, counts in self._recent:
            for kind, n in counts.items():
                most[kind] = max(most.get(kind, 0), n)
        shown: dict[str, int] = {}
        out = []
        for track in sorted(self.tracks, key=lambda t: -t.located):
            if shown.get(track.group, 0) < most.get(track.group, 0):
                shown[track.group] = shown.get(track.group, 0) + 1
                out.append(track)
        return sorted(out, key=lambda t: t.id)

    def _was_unsure_at(self, obs: Observation, now: float) -> bool:
        """Whether unsure detections (under the threshold) were at this new object's place in
        more than `unsure_share` of the frames of the last `unsure_before_s`."""
        frames = [found for t, found in self._unsure if t < now]
        hits = sum(1 for found in frames if any(
            _group(o.kind) == _group(obs.kind) and iou(o.box, obs.box) >= KEEP_IOU for o in found))
        return bool(frames) and hits > self.settings.unsure_share * len(frames)

    def _keep_alive(self, weak: Sequence[Observation], seen: Sequence[Observation],
                    matched: set[int], now: float) -> dict[int, Observation]:
        """ByteTrack's second association: the confirmed tracks this frame's sure detections left
        unmatched, matched by overlap (KEEP_IOU) to its detections under their threshold (at least
        `keep_score`, and not a second label of a sure one). Such a track is found (not missing)
        but keeps its last sure observation: index -> the detection that kept it."""
        floor = self.settings.keep_score
        if floor is None or not weak:
            return {}
        weak = [o for o in weak if o.score >= floor and not any(
            _group(o.kind) == _group(k.kind) and iou(o.box, k.box) >= SAME_OBJECT_IOU for k in seen)]
        out: dict[int, Observation] = {}
        for group in {_group(o.kind) for o in weak}:
            t_idx = [i for i, t in enumerate(self._tracks)
                     if t.confirmed and i not in matched and t.group == group]
            f_idx = [j for j, o in enumerate(weak) if _group(o.kind) == group]
            pairs = greedy_match([self._tracks[i].box for i in t_idx], [weak[j].box for j in f_idx],
                                 [-1.0] * len(t_idx), KEEP_IOU)
            for ti, fj in pairs:
                self._tracks[t_idx[ti]].kept_at = now
                self._tracks[t_idx[ti]].missed = 0
                out[t_idx[ti]] = weak[f_idx[fj]]
        return out

    @staticmethod
    def _hit(track: Track, obs: Observation, now: float, frame: Any) -> None:
        track.last, track.last_seen, track.missed = obs, now, 0
        track.seen_as[obs.kind] = track.seen_as.get(obs.kind, 0) + 1
        track.last_as[obs.kind] = obs
        if track.seen_as[obs.kind] > track.seen_as.get(track.kind, 0):
            track.kind = obs.kind  # ties keep the kind it had
        if not track.confirmed:
            track.hits.append(True)
        a = anchor(obs.box)
        track.travel = max(track.travel, math.hypot(a[0] - track.first_anchor[0],
                                                    a[1] - track.first_anchor[1]))
        if obs.score > track.best_score:
            track.best_score, track.best_frame = obs.score, frame
        observe_posture(track, obs, now)
        steady_posture(track, obs)


def steady_posture(track: Track, obs: Observation) -> None:
    """A person's posture as the caption states it: the first one seen, then a new one once seen
    POSTURE_AFTER times in a row (a frame without a posture does not count either way). The pose
    model's posture of a moving person flickers between frames: this keeps the caption still."""
    if obs.posture is None:
        return
    if track.posture is None or obs.posture == track.posture:
        track.posture, track.posture_next = obs.posture, (None, 0)
        return
    seen, times = track.posture_next
    times = times + 1 if seen == obs.posture else 1
    if times >= POSTURE_AFTER:
        track.posture, track.posture_next = obs.posture, (None, 0)
    else:
        track.posture_next = (obs.posture, times)


def one_per_object(seen: Sequence[Observation]) -> list[Observation]:
    """The frame's observations without the second label of an object (SAME_OBJECT_IOU): of two
    overlapping boxes of kinds the detector confuses, the better scored one."""
    kept: list[Observation] = []
    for obs in sorted(seen, key=lambda o: -o.score):
        if obs.kind in MATCH_GROUP and any(
                o.kind != obs.kind and _group(o.kind) == _group(obs.kind)
                and iou(o.box, obs.box) >= SAME_OBJECT_IOU for o in kept):
            continue
        kept.append(obs)
    return [o for o in seen if any(o is k for k in kept)]


def _group(kind: str) -> str:
    return MATCH_GROUP.get(kind, kind)


def _counts(seen: Sequence[Observation]) -> dict[str, int]:
    """How many of each kind (MATCH_GROUP) one frame holds."""
    counts: dict[str, int] = {}
    for o in seen:
        counts[_group(o.kind)] = counts.get(_group(o.kind), 0) + 1
    return counts


def observe_posture(track: Track, obs: Observation, now: float) -> None:
    """Since when a person has been lying and not on a sofa or bed. Standing or sitting (sitting on
    the floor included) ends it; lying on furniture ends it; a frame whose posture the pose model
    could not tell (None) leaves it as it was: it neither starts nor ends a fall."""
    if obs.kind != "person" or obs.posture is None:
        return
    if obs.posture == "lying" and obs.spot not in ("sofa", "bed"):
        if track.lying_since is None:
            track.lying_since = now
    else:
        track.lying_since = None
