"""Pure seams of the MQTT frame sources: the JPEG check, the acknowledgement slot, the state rule,
and Frigate's event parser and event/snapshot pairing (no broker here; test_mqtt_frames.py has one)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_captioner.frigate.events import (
    NOT_CAPTIONED,
    FrigateEvent,
    SnapshotPairer,
    description_request,
    parse_event,
    snapshot_key,
    wants_caption,
)
from edge_captioner.sources.frame_slot import FrameSlot
from edge_captioner.sources.frames import Frame
from edge_captioner.sources.jpeg_payload import Rejection, RejectLog, check_jpeg, decode_jpeg
from edge_captioner.sources.mqtt_jpeg import source_state, subscription_filter


def jpeg(width: int = 64, height: int = 48, value: int = 128) -> bytes:
    image = np.full((height, width, 3), value, np.uint8)
    image[: height // 2, : width // 2] = (0, 0, 255)
    return cv2.imencode(".jpg", image)[1].tobytes()


# -- JPEG payloads ---------------------------------------------------------------------------------
def test_a_whole_jpeg_decodes_to_a_bgr_frame():
    image, rejection = decode_jpeg(jpeg(64, 48))
    assert rejection is None and image.shape == (48, 64, 3) and image.dtype == np.uint8


def test_zero_padding_after_the_end_marker_is_accepted():
    assert check_jpeg(jpeg() + b"\x00" * 16) is None


@pytest.mark.parametrize(("payload", "kind"), [
    (b"", "empty"),
    (b'{"status": "ok"}', "not_jpeg"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, "not_jpeg"),
    (jpeg()[:-200], "truncated"),
    (jpeg()[:-2], "truncated"),
    (jpeg() + b"\x00" * 65, "truncated"),
    (b"\xff\xd8\xff" + b"\x00" * 50 + b"\xff\xd9", "undecodable"),
])
def test_bad_payloads_are_refused_with_their_kind(payload, kind):
    image, rejection = decode_jpeg(payload)
    assert image is None and rejection.kind == kind


def test_a_payload_over_the_limit_is_refused_before_decoding():
    assert decode_jpeg(jpeg(), max_bytes=100)[1].kind == "too_large"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000))
def test_any_bytes_give_an_image_or_a_one_line_reason(payload):
    image, rejection = decode_jpeg(b"\xff\xd8\xff" + payload if payload[:1] == b"\x00" else payload)
    assert (image is None) != (rejection is None)
    if rejection is not None:
        assert "\n" not in rejection.detail


def test_rejections_are_logged_once_per_kind_per_period(caplog):
    now = [0.0]
    rejects = RejectLog("porch", logging.getLogger("test.rejects"), every_s=60, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING, "test.rejects"):
        lines = [rejects.note(Rejection("not_jpeg", "not a JPEG"), "cam/jpeg") for _ in range(5)]
        lines.append(rejects.note(Rejection("truncated", "cut"), "cam/jpeg"))
        now[0] = 61.0
        lines.append(rejects.note(Rejection("not_jpeg", "not a JPEG"), "cam/jpeg"))
    assert lines == [True, False, False, False, False, True, True]
    assert [r.getMessage() for r in caplog.records] == [
        "camera porch: frame on cam/jpeg dropped: not a JPEG",
        "camera porch: frame on cam/jpeg dropped: cut",
        "camera porch: frame on cam/jpeg dropped: not a JPEG (4 more like it since the last report)",
    ]


# -- the acknowledgement slot ---------------------------------------------------------------------------
def frame(seq: int) -> Frame:
    return Frame(np.zeros((2, 2, 3), np.uint8), seq, float(seq), datetime.now(UTC))


def test_a_frame_is_acknowledged_when_the_worker_asks_for_the_next_one():
    acked = []
    slot = FrameSlot(acked.append)
    slot.put(frame(1), "m1")
    assert slot.latest(0, timeout=0).seq == 1
    assert acked == []  # in the worker's hands: a crash now leaves it with the broker
    slot.put(frame(2), "m2")
    assert slot.latest(1, timeout=0).seq == 2
    assert acked == ["m1"]


def test_a_frame_replaced_before_it_was_taken_is_acknowledged_at_once():
    acked = []
    slot = FrameSlot(acked.append)
    slot.put(frame(1), "m1")
    slot.put(frame(2), "m2")
    slot.put(frame(3), "m3")
    assert acked == ["m1", "m2"] and slot.superseded == 2
    assert slot.latest(0, timeout=0).seq == 3
    assert slot.unacknowledged == 1


def test_done_acknowledges_and_stop_keeps_only_the_untaken_frame():
    acked = []
    slot = FrameSlot(acked.append)
    slot.put(frame(1), "m1")
    slot.latest(0, timeout=0)
    slot.done(1)
    assert acked == ["m1"]
    slot.put(frame(2), "m2")
    slot.latest(1, timeout=0)
    slot.put(frame(3), "m3")
    assert slot.stop() == 1  # m3 was never taken: the broker gives it again
    assert acked == ["m1", "m2"]
    assert slot.latest(2, timeout=1.0) is None
    slot.put(frame(4), "m4")
    assert acked == ["m1", "m2"] and slot.unacknowledged == 0


def test_qos0_frames_have_nothing_to_acknowledge():
    acked = []
    slot = FrameSlot(acked.append)
    slot.put(frame(1), None)
    slot.put(frame(2), None)
    assert slot.latest(0, timeout=0).seq == 2 and acked == []


def test_latest_waits_for_a_newer_frame_and_times_out():
    slot = FrameSlot(lambda token: None)
    slot.put(frame(1), None)
    assert slot.latest(1, timeout=0.05) is None


# -- the state rule --------------------------------------------------------------------------------------
@pytest.mark.parametrize(("connected", "since_frame", "since_connect", "expected"), [
    (False, None, None, ("starting", "connecting to the broker")),
    (False, 1.0, 5.0, ("lost", "not connected to the broker")),
    (True, None, 2.0, ("starting", "waiting for the first frame")),
    (True, None, 12.5, ("lost", "no frame for 12.5 s (stalled)")),
    (True, 3.0, 20.0, ("streaming", "frames are arriving")),
    (True, 10.5, 20.0, ("lost", "no frame for 10.5 s (stalled)")),
])
def test_source_state(connected, since_frame, since_connect, expected):
    assert source_state(connected, since_frame, since_connect, stall_timeout_s=10.0) == expected


def test_subscription_filter():
    assert subscription_filter("cams/porch/jpeg", None) == "cams/porch/jpeg"
    assert subscription_filter("cams/+/jpeg", "captioners") == "$share/captioners/cams/+/jpeg"


# -- Frigate events ---------------------------------------------------------------------------------------
def event_payload(kind="new", **after) -> bytes:
    base = {"id": "1607123955.475377-mxklsc", "camera": "front_door", "label": "person",
            "sub_label": None, "score": 0.87, "false_positive": False, "has_snapshot": True,
            "snapshot": {"frame_time": 1607123961.8, "score": 0.77}}
    base.update(after)
    return json.dumps({"type": kind, "before": {}, "after": base}).encode()


def test_parse_event_reads_the_documented_fields():
    assert parse_event(event_payload("update", sub_label=["John Smith", 0.79])) == FrigateEvent(
        type="update", id="1607123955.475377-mxklsc", camera="front_door", label="person",
        sub_label="John Smith", score=0.87, snapshot_time=1607123961.8, has_snapshot=True,
        false_positive=False)


def test_parse_event_reads_pre_0_14_snapshot_time():
    payload = json.loads(event_payload(sub_label="Bob"))
    del payload["after"]["snapshot"]
    payload["after"]["snapshot_time"] = 1607123961.837752
    event = parse_event(json.dumps(payload))
    assert (event.snapshot_time, event.sub_label) == (1607123961.837752, "Bob")


@pytest.mark.parametrize(("payload", "message"), [
    (b"\xff\xd8", "not JSON: "),
    (b"[1, 2]", "expected a JSON object, got [1, 2]"),
    (b'{"type": "begin", "after": {}}', 'type: expected one of new, update, end, got "begin"'),
    (b'{"type": "new"}', "after: expected an object, got null"),
    (event_payload(camera=""), 'after.camera: expected a non-empty string, got ""'),
    (event_payload(score="high"), 'after.score: expected a number, got "high"'),
    (event_payload(sub_label=5), "after.sub_label: expected null, a string or [name, score], got 5"),
])
def test_parse_event_refuses_with_one_line(payload, message):
    with pytest.raises(ValueError) as caught:
        parse_event(payload)
    assert str(caught.value).startswith(message) and "\n" not in str(caught.value)


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=5), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["new", "update", "end", "x"]),
       st.dictionaries(st.sampled_from(["id", "camera", "label", "sub_label", "score", "snapshot",
                                        "snapshot_time", "false_positive"]), _json, max_size=8))
def test_parse_event_fuzz_is_an_event_or_one_value_error(kind, after):
    try:
        event = parse_event(json.dumps({"type": kind, "after": after}, allow_nan=True))
    except ValueError as exc:
        assert "\n" not in str(exc)
    else:
        assert event.type == kind and event.id and event.camera and event.label


def test_wants_caption():
    new = parse_event(event_payload("new"))
    update_same = parse_event(event_payload("update"))
    update_better = parse_event(event_payload("update", snapshot={"frame_time": 1607123970.0}))
    end = parse_event(event_payload("end"))
    false_positive = parse_event(event_payload("new", false_positive=True))
    assert wants_caption(new) and wants_caption(update_same) and wants_caption(end)
    assert not wants_caption(false_positive)
    assert not wants_caption(update_same, 1607123961.8)
    assert wants_caption(update_better, 1607123961.8)
    assert not wants_caption(end, 1607123961.8)
    assert not wants_caption(new, None) and NOT_CAPTIONED is not None


def test_snapshot_key():
    assert snapshot_key("frigate/front_door/person/snapshot") == ("front_door", "person")
    assert snapshot_key("nvr/frigate/yard/car/snapshot", "nvr/frigate") == ("yard", "car")
    assert snapshot_key("frigate/front_door/person") is None
    assert snapshot_key("frigate/events") is None


# -- pairing events with snapshots -------------------------------------------------------------------
def test_a_snapshot_just_before_the_event_pairs_at_once():
    pairer = SnapshotPairer(window_s=5)
    assert pairer.snapshot("front_door", "person", b"J1", now=10.0).pairs == []
    out = pairer.event(parse_event(event_payload("new")), now=10.2, token="e1")
    assert [(p.event.type, p.jpeg, p.token) for p in out.pairs] == [("new", b"J1", "e1")]


def test_an_event_waits_for_its_snapshot_within_the_window():
    pairer = SnapshotPairer(window_s=5)
    assert pairer.event(parse_event(event_payload("new")), now=10.0, token="e1").pairs == []
    out = pairer.snapshot("front_door", "person", b"J1", now=10.3)
    assert [(p.jpeg, p.token) for p in out.pairs] == [(b"J1", "e1")]


def test_a_retained_snapshot_never_pairs_and_an_unpaired_event_expires():
    pairer = SnapshotPairer(window_s=5)
    pairer.snapshot("front_door", "person", b"OLD", now=0.0, retained=True)
    assert pairer.event(parse_event(event_payload("new")), now=1.0, token="e1").pairs == []
    assert pairer.expire(now=5.5).unpaired == []
    out = pairer.expire(now=6.5)
    assert [e.type for e in out.unpaired] == ["new"] and out.done == ["e1"]


def test_an_update_with_a_better_snapshot_is_captioned_once_with_the_new_picture():
    pairer = SnapshotPairer(window_s=5)
    pairer.snapshot("front_door", "person", b"J1", now=10.0)
    assert len(pairer.event(parse_event(event_payload("new")), now=10.1, token="e1").pairs) == 1
    same = pairer.event(parse_event(event_payload("update")), now=11.0, token="e2")
    assert same.pairs == [] and same.done == ["e2"]  # the same snapshot: nothing new to say
    better = parse_event(event_payload("update", snapshot={"frame_time": 1607123970.0}))
    assert pairer.event(better, now=12.0, token="e3").pairs == []  # J1 was used: wait for J2
    out = pairer.snapshot("front_door", "person", b"J2", now=12.1)
    assert [(p.jpeg, p.token) for p in out.pairs] == [(b"J2", "e3")]
    end = pairer.event(parse_event(event_payload("end")), now=13.0, token="e4")
    assert end.pairs == [] and end.done == ["e4"]


def test_a_newer_waiting_event_of_the_same_camera_and_label_supersedes_the_older():
    pairer = SnapshotPairer(window_s=5)
    pairer.event(parse_event(event_payload("new", id="a")), now=1.0, token="ea")
    out = pairer.event(parse_event(event_payload("new", id="b")), now=1.5, token="eb")
    assert out.done == ["ea"]
    assert [p.event.id for p in pairer.snapshot("front_door", "person", b"J", now=2.0).pairs] == ["b"]


def test_caption_fields_and_description_request():
    event = parse_event(event_payload("new", sub_label=["Ann", 0.9]))
    assert event.caption_fields() == {"event_id": "1607123955.475377-mxklsc",
                                     "camera": "front_door", "label": "person", "sub_label": "Ann"}
    assert description_request("http://frigate:5000/", "abc", "a person at the door") == (
        "http://frigate:5000/api/events/abc/description", b'{"description": "a person at the door"}')
