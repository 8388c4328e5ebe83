"""The pure parts of events: the tracker's matching and hysteresis, zones, the event sentences in
both languages and the event payload's wire format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from edge_captioner.scene.event_words import duration_en, duration_zh, sentence
from edge_captioner.service.events import Event, EventObject, occupancy
from edge_captioner.service.matching import greedy_match, iou, jump
from edge_captioner.service.tracks import Observation, Tracker, TrackSettings
from edge_captioner.service.zones import Zone, anchor, inside, place_for, zone_at, zones_of

A = (0.1, 0.2, 0.3, 0.8)
B = (0.6, 0.2, 0.8, 0.8)


def person(box, posture="standing", spot=None):
    return Observation("person", box, 0.9, posture, spot)


# -- matching ----------------------------------------------------------------------------------------
def test_iou_and_jump():
    assert iou(A, A) == pytest.approx(1.0)
    assert iou(A, (0.2, 0.2, 0.4, 0.8)) == pytest.approx(1 / 3)
    assert iou(B, A) == 0.0
    assert jump(A, A) == pytest.approx(0.0)
    assert jump(A, (0.2, 0.2, 0.4, 0.8)) == pytest.approx(0.1 / np.hypot(0.2, 0.6))


def test_greedy_match_takes_the_best_overlap_first_then_the_nearest():
    moved = (0.65, 0.2, 0.85, 0.8)  # B a little to the right
    far = (0.28, 0.2, 0.48, 0.8)  # A a stride to the right: an overlap under MIN_IOU
    assert iou(A, far) < 0.2
    assert sorted(greedy_match([A, B], [far, moved])) == [(0, 0), (1, 1)]
    # the better overlap wins a detection two tracks want
    assert greedy_match([A, (0.15, 0.2, 0.35, 0.8)], [(0.14, 0.2, 0.34, 0.8)]) == [(1, 0)]
    # too far to be the same object (more than MAX_JUMP diagonals)
    assert greedy_match([A], [(0.9, 0.0, 0.95, 0.05)]) == []


def test_kinds_are_matched_apart():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    tracker.update([person(A)], 0.0)
    tracker.update([Observation("dog", A, 0.9)], 1.0)
    assert sorted(t.kind for t in tracker.tracks) == ["dog", "person"]


# -- hysteresis --------------------------------------------------------------------------------------
def test_present_after_k_of_n_frames_and_a_flicker_is_never_present():
    tracker = Tracker(TrackSettings(2, 3, 5.0))
    assert tracker.update([person(A)], 0.0) == []
    assert tracker.active
    tracker.update([], 1.0)
    assert tracker.update([person(A)], 2.0)[0].confirmed_at == 2.0  # 2 of its first 3
    flicker = Tracker(TrackSettings(2, 3, 5.0))
    for t, seen in enumerate([[person(A)], [], [], [person(B)], [], []]):
        assert flicker.update(seen, float(t)) == []
    assert not flicker.active


def test_absent_after_s_missing():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    tracker.update([person(A)], 0.0)
    for t in (1.0, 2.0, 4.9):
        assert len(tracker.update([], t)) == 1  # coasting: still present
        assert tracker.dropped == []
    assert tracker.update([], 5.0) == []
    assert [t.id for t in tracker.dropped] == [1]


def test_lying_since_is_reset_by_standing_sitting_or_a_sofa_not_by_an_unknown_posture():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    tracker.update([person(A, "lying")], 0.0)
    tracker.update([person(A, None)], 1.0)
    assert tracker.tracks[0].lying_since == 0.0
    tracker.update([person(A, "sitting")], 2.0)
    assert tracker.tracks[0].lying_since is None
    tracker.update([person(A, "lying", "sofa")], 3.0)
    assert tracker.tracks[0].lying_since is None
    tracker.update([person(A, "lying", "chair")], 4.0)  # lying on a chair: the floor beside it
    assert tracker.tracks[0].lying_since == 4.0


def test_the_best_frame_is_kept_by_reference():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    frames = [object(), object(), object()]
    for t, score in enumerate((0.5, 0.9, 0.7)):
        tracker.update([Observation("person", A, score)], float(t), frames[t])
    assert tracker.tracks[0].best_frame is frames[1]


# -- zones -------------------------------------------------------------------------------------------
DOOR = Zone("front_door", ((0.3, 0.5), (0.7, 0.5), (0.7, 1.0), (0.3, 1.0)))
PATH = Zone("path", ((0.0, 0.6), (0.3, 0.6), (0.3, 1.0), (0.0, 1.0)))


def test_anchor_is_the_bottom_centre():
    assert anchor((0.2, 0.1, 0.4, 0.9)) == (pytest.approx(0.3), 0.9)


def test_inside_a_polygon_and_on_the_frame_edge():
    triangle = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0))
    assert inside((0.2, 0.2), triangle) and not inside((0.8, 0.8), triangle)
    assert inside((0.5, 1.0), DOOR.points)  # a box down to the frame's bottom edge


def test_zone_at_and_the_place_a_caption_may_say():
    feet_in_door = (0.4, 0.2, 0.6, 0.9)
    head_in_door_feet_out = (0.4, 0.1, 0.6, 0.45)
    on_path = (0.05, 0.3, 0.2, 0.8)
    zones = (DOOR, PATH)
    assert zone_at(zones, feet_in_door) == "front_door"
    assert zone_at(zones, head_in_door_feet_out) is None
    assert place_for(zones, [feet_in_door], "driveway") == "front_door"
    assert place_for(zones, [feet_in_door, on_path], "driveway") == "driveway"
    assert place_for(zones, [on_path], None) is None
    assert place_for(zones, [feet_in_door, head_in_door_feet_out], "front door") is None
    assert place_for(zones, [], "front door") == "front door"  # no one at the front door
    assert place_for((), [head_in_door_feet_out], "front door") == "front door"  # no zones


def test_zones_of_the_config():
    assert zones_of(None) == ()
    assert zones_of({"path": [[0, 0.6], [0.3, 0.6], [0.3, 1]]})[0].points[1] == (0.3, 0.6)


# -- sentences ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("seconds, en, zh", [
    (0.4, "0 seconds", "0秒"), (1, "1 second", "1秒"), (59.4, "59 seconds", "59秒"),
    (60, "1 minute", "1分钟"), (150, "2 minutes", "2分钟"), (3600, "1 hour", "1小时"),
    (3720, "1 hour 2 minutes", "1小时2分钟")])
def test_durations(seconds, en, zh):
    assert (duration_en(seconds), duration_zh(seconds)) == (en, zh)


SENTENCES = [
    ("arrived", "start", "person", "front_door", 0, "a person arrived at the front door",
     "前门口来了一个人"),
    ("arrived", "end", "car", "driveway", 125, "a car left in the driveway after 2 minutes",
     "车道上一辆汽车离开了，停留了2分钟"),
    ("passed_by", "end", "person", None, 4, "a person passed by", "一个人经过"),
    ("box_left", "end", "box", "front_door", 8, "a box was left at the front door",
     "前门口留下了一个箱子"),
    ("box_taken", "end", "box", None, 0, "a box was taken", "一个箱子被拿走了"),
    ("possible_fall", "start", "person", "kitchen", 30,
     "a person has been lying down for 30 seconds in the kitchen", "厨房里有一个人躺了30秒"),
    ("possible_fall", "end", "person", "kitchen", 45, "the person got up after 45 seconds",
     "那个人起来了，躺了45秒"),
    ("lingering", "start", "person", "front_door", 60,
     "a person has been at the front door for 1 minute", "前门口有一个人停留了1分钟"),
]


@pytest.mark.parametrize("event_type, phase, kind, place, seconds, en, zh", SENTENCES)
def test_event_sentences(event_type, phase, kind, place, seconds, en, zh):
    assert sentence(event_type, phase, kind, place, seconds, "en") == en
    assert sentence(event_type, phase, kind, place, seconds, "zh") == zh


@pytest.mark.parametrize("event_type, place, en, zh", [
    ("arrived", "front_door", "the camera was lost; a person had been at the front door for 2 minutes",
     "摄像头断开了，前门口有一个人停留了2分钟"),
    ("lingering", None, "the camera was lost; a person had been in view for 2 minutes",
     "摄像头断开了，画面里有一个人停留了2分钟"),
    ("possible_fall", "kitchen", "the camera was lost; the person had been lying down for 2 minutes",
     "摄像头断开了，那个人已躺了2分钟"),
])
def test_an_end_because_the_camera_was_lost_says_so(event_type, place, en, zh):
    assert sentence(event_type, "end", "person", place, 120, "en", lost=True) == en
    assert sentence(event_type, "end", "person", place, 120, "zh", lost=True) == zh


def test_a_fall_that_ends_out_of_view_says_so():
    assert sentence("possible_fall", "end", "person", None, 40, "en", gone=True) == \
        "the person lying down is out of view after 40 seconds"
    with pytest.raises(ValueError):
        sentence("exploded", "start", "person", None, 1, "en")
    with pytest.raises(ValueError):
        sentence("arrived", "start", "person", None, 1, "fr")


# -- the payload ---------------------------------------------------------------------------------------
def test_event_payload_is_the_wire_format():
    t0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    start = Event("ab12", "arrived", "start", "porch", "front_door", t0, None,
                  (EventObject("person", 3),), "a person arrived at the front door", "en",
                  "default-en", snapshot=True)
    assert json.dumps(start.payload()) == (
        '{"id": "ab12", "type": "arrived", "phase": "start", "camera": "porch", '
        '"zone": "front_door", "start": "2024-05-01T12:00:00.000+00:00", "end": null, '
        '"duration_s": null, "objects": [{"kind": "person", "track": 3}], "snapshot": true, '
        '"camera_lost": false, "sentence": "a person arrived at the front door", "language": "en", '
        '"model": "default-en"}')
    end = Event("ab12", "arrived", "end", "porch", None, t0, t0 + timedelta(seconds=83.46),
                (), "a person left after 1 minute", "en", "m")
    assert end.payload()["duration_s"] == 83.5 and end.payload()["end"].endswith("23.460+00:00")
    assert (start.name, end.name) == ("arrived", "left")
    assert Event("x", "box_left", "end", "p", None, t0, t0, (), "", "en", "m").name == "box_left"
    lost = Event("ab12", "arrived", "end", "porch", None, t0, t0, (), "", "en", "m", camera_lost=True)
    assert lost.name == "camera_lost" and lost.payload()["camera_lost"] is True


def test_occupancy_groups_the_kinds():
    class T:
        def __init__(self, kind):
            self.kind = kind

    tracks = [T("person"), T("person"), T("truck"), T("bicycle"), T("cat"), T("box"), T("umbrella")]
    assert occupancy(tracks, 1) == {"person": 2, "vehicle": 2, "animal": 1, "box": 1,
                                    "possible_fall": True}


def test_the_steady_posture_changes_after_two_in_a_row():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    postures = ["standing", "sitting", "standing", None, "sitting", "sitting", "lying", None,
                "lying"]
    steady = []
    for t, p in enumerate(postures):
        tracker.update([person(A, p)], float(t))
        steady.append(tracker.tracks[0].posture)
    assert steady == ["standing", "standing", "standing", "standing", "standing", "sitting",
                      "sitting", "sitting", "lying"]


def test_a_jump_beyond_reach_is_not_counted_twice_in_the_steady_state():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    tracker.update([person(A)], 0.0)
    tracker.update([person((0.75, 0.2, 0.95, 0.8))], 1.0)  # one person, far across: a new track
    assert len(tracker.tracks) == 2  # the old one coasts
    assert [t.box for t in tracker.steady] == [(0.75, 0.2, 0.95, 0.8)]  # one frame showed one
    tracker.update([person(A), person((0.75, 0.2, 0.95, 0.8))], 2.0)
    assert len(tracker.steady) == 2


def test_a_missed_object_is_looked_for_farther():
    tracker = Tracker(TrackSettings(1, 1, 10.0))
    tracker.update([person(A)], 0.0)
    tracker.update([], 1.0)
    tracker.update([], 2.0)
    # 1.1 diagonals away: beyond MAX_JUMP for a track seen last frame, within reach after two misses
    moved = (0.8, 0.2, 1.0, 0.8)
    tracker.update([person(moved)], 3.0)
    assert [t.id for t in tracker.tracks] == [1]
    fresh = Tracker(TrackSettings(1, 1, 10.0))
    fresh.update([person(A)], 0.0)
    fresh.update([person(moved)], 1.0)
    assert [t.id for t in fresh.tracks] == [1, 2]


def test_a_van_seen_as_car_and_truck_is_one_track_of_the_kind_seen_most():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    for t, kind in enumerate(["car", "truck", "truck", "car", "truck"]):
        tracker.update([Observation(kind, B, 0.5 + t / 100)], float(t))
    (van,) = tracker.tracks
    assert van.kind == "truck" and van.seen_as == {"car": 2, "truck": 3}
    assert van.stated.kind == "truck" and van.stated.score == pytest.approx(0.54)
    assert [t.kind for t in tracker.steady] == ["truck"]
    # a dog is not matched with a car, however close
    tracker.update([Observation("dog", B, 0.9)], 5.0)
    assert sorted(t.kind for t in tracker.tracks) == ["dog", "truck"]


def test_one_van_labelled_car_and_truck_in_one_frame_is_one_object():
    tracker = Tracker(TrackSettings(1, 1, 5.0))
    van = (0.7, 0.05, 0.9, 0.3)
    beside = (0.45, 0.05, 0.65, 0.3)
    tracker.update([Observation("car", van, 0.6), Observation("truck", (0.7, 0.06, 0.9, 0.3), 0.5),
                    Observation("car", beside, 0.4), Observation("person", van, 0.9)], 0.0)
    assert sorted((t.kind, t.box) for t in tracker.tracks) == [
        ("car", beside), ("car", van), ("person", van)]


# -- detections under the threshold ------------------------------------------------------------------
def unsure(box, score=0.3, kind="person"):
    return Observation(kind, box, score)


def test_an_unsure_detection_keeps_a_confirmed_track_alive_and_nothing_else():
    tracker = Tracker(TrackSettings(1, 1, 5.0, keep_score=0.2))
    tracker.update([person(A)], 0.0)
    for t in range(1, 20):  # the detector's score of a still person sinks under the threshold
        tracker.update([], float(t), weak=[unsure((0.11, 0.2, 0.31, 0.8))])
    (track,) = tracker.tracks
    assert tracker.dropped == [] and track.kept_at == 19.0 and track.last_seen == 0.0
    # what a caption states of it stays its last sure detection, and the count is kept, not raised
    assert track.stated.score == 0.9 and track.box == A and track.best_score == 0.9
    assert len(tracker.steady) == 1
    # under the floor, or beside it (overlap under KEEP_IOU), or of another kind: it goes
    for weak in ([unsure(A, 0.19)], [unsure((0.2, 0.2, 0.4, 0.8))], [unsure(A, 0.5, "dog")]):
        kept = Tracker(TrackSettings(1, 1, 5.0, keep_score=0.2))
        kept.update([person(A)], 0.0)
        for t in range(1, 6):
            kept.update([], float(t), weak=weak)
        assert kept.tracks == [] and [t.id for t in kept.dropped] == [1]
    # off (keep_score None): the same frames end it
    off = Tracker(TrackSettings(1, 1, 5.0, keep_score=None))
    off.update([person(A)], 0.0)
    for t in range(1, 6):
        off.update([], float(t), weak=[unsure(A)])
    assert off.tracks == []


def test_unsure_detections_alone_keep_a_track_for_keep_for_s_at_most():
    """A person leaves a coat on the chair the detector scores 0.3 as a person: the track it
    keeps alive goes keep_for_s after the last sure detection, not never; a sure one renews it."""
    tracker = Tracker(TrackSettings(1, 1, 5.0, keep_score=0.2, keep_for_s=60.0))
    tracker.update([person(A)], 0.0)
    for t in range(1, 60):
        tracker.update([], float(t), weak=[unsure(A)])
    assert len(tracker.tracks) == 1
    tracker.update([], 60.0, weak=[unsure(A)])
    assert tracker.tracks == [] and [t.id for t in tracker.dropped] == [1]
    renewed = Tracker(TrackSettings(1, 1, 5.0, keep_score=0.2, keep_for_s=60.0))
    renewed.update([person(A)], 0.0)
    for t in range(1, 100):
        renewed.update([person(A)] if t == 50 else [], float(t), weak=[unsure(A)])
    assert len(renewed.tracks) == 1 and renewed.tracks[0].last_seen == 50.0


def test_an_unsure_detection_never_makes_or_confirms_a_track():
    tracker = Tracker(TrackSettings(2, 3, 5.0, keep_score=0.2))
    for t in range(5):
        tracker.update([], float(t), weak=[unsure(A, 0.5)])
    assert not tracker.active
    # a tentative track is not kept by one: seen once surely, then only unsure, it is dropped
    tracker.update([person(B)], 5.0, weak=[unsure(A, 0.5)])
    tracker.update([], 6.0, weak=[unsure(B, 0.5)])
    tracker.update([], 7.0, weak=[unsure(B, 0.5)])
    assert not tracker.active and tracker.tracks == []


def test_a_track_where_the_detector_was_unsure_before_was_there_before():
    settings = TrackSettings(1, 1, 5.0, keep_score=0.2, unsure_before_s=10.0, unsure_share=0.25)
    tracker = Tracker(settings)
    for t in range(8):  # unsure of a person at A in 3 of 8 frames
        tracker.update([], float(t), weak=[unsure(A)] if t in (1, 4, 6) else [])
    tracker.update([person(A), person(B)], 8.0)
    by_box = {t.box: t for t in tracker.tracks}
    assert by_box[A].seen_unsure_before and not by_box[B].seen_unsure_before
    # unsure of someone walking in (each frame a step farther): never at the place where they
    # were first seen surely
    walking = Tracker(settings)
    for t in range(8):
        walking.update([], float(t), weak=[unsure((0.9 - 0.1 * t, 0.2, 1.0 - 0.1 * t, 0.8))])
    walking.update([person((0.1, 0.2, 0.2, 0.8))], 8.0)
    assert not walking.tracks[0].seen_unsure_before
    # rarely unsure there (1 frame of 8: not more than a quarter), or the rule off: new
    for rule in (settings, TrackSettings(1, 1, 5.0, keep_score=0.2, unsure_before_s=0.0)):
        rare = Tracker(rule)
        for t in range(8):
            rare.update([], float(t), weak=[unsure(A)] if t == 4 or rule is not settings else [])
        rare.update([person(A)], 8.0)
        assert not rare.tracks[0].seen_unsure_before
