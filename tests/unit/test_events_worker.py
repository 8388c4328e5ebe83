"""Events through the real `CameraWorker` (the real gate, tracker, event machine and canonical
sentences), with a scripted camera whose frames draw the scripted objects, an engine that finds
exactly those objects (and, like a facts bundle's `Captioner`, captions the steady state it is
given), a recording sink and a fake clock. Each scenario's event messages are spelled out."""

from __future__ import annotations

import dataclasses
import itertools
from collections import deque
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np
import pytest

from edge_captioner.config import CameraConfig
from edge_captioner.config.schema import EventsConfig
from edge_captioner.model.perception import Findings, Found
from edge_captioner.scene.from_findings import facts_of
from edge_captioner.scene.phrase import canonical
from edge_captioner.service.worker import CameraWorker
from edge_captioner.sources.frames import Frame

WALL0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DOOR_ZONE = {"front_door": ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0), (0.0, 1.0))}
PERSON = Found("person", 0.9, (0.40, 0.30, 0.60, 0.90), "person", "standing")
BOX = Found("box", 0.8, (0.45, 0.80, 0.55, 0.95), "box")


def stamp(t: float) -> str:
    return (WALL0 + timedelta(seconds=t)).isoformat(timespec="milliseconds")


def draw(objects: tuple[Found, ...]) -> np.ndarray:
    """A 160x120 frame with a bright block per object: what the gate sees change."""
    image = np.full((120, 160, 3), 40, np.uint8)
    for i, o in enumerate(objects):
        x1, y1, x2, y2 = (int(o.box[0] * 160), int(o.box[1] * 120), int(o.box[2] * 160),
                          int(o.box[3] * 120))
        image[y1:y2, x1:x2] = 120 + 60 * i
    return image


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class ScriptedCamera:
    state = "streaming"
    last_progress = 0.0

    def __init__(self, clock: Clock) -> None:
        self.clock, self.frames, self.seq = clock, deque(), 0
        self.found: dict[int, tuple[Found, ...]] = {}  # id(image) -> what is in it

    def push(self, t: float, objects: tuple[Found, ...]) -> None:
        self.seq += 1
        image = draw(objects)
        self.found[id(image)] = objects
        self.frames.append(Frame(image, self.seq, t, WALL0 + timedelta(seconds=t)))

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None:
        if not self.frames:
            return None
        frame = self.frames.popleft()
        self.clock.now = frame.monotonic
        return frame


@dataclasses.dataclass(frozen=True)
class Caption:
    text: str
    confidence: float
    findings: Findings
    latency_ms: float = 10.0
    truncated: bool = False


class FindingEngine:
    """Finds what the frame was drawn from; captions the steady state when given `steady`, as
    `Captioner.caption` does for a facts bundle: the objects over `threshold` (all, by default) are
    the frame's objects, the others go to `steady` as under the threshold."""

    language, model_name = "en", "scripted-en"

    def __init__(self, camera: ScriptedCamera) -> None:
        self.camera = camera
        self.runs = 0
        self.threshold = 0.0

    def caption(self, image, place=None, *, steady=None, regions=()) -> Caption:
        self.runs += 1
        self.regions = regions
        objects = list(self.camera.found[id(image)])
        stated = [o for o in objects if o.score >= self.threshold]
        if steady is not None:
            stated, place = steady(stated, [o for o in objects if o.score < self.threshold])
        key = place.replace(" ", "_") if place else None
        facts = facts_of(stated, place=key, thresholds={}, default=self.threshold)
        return Caption(canonical(facts, "en"), 0.9, Findings(objects=objects, facts=facts))


class Sink:
    def __init__(self) -> None:
        self.captions: list[tuple[float, str]] = []
        self.events: list[dict] = []
        self.snapshots: list[bytes | None] = []
        self.occupancy: list[dict] = []

    def publish_caption(self, event, snapshot=None) -> None:
        self.captions.append((event.timestamp, event.caption))

    def publish_withheld(self, event) -> None:
        raise AssertionError("nothing is withheld here")

    def publish_state(self, camera, state) -> None:
        pass

    def publish_interval(self, camera, seconds) -> None:
        pass

    def publish_event(self, event, snapshot=None) -> None:
        self.events.append(event.payload())
        self.snapshots.append(snapshot)

    def publish_occupancy(self, camera, occupancy) -> None:
        self.occupancy.append(occupancy)


def make(zones=DOOR_ZONE, place="front door", **events):
    clock = Clock()
    camera = ScriptedCamera(clock)
    engine = FindingEngine(camera)
    sink = Sink()
    config = CameraConfig(name="porch", source="fake", interval_s=1.0, heartbeat_s=300.0,
                          place=place, zones=zones, events=EventsConfig(**events))
    worker = CameraWorker(config, camera, engine, sink, clock=clock)
    ids = itertools.count(1)
    worker.camera_events.machine.new_id = lambda: f"e{next(ids)}"
    return worker, camera, engine, sink


def play(worker, camera, script) -> None:
    """script: (first second, last second, objects): one frame a second."""
    for first, last, objects in script:
        for t in range(first, last + 1):
            camera.push(float(t), tuple(objects))
            worker.step()


def captions(sink) -> list[tuple[str, str]]:
    return [(t.isoformat(timespec="milliseconds"), text) for t, text in sink.captions]


def message(id, type, phase, start, end, kind, track, sentence, zone="front_door", snapshot=True,
            camera_lost=False):
    return {"id": id, "type": type, "phase": phase, "camera": "porch", "zone": zone,
            "start": stamp(start), "end": None if end is None else stamp(end),
            "duration_s": None if end is None else float(end - start),
            "objects": [{"kind": kind, "track": track}], "snapshot": snapshot,
            "camera_lost": camera_lost, "sentence": sentence, "language": "en",
            "model": "scripted-en"}


def test_a_delivery_is_arrived_box_left_left():
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 2, []), (3, 9, [PERSON]), (10, 13, [PERSON, BOX]), (14, 20, [BOX])])
    assert sink.events == [
        message("e1", "arrived", "start", 3, None, "person", 1,
                "a person arrived at the front door"),
        message("e2", "box_left", "end", 10, 18, "box", 2, "a box was left at the front door"),
        message("e1", "arrived", "end", 3, 13, "person", 1,
                "a person left at the front door after 10 seconds"),
    ]
    assert all(s is not None and s[:2] == b"\xff\xd8" for s in sink.snapshots)  # JPEGs
    # the caption states what is steadily there: the person from their second frame until they
    # have been gone absent_after_s (5 s), the box from its second frame
    assert captions(sink) == [
        (stamp(0), "no one at the front door"),
        (stamp(4), "a person standing at the front door"),
        (stamp(11), "a person standing and a box at the front door"),
        (stamp(18), "a box at the front door"),
    ]
    assert sink.occupancy[-1] == {"person": 0, "vehicle": 0, "animal": 0, "box": 1,
                                  "possible_fall": False}
    assert worker.stats.events == 3


def test_the_box_detector_looks_closer_at_each_zone():
    """The engine is given each zone's rectangle (where a parcel would be); no zones, none."""
    worker, camera, engine, _sink = make(zones={**DOOR_ZONE, "path": ((0.2, 0.1), (0.3, 0.1),
                                                                     (0.25, 0.4))})
    play(worker, camera, [(0, 0, [])])
    assert engine.regions == ((0.0, 0.5, 1.0, 1.0), (0.2, 0.1, 0.3, 0.4))
    worker, camera, engine, _sink = make(zones=None, place="kitchen")
    play(worker, camera, [(0, 0, [])])
    assert engine.regions == ()


def test_a_pickup_is_box_taken():
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 14, [BOX]), (15, 19, [PERSON, BOX]), (20, 24, [PERSON]),
                          (25, 32, [])])
    assert sink.events == [
        message("e1", "arrived", "start", 15, None, "person", 2,
                "a person arrived at the front door"),
        message("e2", "box_taken", "end", 19, 19, "box", 1, "a box was taken at the front door"),
        message("e1", "arrived", "end", 15, 24, "person", 2,
                "a person left at the front door after 9 seconds"),
    ]
    assert captions(sink)[-1] == (stamp(29), "no one at the front door")


def test_a_box_hidden_by_a_person_for_a_while_is_not_taken():
    worker, camera, _engine, sink = make()
    # the person stands in front of the box for 8 s: the box's track ends, then it is back
    play(worker, camera, [(0, 14, [BOX]), (15, 16, [PERSON, BOX]), (17, 24, [PERSON]),
                          (25, 26, [PERSON, BOX]), (27, 40, [BOX])])
    assert [(e["type"], e["phase"]) for e in sink.events] == [("arrived", "start"),
                                                              ("arrived", "end")]


def test_a_fall_and_getting_up_again():
    lying = dataclasses.replace(PERSON, box=(0.2, 0.7, 0.8, 0.95), posture="lying")
    worker, camera, _engine, sink = make(zones=None, place="kitchen", fall_after_s=10.0)
    play(worker, camera, [(0, 0, []), (1, 5, [PERSON]), (6, 21, [lying]), (22, 26, [PERSON])])
    assert sink.events == [
        message("e1", "arrived", "start", 1, None, "person", 1, "a person arrived in the kitchen",
                zone=None),
        message("e2", "possible_fall", "start", 6, None, "person", 1,
                "a person has been lying down for 10 seconds in the kitchen", zone=None),
        message("e2", "possible_fall", "end", 6, 22, "person", 1,
                "the person got up after 16 seconds", zone=None),
    ]
    assert [(o["person"], o["possible_fall"]) for o in sink.occupancy] == [
        (0, False), (1, False), (1, True), (1, False)]


def test_what_is_there_when_the_camera_starts_did_not_arrive():
    van_as_car = Found("car", 0.6, (0.7, 0.05, 0.9, 0.3), "car")
    van_as_truck = dataclasses.replace(van_as_car, label="truck", kind="truck", score=0.55)
    worker, camera, _engine, sink = make(zones=None, place="driveway")
    # a parked van the detector calls a car, then a truck, then a car...; a person arrives later
    script = [(t, t, [van_as_car if t % 3 else van_as_truck]) for t in range(0, 12)]
    script += [(12, 20, [van_as_car, PERSON])]
    play(worker, camera, script)
    assert [(e["type"], e["phase"], e["objects"][0]["kind"]) for e in sink.events] == [
        ("arrived", "start", "person")]
    assert len(worker.camera_events.tracker.tracks) == 2  # one vehicle, one person
    assert captions(sink)[-1][1] == "a person standing and a car in the driveway"


def test_bending_down_and_sitting_on_the_floor_are_not_falls():
    lying = dataclasses.replace(PERSON, posture="lying")
    sitting = dataclasses.replace(PERSON, posture="sitting")
    unknown = dataclasses.replace(PERSON, posture=None)
    worker, camera, _engine, sink = make(zones=None, place=None, fall_after_s=10.0)
    # bending: a few lying frames between standing ones, again and again; then sitting on the
    # floor for a minute; then lying with the pose unsure now and then, but not for 10 s
    script = [(0, 0, []), (1, 2, [PERSON])]
    for start in range(3, 43, 5):
        script += [(start, start + 2, [lying]), (start + 3, start + 4, [PERSON])]
    script += [(43, 103, [sitting]), (104, 110, [lying]), (111, 112, [unknown]),
               (113, 114, [PERSON])]
    play(worker, camera, script)
    assert [e["type"] for e in sink.events] == ["arrived"]


def test_a_passer_by_is_one_passed_by_and_no_arrival():
    worker, camera, _engine, sink = make(zones=None, place=None)
    walking = [dataclasses.replace(PERSON, box=(x, 0.3, x + 0.15, 0.9))
               for x in (0.0, 0.12, 0.24, 0.36)]
    play(worker, camera, [(1, 1, [])])
    for t, person in enumerate(walking, start=2):
        play(worker, camera, [(t, t, [person])])
    play(worker, camera, [(6, 12, [])])
    assert sink.events == [message("e1", "passed_by", "end", 2, 5, "person", 1,
                                   "a person passed by", zone=None)]


def test_a_flicker_of_one_frame_is_no_event_and_no_caption_change():
    ghost = Found("person", 0.7, (0.05, 0.2, 0.2, 0.7), "person", "standing")
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 9, [BOX]), (10, 10, [BOX, ghost]), (11, 30, [BOX])])
    assert sink.events == []
    # the first frame's box is not confirmed yet: its "no one" caption waits (never published)
    assert captions(sink) == [(stamp(1), "a box at the front door")]


def test_caption_changes_on_a_flickering_still_scene_drop():
    """A still scene of two people where the detector misses one, or sees a third, now and then:
    frame by frame the caption would change 8 times in a minute; steady, once (the first)."""
    a = PERSON
    b = dataclasses.replace(PERSON, box=(0.65, 0.3, 0.85, 0.9))
    c = dataclasses.replace(PERSON, box=(0.02, 0.35, 0.18, 0.85))
    frames = [[a, b]] * 60
    for t in (7, 19, 33, 48):
        frames[t] = [a]  # one missed
    for t in (12, 41):
        frames[t] = [a, b, c]  # one seen that is not there
    raw = sum(1 for t in range(1, 60) if len(frames[t]) != len(frames[t - 1]))
    worker, camera, _engine, sink = make()
    for t, objects in enumerate(frames):
        play(worker, camera, [(t, t, objects)])
    assert raw == 12
    assert captions(sink) == [(stamp(1), "two people standing at the front door")]


def test_a_changed_caption_waits_for_what_is_new_to_be_confirmed():
    other = dataclasses.replace(PERSON, box=(0.65, 0.3, 0.85, 0.9))
    worker, camera, _engine, sink = make(absent_after_s=2.0)
    # the first person leaves as another comes: without the wait, "no one" for a frame
    play(worker, camera, [(0, 0, []), (1, 5, [PERSON]), (6, 6, []), (7, 12, [other])])
    assert [text for _t, text in captions(sink)] == [
        "no one at the front door", "a person standing at the front door"]
    assert worker.stats.skipped_unchanged >= 1
    # a ghost in every frame holds a change for present_window_frames - 1 frames at most
    worker, camera, _engine, sink = make()
    ghosts = [dataclasses.replace(PERSON, box=(0.05 + 0.3 * (t % 3), 0.1, 0.15 + 0.3 * (t % 3),
                                               0.3), score=0.6) for t in range(6)]
    for t in range(6):
        play(worker, camera, [(t, t, [BOX, ghosts[t]] if t else [ghosts[t]])])
    # frames 0 and 1 held, frame 2 published although a ghost is new again
    assert captions(sink)[0] == (stamp(2), "a box at the front door")


def test_lingering_in_a_zone():
    worker, camera, _engine, sink = make(linger_after_s=20.0)
    outside = dataclasses.replace(PERSON, box=(0.4, 0.1, 0.6, 0.45))  # feet above the zone
    play(worker, camera, [(0, 0, []), (1, 25, [PERSON]), (26, 30, [outside]), (31, 41, [])])
    assert [(e["type"], e["phase"], e["zone"], e["duration_s"]) for e in sink.events] == [
        ("arrived", "start", "front_door", None),
        ("lingering", "start", "front_door", None),
        ("lingering", "end", "front_door", 25.0),
        ("arrived", "end", "front_door", 29.0),
    ]
    assert sink.events[1]["sentence"] == "a person has been at the front door for 20 seconds"


def test_with_zones_the_place_is_not_claimed_outside_them():
    outside = dataclasses.replace(PERSON, box=(0.4, 0.1, 0.6, 0.45))
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 0, []), (1, 7, [outside]), (8, 20, [])])
    assert captions(sink)[:2] == [(stamp(0), "no one at the front door"),
                                  (stamp(2), "a person standing")]
    # the person arrived and left, but not "at the front door": they were outside every zone
    assert [(e["type"], e["zone"], e["sentence"]) for e in sink.events] == [
        ("arrived", None, "a person arrived"),
        ("arrived", None, "a person left after 6 seconds")]


def test_the_tracker_samples_an_unchanged_scene_at_the_track_rate():
    worker, camera, engine, sink = make(track_interval_s=2.0)
    play(worker, camera, [(0, 0, []), (1, 20, [PERSON])])
    # the empty frame, the person's first (a change), then the unchanged frames every 2 s while
    # the person is tracked (3, 5, ... 19)
    assert engine.runs == 1 + 1 + 9


def test_events_off_is_the_frame_caption():
    worker, camera, _engine, sink = make(enabled=False)
    play(worker, camera, [(0, 0, [BOX]), (1, 1, [BOX, PERSON]), (2, 2, [BOX])])
    assert sink.events == [] and sink.occupancy == []
    assert [text for _t, text in captions(sink)] == [
        "a box at the front door", "a person standing and a box at the front door",
        "a box at the front door"]


@pytest.mark.parametrize("source, pooled, tracking", [
    ("frigate:porch", False, False), ("mqtt:cams/porch", True, False),
    ("mqtt:cams/porch", False, True), ("sample", True, True)])
def test_one_owner_per_camera(source, pooled, tracking):
    from edge_captioner.service.pool import CaptionFence

    config = CameraConfig(name="porch", source=source)
    worker = CameraWorker(config, ScriptedCamera(Clock()), FindingEngine(None), Sink(),
                          fence=CaptionFence() if pooled else None)
    assert worker.camera_events.enabled is tracking


def test_snapshot_is_the_best_scored_frame_of_the_main_object():
    better = dataclasses.replace(PERSON, score=0.97, box=(0.41, 0.3, 0.61, 0.9))
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 0, []), (1, 2, [PERSON]), (3, 3, [better]), (4, 8, [PERSON])])
    jpeg = np.frombuffer(sink.snapshots[0], np.uint8)
    image = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
    assert abs(int(image[60, int(0.605 * 160)].mean()) - 120) < 20  # the box at x 0.41..0.61


def test_a_flickering_posture_does_not_change_the_caption():
    sitting = dataclasses.replace(PERSON, posture="sitting")
    worker, camera, _engine, sink = make()
    script = [(0, 0, [])]
    for t in range(1, 30, 2):
        script += [(t, t, [PERSON]), (t + 1, t + 1, [sitting])]  # the pose model can't decide
    play(worker, camera, script + [(31, 34, [sitting])])
    assert [text for _t, text in captions(sink)] == [
        "no one at the front door", "a person standing at the front door",
        "a person sitting at the front door"]


def test_a_borderline_person_flickering_in_a_still_crowd_never_arrives():
    """A still crowd where the detector finds a third person at a borderline score for a while,
    then loses them, then finds them again: they are in the steady caption while confirmed, but
    no arrival or departure is announced (events.SURE_SCORE); a sure one arriving is."""
    from edge_captioner.service.events import SURE_SCORE

    a = PERSON
    b = dataclasses.replace(PERSON, box=(0.65, 0.3, 0.85, 0.9))
    unsure = dataclasses.replace(PERSON, box=(0.02, 0.35, 0.18, 0.85), score=SURE_SCORE - 0.05)
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 4, [a, b]), (5, 15, [a, b, unsure]), (16, 30, [a, b]),
                          (31, 45, [a, b, unsure]), (46, 60, [a, b])])
    comings = lambda: [(e["type"], e["phase"]) for e in sink.events  # noqa: E731
                       if e["type"] in ("arrived", "passed_by")]
    assert comings() == []
    assert "three people" in " ".join(text for _t, text in captions(sink))
    sure = dataclasses.replace(unsure, score=SURE_SCORE + 0.05)
    play(worker, camera, [(61, 75, [a, b, sure])])
    assert comings() == [("arrived", "start")]


def test_a_still_person_scored_under_the_threshold_for_a_while_stays_and_does_not_come_again():
    """The detector's score of one of two still people sinks under the caption's threshold (but
    not under the tracker's keep_score) for 20 s: the steady caption keeps two people, and when
    the score comes back no one arrives (tracks.TrackSettings.keep_score)."""
    b = dataclasses.replace(PERSON, box=(0.65, 0.3, 0.85, 0.9))
    faint = dataclasses.replace(b, score=0.4)
    worker, camera, engine, sink = make()
    engine.threshold = 0.55
    play(worker, camera, [(0, 10, [PERSON, b]), (11, 30, [PERSON, faint]), (31, 60, [PERSON, b])])
    assert [text for _t, text in captions(sink)] == ["two people standing at the front door"]
    # (they linger at the door: a minute in its zone)
    assert [e["type"] for e in sink.events] == ["lingering"] * 2
    assert sink.occupancy[-1]["person"] == 2


def test_a_person_the_detector_becomes_sure_of_did_not_arrive_but_a_new_one_does():
    """A still person scored under the threshold from the start, then over it: they come into the
    caption, but they did not arrive (tracks.Track.seen_unsure_before); someone who walks in does."""
    b = dataclasses.replace(PERSON, box=(0.65, 0.3, 0.85, 0.9))
    faint = dataclasses.replace(b, score=0.4)
    walking = [dataclasses.replace(PERSON, box=(0.02 + 0.02 * t, 0.3, 0.22 + 0.02 * t, 0.9))
               for t in range(12)]
    worker, camera, engine, sink = make()
    engine.threshold = 0.55
    play(worker, camera, [(0, 20, [PERSON, faint]), (21, 40, [PERSON, b])])
    assert [text for _t, text in captions(sink)] == ["a person standing at the front door",
                                                    "two people standing at the front door"]
    assert sink.events == []
    for t, c in enumerate(walking):
        play(worker, camera, [(41 + t, 41 + t, [PERSON, b, c])])
    assert [(e["type"], e["phase"], e["start"]) for e in sink.events] == [
        ("arrived", "start", stamp(41))]


def test_a_lost_camera_ends_its_events_and_clears_its_occupancy_once():
    """The camera is lost with a person at the door: the arrival ends at their last sighting,
    marked camera_lost (not "left"), the occupancy is all zeros; when the camera is back the
    person there was there before (no arrival), as at start."""
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 0, []), (1, 8, [PERSON])])
    assert [(e["type"], e["phase"]) for e in sink.events] == [("arrived", "start")]
    assert sink.occupancy[-1]["person"] == 1
    camera.state = "lost"
    for _ in range(3):  # no frame, pass after pass: ended once
        worker.step()
    assert sink.events[1:] == [message(
        "e1", "arrived", "end", 1, 8, "person", 1,
        "the camera was lost; a person had been at the front door for 7 seconds",
        camera_lost=True)]
    assert sink.occupancy[-1] == {"person": 0, "vehicle": 0, "animal": 0, "box": 0,
                                  "possible_fall": False}
    assert len(sink.occupancy) == 3 and not worker.camera_events.tracker.active
    camera.state = "streaming"
    play(worker, camera, [(100, 120, [PERSON])])
    assert len(sink.events) == 2 and sink.occupancy[-1]["person"] == 1
    # a camera that is only quiet (no newer frame, still streaming) ends nothing
    worker, camera, _engine, sink = make()
    play(worker, camera, [(0, 0, []), (1, 8, [PERSON])])
    worker.step()
    assert len(sink.events) == 1 and sink.occupancy[-1]["person"] == 1
