"""MQTT frame sources against a REAL Mosquitto (a private one per test, tests/support/mosquitto.py):
JPEG frames in, bad payloads dropped with a log line, shared subscriptions, redelivery of what a
killed worker had not acknowledged, and Frigate-shaped traffic from scripts/fake_frigate.py."""

from __future__ import annotations

import logging
import subprocess
import sys
import time

import cv2
import numpy as np

from edge_captioner.config import MQTTConfig
from edge_captioner.frigate.source import FrigateCamera, FrigateSource
from edge_captioner.sources.mqtt_jpeg import FrameTopic, MQTTFrameSource
from support.mosquitto import publish
from support.paths import REPO as ROOT

TOPIC = "cams/porch/jpeg"


def jpeg(value: int) -> bytes:
    return cv2.imencode(".jpg", np.full((48, 64, 3), value, np.uint8))[1].tobytes()


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def source(broker, name="porch", frames=None, protocol="3.1.1", client_id=None, **kwargs):
    states = []
    src = MQTTFrameSource(name, frames or FrameTopic(TOPIC, stall_timeout_s=30),
                          MQTTConfig(host="127.0.0.1", port=broker.port, protocol=protocol),
                          client_id or f"test-{name}", on_state=lambda n, s: states.append(s),
                          reconnect_delay=(0.1, 0.5), **kwargs)
    src.states = states
    src.start()
    assert wait_until(lambda: src.connected), "not connected"
    time.sleep(0.2)  # the SUBACK
    return src


def test_jpeg_frames_published_on_the_topic_come_out_of_latest(mosquitto_broker):
    broker = mosquitto_broker()
    src = source(broker)
    try:
        publish(broker.port, TOPIC, jpeg(50))
        first = src.latest(0, timeout=5)
        assert first is not None and first.seq == 1 and first.image.shape == (48, 64, 3)
        assert abs(int(first.image[0, 0, 0]) - 50) <= 2
        assert wait_until(lambda: src.state == "streaming")
        publish(broker.port, TOPIC, jpeg(200))
        second = src.latest(first.seq, timeout=5)
        assert second.seq == 2 and abs(int(second.image[0, 0, 0]) - 200) <= 2
        assert src.frames_read == 2 and src.states == ["streaming"]
    finally:
        src.stop()


def test_bad_payloads_are_dropped_with_one_line_and_the_camera_goes_on(mosquitto_broker, caplog):
    broker = mosquitto_broker()
    src = source(broker)
    try:
        with caplog.at_level(logging.WARNING, "edge_captioner.sources.mqtt_jpeg"):
            publish(broker.port, TOPIC, b'{"battery": 80}')
            publish(broker.port, TOPIC, b'{"battery": 79}')
            publish(broker.port, TOPIC, jpeg(90)[:-300])
            publish(broker.port, TOPIC, b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024))
            publish(broker.port, TOPIC, jpeg(90))
            frame = src.latest(0, timeout=5)
        assert frame is not None and frame.seq == 1
        assert src.bad_frames == 4 and src.frames_read == 1
        lines = [r.getMessage() for r in caplog.records]
        assert len(lines) == 3, lines  # the second non-JPEG is counted, not logged
        assert lines[0] == f"camera porch: frame on {TOPIC} dropped: not a JPEG (starts with b'{{\"batter')"
        assert lines[1].startswith(f"camera porch: frame on {TOPIC} dropped: truncated JPEG")
        assert "over the 4194304-byte limit" in lines[2]
    finally:
        src.stop()


def test_a_camera_that_stops_publishing_is_lost_and_comes_back(mosquitto_broker):
    broker = mosquitto_broker()
    src = source(broker, frames=FrameTopic(TOPIC, stall_timeout_s=0.5))
    try:
        publish(broker.port, TOPIC, jpeg(10))
        assert wait_until(lambda: src.state == "streaming")
        assert wait_until(lambda: src.state == "lost", timeout=3)
        publish(broker.port, TOPIC, jpeg(20))
        assert wait_until(lambda: src.state == "streaming")
        broker.stop()
        assert wait_until(lambda: src.state == "lost", timeout=3)
        assert src.states == ["streaming", "lost", "streaming", "lost"]
    finally:
        src.stop()


def test_a_shared_subscription_gives_each_frame_to_one_member(mosquitto_broker):
    broker = mosquitto_broker()
    group = FrameTopic(TOPIC, share_group="captioners", stall_timeout_s=30)
    a = source(broker, "a", frames=group, client_id="worker-a")
    b = source(broker, "b", frames=group, client_id="worker-b")
    seen = {"a": [], "b": []}
    try:
        for value in range(10, 110, 10):
            publish(broker.port, TOPIC, jpeg(value))
            for name, src in (("a", a), ("b", b)):
                last = seen[name][-1][0] if seen[name] else 0
                got = src.latest(last, timeout=0.3)
                if got is not None:
                    seen[name].append((got.seq, int(got.image[0, 0, 0])))
        values = sorted(v for name in seen for _, v in seen[name])
        assert [round(v, -1) for v in values] == list(range(10, 110, 10))  # each once, none lost
        assert len(seen["a"]) == 5 and len(seen["b"]) == 5  # Mosquitto: round robin
    finally:
        a.stop()
        b.stop()


WORKER = """
import sys, time
sys.path.insert(0, {root!r})
from edge_captioner.config import MQTTConfig
from edge_captioner.sources.mqtt_jpeg import FrameTopic, MQTTFrameSource
src = MQTTFrameSource("w", FrameTopic({topic!r}, share_group="g", stall_timeout_s=30),
                      MQTTConfig(host="127.0.0.1", port={port}, protocol="5"), "worker-killed",
                      session_expiry_s=300)
src.start()
frame = src.latest(0, timeout=10)
print("TOOK", frame.seq, int(frame.image[0, 0, 0]), flush=True)
time.sleep(60)  # "captioning" until killed
"""


def test_a_killed_worker_gets_its_unacknowledged_frame_again_when_it_comes_back(mosquitto_broker):
    """Mosquitto keeps what a killed member of a share group had not acknowledged in that member's
    session (MQTT 5, session expiry > 0) and gives it back to it, not to the others."""
    broker = mosquitto_broker()
    script = WORKER.format(root=str(ROOT), topic=TOPIC, port=broker.port)
    worker = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(1.5)  # connected and subscribed
        publish(broker.port, TOPIC, jpeg(70))
        line = worker.stdout.readline().split()
        assert line[:2] == ["TOOK", "1"] and abs(int(line[2]) - 70) <= 2
        worker.kill()
        worker.wait(10)
        back = source(broker, "w", frames=FrameTopic(TOPIC, share_group="g", stall_timeout_s=30),
                      protocol="5", client_id="worker-killed", session_expiry_s=300)
        try:
            again = back.latest(0, timeout=5)
            assert again is not None and abs(int(again.image[0, 0, 0]) - 70) <= 2
        finally:
            back.stop()
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait(10)


def test_frigate_events_and_snapshots_from_the_fake_frigate_script(mosquitto_broker):
    broker = mosquitto_broker()
    states = []
    src = FrigateSource("door", FrigateCamera("front_door", labels=("person",)),
                        MQTTConfig(host="127.0.0.1", port=broker.port), "test-frigate",
                        on_state=lambda n, s: states.append(s), reconnect_delay=(0.1, 0.5))
    src.start()
    try:
        assert wait_until(lambda: src.state == "streaming")
        fake = subprocess.Popen([sys.executable, str(ROOT / "scripts" / "fake_frigate.py"), "--port",
                                 str(broker.port), "--events", "2", "--updates", "1",
                                 "--interval", "0.3"], stdout=subprocess.PIPE, text=True)
        # the worker takes each frame as it comes (latest frame wins: one not taken is superseded)
        frames, seq = [], 0
        while (frame := src.latest(seq, timeout=2)) is not None or fake.poll() is None:
            if frame is not None:
                frames.append(frame)
                seq = frame.seq
        event_ids = fake.stdout.read().split()
        assert fake.wait(10) == 0
        assert all(f.event is not None for f in frames)
        # per event: "new" and one "update" with a better snapshot; "end" adds nothing
        assert [(f.event.id, f.event.type) for f in frames] == [
            (event_ids[0], "new"), (event_ids[0], "update"),
            (event_ids[1], "new"), (event_ids[1], "update")]
        assert frames[0].image.ndim == 3 and src.bad_frames == 0
        publish(broker.port, "frigate/available", "offline", retain=True)
        assert wait_until(lambda: src.state == "lost")
        assert states == ["streaming", "lost"]
    finally:
        src.stop()
