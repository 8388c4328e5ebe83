"""Cameras fed over MQTT, end to end: the REAL daemon (`edge-captioner run`) with the default
bundle, a private Mosquitto, JPEG frames published by the test, Frigate-shaped traffic from
scripts/fake_frigate.py, a local HTTP server standing in for Frigate's API, and a pool of two
daemons sharing a camera's frames (issue 23)."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.daemons import STARTUP_S, Daemon, child_env, retained, wait_until
from support.frigate_api import FrigateAPI
from support.mosquitto import MQTTCollector
from support.paths import REPO as ROOT
from support.paths import SAMPLE_CLIP

pytestmark = pytest.mark.slow

BASE = "ec_mqttcams"
FRAMES = "cams/porch/jpeg"


@pytest.fixture
def daemons(tmp_path, request):
    """daemons(config) -> a started Daemon; killed at teardown, logs printed if the test failed."""
    started: list[Daemon] = []
    failed_before = request.session.testsfailed

    def start(config: Path) -> Daemon:
        daemon = Daemon(config, tmp_path / f"daemon{len(started)}.log", child_env())
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()
        if request.session.testsfailed > failed_before:
            print(daemon.tail(6000))


def sample_jpeg(index: int = 0) -> bytes:
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    for _ in range(index + 1):
        ok, image = capture.read()
    capture.release()
    assert ok
    return cv2.imencode(".jpg", image)[1].tobytes()


class FramePublisher:
    """JPEGs on a topic, QoS 1, each with its id as the MQTT 5 user property `frame`."""

    def __init__(self, port: int):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, payload: bytes, frame_id: str | None = None, topic: str = FRAMES) -> None:
        properties = Properties(PacketTypes.PUBLISH)
        if frame_id is not None:
            properties.UserProperty = [("frame", frame_id)]
        self.client.publish(topic, payload, qos=1, properties=properties).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def write_config(path: Path, port: int, cameras: list[dict], **top) -> Path:
    document = {"device_id": top.pop("device_id", "house"),
                "mqtt": {"host": "127.0.0.1", "port": port, "protocol": "5", "base_topic": BASE,
                         "discovery": {"prefix": "ha"}, "spool_dir": str(path.parent / "spool")},
                "model": {"bundle": "default-en"}, "cameras": cameras,
                "logging": {"level": "INFO"}, **top}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def caption_payloads(sub: MQTTCollector, camera: str, device: str = "house") -> list[dict]:
    return [json.loads(m.payload) for m in sub.on(f"{BASE}/{device}/{camera}/caption") if m.payload]


def test_mqtt_and_frigate_cameras_caption_like_any_other(mosquitto_broker, daemons, tmp_path):
    """One daemon, two pushed cameras: JPEGs on a topic (with a bad payload in the middle) and
    Frigate's events from scripts/fake_frigate.py, whose captions carry the event and are written
    into Frigate's event descriptions; their states and Home Assistant entities as for any camera."""
    broker = mosquitto_broker()
    api = FrigateAPI()
    config = write_config(tmp_path / "config.yaml", broker.port, [
        {"name": "porch", "source": f"mqtt:{FRAMES}", "interval_s": 0.2, "heartbeat_s": 0.2,
         "scene_change_threshold": 0, "stall_timeout_s": 60},
        {"name": "door", "source": "frigate:front_door/person"},
    ], frigate={"api_url": api.url})
    frames = FramePublisher(broker.port)
    jpeg = sample_jpeg()
    try:
        with MQTTCollector(broker.port, [f"{BASE}/#"]) as sub:
            daemon = daemons(config)
            daemon.wait_log("running:", STARTUP_S)
            # until the frame source has subscribed, frames go nowhere: send until one is captioned
            deadline = time.monotonic() + 20
            sent = 0
            while not caption_payloads(sub, "porch") and time.monotonic() < deadline:
                sent += 1
                frames.send(jpeg, f"boot-{sent}")
                time.sleep(0.3)
            first = caption_payloads(sub, "porch")
            assert first and first[0]["frame_id"].startswith("boot-"), daemon.tail()
            assert first[0]["caption"] and "frigate" not in first[0] and "worker" not in first[0]

            frames.send(b'{"battery": 80}', "junk-1")
            frames.send(jpeg[: len(jpeg) // 2], "cut-1")
            frames.send(b"not a jpeg either", "junk-2")
            time.sleep(0.3)
            for frame_id in ("after-1", "after-2"):
                frames.send(jpeg, frame_id)
                time.sleep(0.4)
            wait_until(lambda: {"after-1", "after-2"} <= {p.get("frame_id") for p in
                                                          caption_payloads(sub, "porch")},
                       10, "captions of the frames after the bad ones", daemon)

            fake = subprocess.run([sys.executable, str(ROOT / "scripts" / "fake_frigate.py"),
                                   "--port", str(broker.port), "--camera", "front_door",
                                   "--label", "person", "--events", "2", "--updates", "1",
                                   "--interval", "0.5"],
                                  capture_output=True, text=True, timeout=60, check=True)
            event_ids = fake.stdout.split()
            assert len(event_ids) == 2
            wait_until(lambda: len(caption_payloads(sub, "door")) >= 4, 60,
                       "a caption of each event's first and better snapshot", daemon)
            wait_until(lambda: len(api.posts) >= 4, 60, "4 descriptions written to Frigate", daemon)
            time.sleep(1.0)  # nothing more: the end messages ask for no caption
            door = caption_payloads(sub, "door")
            states = {m.topic: m.payload for m in sub.messages if m.topic.endswith("/state")}
        assert daemon.signal(signal.SIGTERM) == 0
    finally:
        frames.close()
        api.shutdown()

    assert [p["frigate"]["event_id"] for p in door] == [event_ids[0]] * 2 + [event_ids[1]] * 2
    assert all(p["frigate"]["camera"] == "front_door" and p["frigate"]["label"] == "person"
               and p["caption"] for p in door)
    assert [p["seq"] for p in door] == [1, 2, 3, 4]
    assert sorted(path for path, _ in api.posts) == sorted(
        f"/api/events/{event_id}/description" for event_id in event_ids for _ in range(2))
    assert {body["description"] for _, body in api.posts} <= {p["caption"] for p in door}

    log = daemon.log()
    assert len(re.findall(r"camera porch: frame on cams/porch/jpeg dropped: not a JPEG", log)) == 1
    assert len(re.findall(r"camera porch: frame on cams/porch/jpeg dropped: truncated JPEG", log)) == 1
    porch_ids = [p.get("frame_id", "") for p in caption_payloads(sub, "porch")]
    assert not [frame_id for frame_id in porch_ids if frame_id.startswith(("junk", "cut"))]
    assert states == {f"{BASE}/house/porch/state": b"streaming", f"{BASE}/house/door/state": b"streaming"}
    discovery = retained(broker.port, "ha/#")
    porch = sorted(t.replace("porch", "CAM") for t in discovery if "/porch_" in t)
    door_entities = sorted(t.replace("door", "CAM") for t in discovery if "/door_" in t)
    # the mqtt: camera tracks and has the event entities too; the frigate: one does not (Frigate
    # tracks its objects: docs/events.md)
    events = {f"ha/{c}/house/CAM_{k}/config" for c, k in (
        ("event", "events"), ("binary_sensor", "person"), ("binary_sensor", "vehicle"),
        ("binary_sensor", "animal"), ("binary_sensor", "box"), ("binary_sensor", "possible_fall"),
        ("image", "event_snapshot"))}
    assert events <= set(porch) and not events & set(door_entities)
    assert porch and sorted(set(porch) - events) == door_entities, (porch, door_entities)


def test_a_pool_of_two_daemons_captions_each_frame_once_in_order(mosquitto_broker, daemons, tmp_path):
    broker = mosquitto_broker(extra="log_type subscribe")  # "<client id> <qos> <filter>" per subscription
    camera = {"name": "porch", "source": f"mqtt:{FRAMES}", "scene_change_threshold": 0,
              "interval_s": 0.001, "heartbeat_s": 0.001, "stall_timeout_s": 60}
    members = []
    for member in ("w1", "w2"):
        (tmp_path / member).mkdir()
        members.append(write_config(tmp_path / member / "config.yaml", broker.port, [camera],
                                    workers={"group": "captioners", "member_id": member}))
    frames = FramePublisher(broker.port)
    jpegs = [sample_jpeg(i * 7) for i in range(4)]
    ids = [f"f{i}" for i in range(30)]
    try:
        with MQTTCollector(broker.port, [f"{BASE}/#"]) as sub:
            w1, w2 = daemons(members[0]), daemons(members[1])
            for daemon in (w1, w2):
                daemon.wait_log("running:", STARTUP_S)
            # both frame sources in the share group (a frame sent before goes to no one)
            wait_until(lambda: all(f"edge-captioner-house-{m}-cam-porch 1 $share/captioners/{FRAMES}"
                                   in broker.log() for m in ("w1", "w2")), 20,
                       "the frame sources' subscriptions", w1)
            for i, frame_id in enumerate(ids):
                frames.send(jpegs[i % 4], frame_id)
                # slower than two members caption on a loaded two-core machine: a member keeps
                # only the newest frame, so one sent while it is busy would replace the last
                time.sleep(1.0)
            wait_until(lambda: len(caption_payloads(sub, "porch")) >= 28, 90, "the captions", w1)
            time.sleep(1.0)
            payloads = caption_payloads(sub, "porch")
            # one member stops: its `offline` is answered by the other's `online`
            assert w1.signal(signal.SIGTERM) == 0
            wait_until(lambda: sub.on(f"{BASE}/house/status")[-1:] and
                       sub.on(f"{BASE}/house/status")[-1].payload == b"online", 10,
                       "the remaining member says online", w2)
        assert retained(broker.port, f"{BASE}/house/status")[f"{BASE}/house/status"].payload == b"online"
        assert w2.signal(signal.SIGTERM) == 0
    finally:
        frames.close()

    fenced = re.findall(r"caption of frame (\S+) not published", w1.log() + w2.log())
    captioned = [p["frame_id"] for p in payloads]
    assert len(captioned) == len(set(captioned)), "a frame captioned twice"
    assert set(captioned) | set(fenced) == set(ids), sorted(set(ids) - set(captioned) - set(fenced))
    assert {p["worker"] for p in payloads} == {"w1", "w2"}
    stamps = [p["timestamp"] for p in payloads]
    seqs = [p["seq"] for p in payloads]
    assert stamps == sorted(stamps), "captions out of order"
    assert seqs == sorted(seqs) and len(set(seqs)) >= len(seqs) - 2, seqs
    assert retained(broker.port, f"{BASE}/house/status")[f"{BASE}/house/status"].payload == b"offline"
