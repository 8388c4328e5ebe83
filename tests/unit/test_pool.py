"""Issue 23's pure parts behind their seams: the pool's caption fence (pool.py) as a table and in a
whole worker, Frigate frames past the gate with their event in the payload, frame ids, the source
factory, Frigate descriptions against a real local HTTP server, and the configuration's new keys."""

from __future__ import annotations

import dataclasses
import logging
import socket
import time
from datetime import timedelta

import pytest
from test_worker import SCENES, WALL0, RecordingSink, make_worker, play, stamp

from edge_captioner.config.parse import parse_document
from edge_captioner.errors import BadInput
from edge_captioner.frigate.descriptions import FrigateDescriptions
from edge_captioner.frigate.events import FrigateEvent
from edge_captioner.frigate.source import FrigateSource
from edge_captioner.service.caption_event import CaptionEvent
from edge_captioner.service.pool import CaptionFence, SeenCaption, seen_caption
from edge_captioner.sources.camera import Camera
from edge_captioner.sources.factory import open_source
from edge_captioner.sources.frames import Frame
from edge_captioner.sources.mqtt_jpeg import MQTTFrameSource
from edge_captioner.sources.spec import FrigateFrames, TopicFrames, parse_pushed
from support.frigate_api import FrigateAPI
from support.paths import REPO as ROOT


def at(t: float):
    return WALL0 + timedelta(seconds=t)


# -- the fence ------------------------------------------------------------------------------------------
def test_fence_keeps_the_newest_caption_and_the_highest_seq():
    fence = CaptionFence()
    assert fence.admits(at(0)) and fence.next_seq(0) == 1 and fence.last_caption is None
    fence.observe(SeenCaption(4, at(10), "a cat"))
    fence.observe(SeenCaption(6, at(8), "a dog"))  # a higher seq of an older frame (a slow member)
    assert fence.last_caption == "a cat"  # the newest scene, not the highest seq
    assert fence.next_seq(2) == 7 and fence.next_seq(9) == 10
    assert not fence.admits(at(9.999)) and fence.admits(at(10)) and fence.admits(at(11))


SEEN = [
    ({"seq": 3, "timestamp": "2024-05-01T12:00:01.500+00:00", "caption": "a cat"},
     SeenCaption(3, at(1.5), "a cat")),
    ({"seq": True, "timestamp": "2024-05-01T12:00:01.500+00:00", "caption": "a cat"}, None),
    ({"seq": 3, "timestamp": "2024-05-01T12:00:01.500", "caption": "a cat"}, None),  # no zone
    ({"seq": 3, "timestamp": "yesterday", "caption": "a cat"}, None),
    ({"seq": 3, "caption": "a cat"}, None),
    (["not", "a", "caption"], None),
]


@pytest.mark.parametrize("payload, expected", SEEN)
def test_seen_caption_reads_caption_payloads_only(payload, expected):
    assert seen_caption(payload) == expected


TABLE = {"door": [("a person at the door", 0.9)], "street": [("an empty street", 0.7)],
         "door_moved": [("a person at the door", 0.8)]}


def pool_worker(**config):
    worker, camera, engine, sink = make_worker(TABLE, **config)
    worker.fence, worker.member_id = CaptionFence(clock=worker.clock), "w1"
    return worker, camera, engine, sink


def test_a_pool_member_numbers_above_every_seq_seen_and_skips_frames_older_than_the_newest_caption():
    worker, camera, engine, sink = pool_worker()
    play(worker, camera, [(0, "door")])
    # another member published seq 5, of a frame taken at t=3
    worker.fence.observe(SeenCaption(5, at(3), "an empty street"))
    play(worker, camera, [(2, "street")])  # older than t=3: captioned, not published
    play(worker, camera, [(4, "door")])  # newer: its text differs from the newest caption (street)
    assert sink.events() == [("caption", 1, "a person at the door", stamp(0)),
                             ("caption", 6, "a person at the door", stamp(4))]
    assert worker.stats.superseded == 1 and len(engine.calls) == 3
    assert [call[2]["worker"] for call in sink.calls] == ["w1", "w1"]


def test_a_pool_member_compares_with_the_newest_caption_whoever_published_it():
    worker, camera, _engine, sink = pool_worker()
    worker.fence.observe(SeenCaption(2, at(0), "a person at the door"))
    play(worker, camera, [(1, "door")])  # the same text as the pool's newest: not published again
    assert sink.events() == [] and worker.stats.skipped_unchanged == 1


def test_a_pool_member_times_the_heartbeat_from_when_its_caption_is_ready():
    """Another member's caption of an older frame, same text, is seen while our model runs (0.05 s
    into it); 0.15 s after it, over heartbeat_s (0.1), ours is ready and goes out. Timed from our
    frame's arrival instead, that caption would be -0.05 s old and ours withheld as unchanged."""
    worker, camera, engine, sink = pool_worker(interval_s=0.1, heartbeat_s=0.1)
    play(worker, camera, [(0, "door")])
    run_model = engine.caption

    def slow_model(image, place=None, **options):
        worker.clock.now += 0.05
        worker.fence.observe(SeenCaption(2, at(1.5), "a person at the door"))
        worker.clock.now += 0.15
        return run_model(image, place, **options)

    engine.caption = slow_model
    play(worker, camera, [(2, "door_moved")])
    assert sink.events() == [("caption", 1, "a person at the door", stamp(0)),
                             ("caption", 3, "a person at the door", stamp(2))]
    assert worker.stats.skipped_unchanged == 0


# -- Frigate frames, frame ids -------------------------------------------------------------------------
EVENT = FrigateEvent(type="new", id="1700000000.1-abc", camera="front_door", label="person",
                     sub_label=None, score=0.8, snapshot_time=1.0, has_snapshot=True,
                     false_positive=False)


def test_each_frigate_event_is_captioned_and_published_even_with_the_same_text():
    worker, camera, engine, sink = make_worker({"door": [("a person at the door", 0.9)]},
                                               interval_s=5.0)
    door = camera.frames
    for t, event_id in ((0, "e1"), (0.5, "e2")):  # within interval_s, the same scene and text
        camera.seq += 1
        door.append(Frame(SCENES["door"], camera.seq, t, at(t),
                          event=dataclasses.replace(EVENT, id=event_id)))
        worker.step()
    payloads = [call[2] for call in sink.calls]
    assert [p["frigate"]["event_id"] for p in payloads] == ["e1", "e2"]
    assert payloads[0]["frigate"] == {"event_id": "e1", "camera": "front_door", "label": "person",
                                      "sub_label": None}
    assert [p["seq"] for p in payloads] == [1, 2] and len(engine.calls) == 2


def test_a_frames_own_id_reaches_the_payload():
    worker, camera, _engine, sink = make_worker(TABLE)
    camera.seq += 1
    camera.frames.append(Frame(SCENES["door"], camera.seq, 0.0, at(0), frame_id="esp-417"))
    worker.step()
    assert sink.calls[0][2]["frame_id"] == "esp-417" and "worker" not in sink.calls[0][2]


def test_payload_keys_of_pushed_frames_come_after_the_others():
    event = CaptionEvent(camera="c", caption="x", confidence=1.0, language="en", timestamp=at(0),
                         model="m", latency_ms=1.0, seq=1, truncated=True, frame_id="7",
                         frigate=EVENT, worker="w2")
    assert list(event.payload())[-4:] == ["truncated", "frame_id", "frigate", "worker"]


# -- the source factory --------------------------------------------------------------------------------
def config_of(**top):
    document = {"device_id": "house", "mqtt": {"protocol": "5"},
                "cameras": [{"name": "a", "source": "sample"},
                            {"name": "b", "source": "mqtt:esp/b/jpeg", "max_frame_bytes": 5000},
                            {"name": "c", "source": "frigate:front_door/person,car"}], **top}
    return parse_document(document)


def test_the_factory_picks_the_source_and_its_pool_settings():
    from edge_captioner.config.files import resolve_files_and_secrets

    config = resolve_files_and_secrets(config_of(workers={"group": "cap", "member_id": "pi2"}), ROOT)
    a, b, c = (open_source(camera, config) for camera in config.cameras)
    assert type(a) is Camera and type(b) is MQTTFrameSource and type(c) is FrigateSource
    assert config.mqtt.client_id == "edge-captioner-house-pi2"
    assert b.client_id == "edge-captioner-house-pi2-cam-b" and b.session_expiry_s == 60
    assert b.subscriptions() == [("$share/cap/esp/b/jpeg", 1)] and b.frames.max_bytes == 5000
    assert c.subscriptions() == [("$share/cap/frigate/events", 1),
                                 ("frigate/front_door/person/snapshot", 1),
                                 ("frigate/front_door/car/snapshot", 1), ("frigate/available", 1)]
    alone = resolve_files_and_secrets(config_of(), ROOT)
    b = open_source(alone.cameras[1], alone)
    assert b.subscriptions() == [("esp/b/jpeg", 1)] and b.session_expiry_s == 0
    assert b.client_id == "edge-captioner-house-cam-b"


# -- Frigate descriptions, against a real HTTP server -----------------------------------------------------
def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def caption_event(camera: str, text: str, frigate_event: str | None = None) -> CaptionEvent:
    return CaptionEvent(camera=camera, caption=text, confidence=0.9, language="en",
                        timestamp=at(0), model="m", latency_ms=1.0, seq=1,
                        frigate=None if frigate_event is None else
                        dataclasses.replace(EVENT, id=frigate_event))


def test_frigate_captions_become_event_descriptions_and_failures_are_said_once(caplog):
    api = FrigateAPI()
    sink = RecordingSink()
    descriptions = FrigateDescriptions(sink, api.url + "/", timeout_s=2.0)
    try:
        descriptions.publish_caption(caption_event("door", "a person at the door", "1700.5-ab"))
        descriptions.publish_caption(caption_event("porch", "a cat"))  # not Frigate's: MQTT only
        assert wait_until(lambda: len(api.posts) == 1)
        assert api.posts == [("/api/events/1700.5-ab/description",
                              {"description": "a person at the door"})]
        assert [call[1] for call in sink.calls] == ["door", "porch"]
        api.status = 401  # port 8971 without a token, say
        with caplog.at_level(logging.WARNING, "edge_captioner.frigate.descriptions"):
            for i in range(3):
                descriptions.publish_caption(caption_event("door", "x", f"e{i}"))
            assert wait_until(lambda: descriptions.failed == 3)
        lines = [r.getMessage() for r in caplog.records if r.name == "edge_captioner.frigate.descriptions"]
        assert len(lines) == 1 and "401" in lines[0] and "/api/events/e0/description" in lines[0]
    finally:
        descriptions.stop()
        api.shutdown()


def test_an_unreachable_frigate_never_holds_up_the_worker():
    sink = RecordingSink()
    # a Frigate that takes the connection and never answers: each request waits for its timeout
    with socket.create_server(("127.0.0.1", 0)) as silent:
        port = silent.getsockname()[1]
        descriptions = FrigateDescriptions(sink, f"http://127.0.0.1:{port}", timeout_s=3.0,
                                           queue_limit=2)
        started = time.monotonic()
        for i in range(20):
            descriptions.publish_caption(caption_event("door", "x", str(i)))
        assert time.monotonic() - started < 0.5 and len(sink.calls) == 20
        assert descriptions.sent == 0
    # the server gone, what is queued fails at once: the thread ends within the test, not after
    # it (its warning would go to a closed capture)
    descriptions.stop()
    assert not descriptions._thread.is_alive()


# -- configuration -----------------------------------------------------------------------------------------
def test_pushed_sources_parse():
    assert parse_pushed("mqtt:esp32cam/+/jpeg") == TopicFrames("esp32cam/+/jpeg")
    assert parse_pushed("frigate:front_door") == FrigateFrames("front_door", ())
    assert parse_pushed("frigate:Front-Door/person, car") == FrigateFrames("Front-Door", ("person", "car"))
    assert parse_pushed("rtsp://cam/stream") is None and parse_pushed(0) is None


CAMERA = {"name": "a", "source": "mqtt:cams/a"}
BAD = [
    ({"cameras": [{**CAMERA, "source": "mqtt:"}]}, "cameras[0].source: 'mqtt:': expected mqtt:<topic>"),
    ({"cameras": [{**CAMERA, "source": "mqtt:a/b#"}]},
     "cameras[0].source: mqtt:a/b#: a wildcard must be a whole level, and # the last"),
    ({"cameras": [{**CAMERA, "source": "mqtt://broker/a"}]},
     "cameras[0].source: mqtt://broker/a: write mqtt:<topic>, not mqtt://...: the broker is mqtt.host"),
    ({"cameras": [{**CAMERA, "source": "mqtt:$share/g/a"}]}, "cameras[0].source: mqtt:$share/g/a: $-topics"),
    ({"cameras": [{**CAMERA, "source": "frigate:"}]}, "cameras[0].source: 'frigate:': expected frigate:"),
    ({"cameras": [{**CAMERA, "source": "frigate:door/per son"}]}, "cameras[0].source: 'frigate:door/per "
                                                                  "son': labels are Frigate's"),
    ({"cameras": [{"name": "a", "source": "sample", "max_frame_bytes": 9999}]},
     "cameras[0].max_frame_bytes: only for mqtt: and frigate: sources"),
    ({"cameras": [{**CAMERA, "max_frame_bytes": 10}]},
     "cameras[0].max_frame_bytes: expected an integer 1024..67108864, got 10"),
    ({"workers": {"group": "g"}}, 'workers: needs mqtt.protocol "5" (sessions that outlive a crash)'),
    ({"mqtt": {"protocol": "5"}, "workers": {}}, "workers.group: required"),
    ({"mqtt": {"protocol": "5"}, "workers": {"group": "a/b"}}, "workers.group: expected letters"),
    ({"mqtt": {"protocol": "5"}, "workers": {"group": "g", "member_id": "pi 2"}}, "workers.member_id: "),
    ({"mqtt": {"protocol": "5"}, "workers": {"group": "g", "session_expiry_s": -1}},
     "workers.session_expiry_s: expected an integer 0..4294967295, got -1"),
    ({"mqtt": {"protocol": "5"}, "workers": {"group": "g", "size": 2}}, "workers.size: unknown key"),
    ({"frigate": {"api_url": "frigate:5000"}}, "frigate.api_url: expected an http:// or https:// URL"),
    ({"frigate": {"topic_prefix": "frigate/#"}}, "frigate.topic_prefix: 'frigate/#' contains a wildcard"),
    ({"frigate": {"pair_window_s": 0}}, "frigate.pair_window_s: expected a number 0..60"),
]


@pytest.mark.parametrize("changes, expected", BAD)
def test_bad_keys_are_one_line_errors_naming_the_key(changes, expected):
    document = {"device_id": "house", "cameras": [CAMERA], **changes}
    with pytest.raises(BadInput) as caught:
        parse_document(document)
    assert str(caught.value).startswith(expected) and "\n" not in str(caught.value)


