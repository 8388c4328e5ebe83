"""Hostile and damaged frames over an `mqtt:` camera, end to end: the REAL daemon with the default
bundle, a private Mosquitto, and frames published by the test. A 675-byte JPEG that says it is
16000x16000, one over the pixel limit, and JPEGs that libjpeg reports damaged are each dropped with
one log line per kind (and are never captioned); the camera goes on; the daemon's peak memory (its
VmHWM) stays under the bound the README states, also after the largest frames the limit lets
through (4096x4096, and 8192x2048, the widest: the detector letterboxes it to an 8192-pixel square)."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import cv2
import numpy as np
import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from support.daemons import STARTUP_S, sample_frames, wait_until
from support.hostile_images import black_png, cut_with_end_marker, jpeg_claiming, with_extraneous_bytes
from support.mosquitto import MQTTCollector

pytestmark = pytest.mark.slow

BASE = "ec_hostile"
FRAMES = "cams/porch/jpeg"
CAPTIONS = f"{BASE}/house/porch/caption"
# README "Memory": the daemon with the default bundle and one camera fed over MQTT
STATED_BOUND_MB = 500


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


class Frames:
    """JPEGs on the camera's topic, QoS 1, each with its id as the MQTT 5 user property `frame`."""

    def __init__(self, port: int):
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, payload: bytes, frame_id: str) -> None:
        properties = Properties(PacketTypes.PUBLISH)
        properties.UserProperty = [("frame", frame_id)]
        self.client.publish(FRAMES, payload, qos=1, properties=properties).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def encode(image: np.ndarray) -> bytes:
    return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def test_hostile_and_damaged_frames_are_dropped_and_memory_stays_bounded(mosquitto_broker, run_daemon,
                                                                          tmp_path):
    broker = mosquitto_broker()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({
        "device_id": "house",
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "protocol": "5", "base_topic": BASE,
                 "discovery": {"enabled": False}},
        "model": {"bundle": "default-en"},
        "cameras": [{"name": "porch", "source": f"mqtt:{FRAMES}", "interval_s": 0.1,
                     "heartbeat_s": 60, "scene_change_threshold": 0, "stall_timeout_s": 120}],
        "logging": {"level": "DEBUG"},  # a caption not published (unchanged text) is logged
    }, sort_keys=False))
    scene_a, scene_b = sample_frames(0, 48)
    good_a, good_b = encode(scene_a), encode(scene_b)
    frames = Frames(broker.port)
    try:
        with MQTTCollector(broker.port, [CAPTIONS]) as sub:
            def captioned() -> set[str]:
                return {json.loads(m.payload).get("frame_id", "") for m in sub.on(CAPTIONS)}

            daemon = run_daemon(config)
            daemon.wait_log("running:", STARTUP_S)
            deadline = time.monotonic() + 20
            while not captioned() and time.monotonic() < deadline:  # until its source subscribed
                frames.send(good_a, "boot")
                time.sleep(0.3)
            wait_until(lambda: "boot" in captioned(), 60, "a caption of a good frame", daemon)
            at_rest = peak_rss_mb(daemon.pid)

            hostile = {
                "huge-1": jpeg_claiming(16000, 16000),
                "huge-2": jpeg_claiming(16000, 16000),
                "over-limit": jpeg_claiming(8000, 8000),
                "png": black_png(20000, 20000),
                "extraneous": with_extraneous_bytes(good_b, 200),
                "cut": cut_with_end_marker(good_b),
            }
            for frame_id, payload in hostile.items():
                frames.send(payload, frame_id)
                time.sleep(0.2)
            # the camera's steady state (docs/events.md) confirms a new scene after two frames
            deadline = time.monotonic() + 60
            while "after" not in captioned() and time.monotonic() < deadline:
                frames.send(good_b, "after")
                time.sleep(0.5)
            wait_until(lambda: "after" in captioned(), 5, "a caption after the hostile frames", daemon)
            after_hostile = peak_rss_mb(daemon.pid)

            # the largest frames the default limit lets through, captioned (published or not)
            def processed(frame_id: str) -> bool:
                return frame_id in captioned() or f"caption of frame {frame_id} unchanged" in daemon.log()

            at_the_limit = {}
            for frame_id, scene in (("4096x4096", scene_a), ("8192x2048", scene_b)):
                width, height = map(int, frame_id.split("x"))
                frames.send(encode(cv2.resize(scene, (width, height))), frame_id)
                wait_until(lambda f=frame_id: processed(f), 30, f"a caption of {frame_id}", daemon)
                at_the_limit[frame_id] = peak_rss_mb(daemon.pid)
            seen = captioned()
        assert daemon.signal(signal.SIGTERM) == 0
    finally:
        frames.close()

    print(f"daemon peak RSS: {at_rest:.0f} MB captioning 320x240 frames, {after_hostile:.0f} MB after "
          f"the hostile ones, {at_the_limit['4096x4096']:.0f} MB after a 4096x4096 frame, "
          f"{at_the_limit['8192x2048']:.0f} MB after a 8192x2048 one (stated bound {STATED_BOUND_MB} MB)")
    assert after_hostile - at_rest < 20  # nothing of theirs was decoded
    assert max(at_the_limit.values()) < STATED_BOUND_MB
    assert not seen & set(hostile), seen & set(hostile)
    log = daemon.log()
    dropped = "camera porch: frame on cams/porch/jpeg dropped: "
    # one line per kind a minute: the 8000x8000 frame (over the pixel limit) is counted, not logged
    assert len(re.findall(dropped + "16000x16000 pixels, wider or taller than 8192", log)) == 1, log
    assert dropped + "not a JPEG" in log
    assert re.search(re.escape(dropped) + r"damaged JPEG data \(libjpeg: Corrupt JPEG data: \d+ "
                     r"extraneous bytes before marker 0xd9\)", log), log
    # the second damaged frame within the minute is counted, not logged; libjpeg's own lines never
    assert log.count("damaged JPEG data") == 1
    assert not re.search(r"^(Corrupt JPEG data|Premature end of JPEG)", log, re.MULTILINE), log
