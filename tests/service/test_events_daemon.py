"""Events end to end: the REAL daemon (`edge-captioner run`, the shipped default-en bundle), a
private Mosquitto, an `mqtt:` camera fed real photographs in turn.

A visit: a scene with no one (a brick house, opencv-doc's reg/home.png), a person (the package
photo of Grace Hopper), no one again. One `arrived` start, then its end (`left`), each once and in
order; the captions state the steady state; Home Assistant discovery announces the camera's event
entities; occupancy follows.

A delivery: the same, on a camera with a `front_door` zone (the doormat: the lower middle of the
frame), and when the person has gone a cardboard box is there: a real shipping carton CUT from
another real photograph (opencv-doc's ArUco tutorial photo, conversion/pretrained/box_photos.py)
and PASTED onto the empty scene, a fifth of the frame wide, on the doormat. arrived, box_left,
left, in order, each once. The box is found only because the box detector also looks at the
zone's crop (0.60 there, 0.17 on the whole frame; docs/box-detector.md, "Where a parcel would
be", has how often a pasted carton passes and that no box-free real photo does).

A lost camera: the person's frames stop; the visit ends marked `camera_lost` and the occupancy
clears."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml

from support.daemons import STARTUP_S, Daemon, child_env, wait_until
from support.mosquitto import MQTTCollector

pytestmark = pytest.mark.slow

BASE = "ec_events"
FRAMES = "cams/door/jpeg"
# the doormat of the scene, and where the carton is pasted on it (fractions of the frame)
DOORMAT = ((0.35, 0.7), (0.65, 0.7), (0.65, 1.0), (0.35, 1.0))
CARTON_WIDTH, CARTON_BOTTOM = 0.2, 0.95


def jpeg(frame: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", frame)[1].tobytes()


def scenes() -> tuple[np.ndarray, np.ndarray]:
    """The empty scene (512 x 512) and the person, as real photographs."""
    from conversion.pretrained import photos, real_photos, sources

    source = real_photos.SOURCES["opencv-doc"]
    if not (sources.default_cache() / source.archive).is_file():
        pytest.skip(f"not in the package cache: {source.archive} (python -m "
                    "conversion.pretrained.real_photos --list fetches it)")
    empty = real_photos.load_real_photo("ocv_reg_home", offline=True)
    empty = cv2.resize(empty, (512, 512), interpolation=cv2.INTER_CUBIC)
    return empty, photos.load_photo("grace_hopper")


def write_config(tmp_path: Path, port: int, stall_timeout_s: float = 60,
                 zones: dict | None = None) -> Path:
    config = tmp_path / "config.yaml"
    camera = {"name": "door", "source": f"mqtt:{FRAMES}", "interval_s": 0.2,
              "heartbeat_s": 600, "stall_timeout_s": stall_timeout_s, "place": "front door",
              "events": {"passing_s": 1.0, "absent_after_s": 1.5, "track_interval_s": 0.2}}
    if zones is not None:
        camera["zones"] = zones
    config.write_text(yaml.safe_dump({
        "device_id": "house",
        "mqtt": {"host": "127.0.0.1", "port": port, "base_topic": BASE,
                 "discovery": {"prefix": "ha"}, "spool_dir": str(tmp_path / "spool")},
        "model": {"bundle": "default-en"},
        "cameras": [camera],
        "logging": {"level": "INFO"}}, sort_keys=False))
    return config


@contextlib.contextmanager
def camera_feed(port: int) -> Iterator[Callable[[bytes, float], None]]:
    """send(jpeg, seconds): the frame published to the camera's topic every 0.2 s for so long."""
    import paho.mqtt.client as mqtt

    sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    sender.connect("127.0.0.1", port)
    sender.loop_start()

    def send(frame: bytes, seconds: float) -> None:
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            sender.publish(FRAMES, frame, qos=1).wait_for_publish(5)
            time.sleep(0.2)

    try:
        yield send
    finally:
        sender.loop_stop()
        sender.disconnect()


def started(daemon: Daemon, sub: MQTTCollector, send, first: bytes) -> None:
    """The daemon running and its first caption out (of `first`, sent until it is)."""
    daemon.wait_log("running:", STARTUP_S)
    deadline = time.monotonic() + 30
    while not sub.on(f"{BASE}/house/door/caption") and time.monotonic() < deadline:
        send(first, 0.5)


def run_daemon(mosquitto_broker, tmp_path, steps, zones=None) -> dict:
    """The daemon on one `mqtt:` camera sent `steps` ((jpeg, seconds), ...) after the first
    caption of the first one; what it published until its events ended."""
    broker = mosquitto_broker()
    config = write_config(tmp_path, broker.port, zones=zones)
    daemon = Daemon(config, tmp_path / "daemon.log", child_env())
    base = f"{BASE}/house/door"
    try:
        with camera_feed(broker.port) as send, \
                MQTTCollector(broker.port, [f"{BASE}/#", "ha/#"]) as sub:
            started(daemon, sub, send, steps[0][0])
            for frame, seconds in steps:
                send(frame, seconds)
            wait_until(lambda: any(json.loads(m.payload)["type"] == "arrived"
                                   and json.loads(m.payload)["phase"] == "end"
                                   for m in sub.on(f"{base}/event")), 15, "the end of the visit",
                       daemon)
            time.sleep(1.0)
            return {
                "events": [json.loads(m.payload) for m in sub.on(f"{base}/event")],
                "captions": [json.loads(m.payload)["caption"] for m in sub.on(f"{base}/caption")],
                "occupancy": [json.loads(m.payload) for m in sub.on(f"{base}/occupancy")],
                "configs": {m.topic for m in sub.messages if m.topic.startswith("ha/") and m.payload},
                "tail": daemon.tail()}
    finally:
        daemon.kill()


def test_a_person_arrives_and_leaves_through_the_daemon(mosquitto_broker, tmp_path):
    empty, person = (jpeg(f) for f in scenes())
    out = run_daemon(mosquitto_broker, tmp_path, [(empty, 2.0), (person, 5.0), (empty, 5.0)])
    events, captions = out["events"], out["captions"]
    occupancy = [o["person"] for o in out["occupancy"]]
    assert [(e["type"], e["phase"]) for e in events] == [("arrived", "start"),
                                                         ("arrived", "end")], out["tail"]
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
        assert f"ha/{key}/config" in out["configs"], key
    assert Path(tmp_path / "daemon.log").exists()


def test_a_delivery_is_arrived_box_left_left_through_the_daemon(mosquitto_broker, tmp_path):
    from conversion.pretrained import box_photos

    empty, person = scenes()
    delivered, _ = box_photos.pasted(empty, box_photos.carton("ocv_aruco_box", offline=True),
                                     CARTON_WIDTH, CARTON_BOTTOM)
    out = run_daemon(mosquitto_broker, tmp_path,
                     [(jpeg(empty), 2.0), (jpeg(person), 5.0), (jpeg(delivered), 6.0)],
                     zones={"front_door": [list(p) for p in DOORMAT]})
    events, captions = out["events"], out["captions"]
    assert [(e["type"], e["phase"]) for e in events] == [
        ("arrived", "start"), ("box_left", "end"), ("arrived", "end")], out["tail"]
    arrived, box, left = events
    assert arrived["id"] == left["id"] != box["id"]
    assert box["sentence"] == "a box was left at the front door" and box["zone"] == "front_door"
    assert [o["kind"] for o in box["objects"]] == ["box"]
    assert left["sentence"].startswith("a person left at the front door after ")
    assert captions[0] == "no one at the front door", captions
    assert captions[-1] == "a box at the front door", captions
    assert out["occupancy"][-1]["box"] == 1 and out["occupancy"][-1]["person"] == 0


def test_a_lost_camera_ends_the_visit_and_clears_the_occupancy(mosquitto_broker, tmp_path):
    """A person is at the door when the camera's frames stop: once the camera is lost
    (`stall_timeout_s`), the arrival ends marked `camera_lost` (not "left"), the occupancy is all
    zeros, and Home Assistant's occupancy sensors are unavailable while the state is `lost`."""
    empty, person = (jpeg(f) for f in scenes())
    broker = mosquitto_broker()
    config = write_config(tmp_path, broker.port, stall_timeout_s=2.0)
    daemon = Daemon(config, tmp_path / "daemon.log", child_env())
    base = f"{BASE}/house/door"
    try:
        with camera_feed(broker.port) as send, \
                MQTTCollector(broker.port, [f"{BASE}/#", "ha/#"]) as sub:
            started(daemon, sub, send, empty)
            send(empty, 1.0)
            deadline = time.monotonic() + 30
            while not sub.on(f"{base}/event") and time.monotonic() < deadline:
                send(person, 0.5)
            # the frames stop with the person there
            wait_until(lambda: len(sub.on(f"{base}/event")) >= 2, 15, "the camera lost", daemon)
            wait_until(lambda: json.loads(sub.on(f"{base}/occupancy")[-1].payload)["person"] == 0,
                       5, "the occupancy cleared", daemon)
            events = [json.loads(m.payload) for m in sub.on(f"{base}/event")]
            states = [m.payload.decode() for m in sub.on(f"{base}/state")]
            occupancy = [json.loads(m.payload)["person"] for m in sub.on(f"{base}/occupancy")]
            person_sensor = json.loads(next(m.payload for m in sub.messages
                                            if m.topic == "ha/binary_sensor/house/door_person/config"))
    finally:
        daemon.kill()
    assert [(e["type"], e["phase"], e["camera_lost"]) for e in events] == [
        ("arrived", "start", False), ("arrived", "end", True)], daemon.tail()
    assert events[1]["sentence"].startswith("the camera was lost; a person had been at the front "
                                            "door for ")
    assert states[-1] == "lost"
    assert 1 in occupancy and occupancy[-1] == 0
    assert f"{base}/state" in [a["topic"] for a in person_sensor["availability"]]
