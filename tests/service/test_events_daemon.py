"""Events end to end: the REAL daemon (`edge-captioner run`, the shipped default-en bundle), a
private Mosquitto, an `mqtt:` camera fed real photographs in turn: a scene with no one (a brick
house, opencv-doc's reg/home.png), a person (the package photo of Grace Hopper), no one again. One
`arrived` start, then its end (`left`), each once and in order; the captions state the steady
state; Home Assistant discovery announces the camera's event entities; occupancy follows.

No box: the shipped box detector scores no real photograph of a carton over the box threshold
0.5 (docs/box-detector.md: 0.25 on the one real carton), and the same carton pasted at doorstep
size onto 115 real photos reaches 0.5 on none at widths up to 0.3 of the frame, on the whole
frame or on a crop of a door zone ("Where a parcel would be"); so a delivery from real
photographs cannot show `box_left` with the shipped bundle (tests/device/test_box_doorstep.py
holds that), and the box rules are tested on scripted findings (tests/unit/
test_events_worker.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import cv2
import pytest
import yaml

from support.daemons import STARTUP_S, Daemon, child_env, wait_until
from support.mosquitto import MQTTCollector

pytestmark = pytest.mark.slow

BASE = "ec_events"
FRAMES = "cams/door/jpeg"


def photographs() -> tuple[bytes, bytes]:
    from conversion.pretrained import photos, real_photos, sources

    source = real_photos.SOURCES["opencv-doc"]
    if not (sources.default_cache() / source.archive).is_file():
        pytest.skip(f"not in the package cache: {source.archive} (python -m "
                    "conversion.pretrained.real_photos --list fetches it)")
    empty = real_photos.load_real_photo("ocv_reg_home", offline=True)
    empty = cv2.resize(empty, (512, 512), interpolation=cv2.INTER_CUBIC)
    person = photos.load_photo("grace_hopper")
    return (cv2.imencode(".jpg", empty)[1].tobytes(), cv2.imencode(".jpg", person)[1].tobytes())


def test_a_person_arrives_and_leaves_through_the_daemon(mosquitto_broker, tmp_path):
    empty, person = photographs()
    broker = mosquitto_broker()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "device_id": "house",
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "base_topic": BASE,
                 "discovery": {"prefix": "ha"}, "spool_dir": str(tmp_path / "spool")},
        "model": {"bundle": "default-en"},
        "cameras": [{"name": "door", "source": f"mqtt:{FRAMES}", "interval_s": 0.2,
                     "heartbeat_s": 600, "stall_timeout_s": 60, "place": "front door",
                     "events": {"passing_s": 1.0, "absent_after_s": 1.5,
                                "track_interval_s": 0.2}}],
        "logging": {"level": "INFO"}}, sort_keys=False))
    import paho.mqtt.client as mqtt

    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sender.connect("127.0.0.1", broker.port)
    sender.loop_start()
    daemon = Daemon(config, tmp_path / "daemon.log", child_env())
    base = f"{BASE}/house/door"

    def send(jpeg: bytes, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            sender.publish(FRAMES, jpeg, qos=1).wait_for_publish(5)
            time.sleep(0.2)

    try:
        with MQTTCollector(broker.port, [f"{BASE}/#", "ha/#"]) as sub:
            daemon.wait_log("running:", STARTUP_S)
            deadline = time.monotonic() + 30
            while not sub.on(f"{base}/caption") and time.monotonic() < deadline:
                send(empty, 0.5)
            send(empty, 2.0)
            send(person, 5.0)
            send(empty, 5.0)
            wait_until(lambda: len(sub.on(f"{base}/event")) >= 2, 15, "the end of the visit", daemon)
            time.sleep(1.0)
            events = [json.loads(m.payload) for m in sub.on(f"{base}/event")]
            captions = [json.loads(m.payload)["caption"] for m in sub.on(f"{base}/caption")]
            occupancy = [json.loads(m.payload)["person"] for m in sub.on(f"{base}/occupancy")]
            configs = {m.topic for m in sub.messages if m.topic.startswith("ha/") and m.payload}
    finally:
        sender.loop_stop()
        sender.disconnect()
        daemon.kill()
    assert [(e["type"], e["phase"]) for e in events] == [("arrived", "start"),
                                                         ("arrived", "end")], daemon.tail()
    assert events[0]["id"] == events[1]["id"]
    assert events[0]["sentence"] == "a person arrived at the front door"
    assert events[1]["sentence"].startswith("a person left at the front door after ")
    assert events[1]["duration_s"] >= 4.0 and events[0]["snapshot"] is True
    # the steady state: no one, the person, no one; never a flicker in between
    assert captions[0] == "no one at the front door" and captions[-1] == captions[0]
    assert len(captions) == 3 and "person" in captions[1], captions
    assert occupancy[0] == 0 and 1 in occupancy and occupancy[-1] == 0
    for key in ("event/house/door_events", "binary_sensor/house/door_person",
                "binary_sensor/house/door_possible_fall", "image/house/door_event_snapshot"):
        assert f"ha/{key}/config" in configs, key
    assert Path(tmp_path / "daemon.log").exists()
