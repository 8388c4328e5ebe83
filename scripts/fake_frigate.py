#!/usr/bin/env python3
"""Publish Frigate-shaped MQTT traffic, to try a Frigate camera without Frigate.

For each of --events tracked objects it publishes what Frigate does (docs/docs/integrations/mqtt.md
of blakeblackshear/frigate): the retained JPEG on <prefix>/<camera>/<label>/snapshot, then a "new"
message on <prefix>/events; --updates "update" messages each with a better snapshot (a new
snapshot.frame_time and a new JPEG); an "end" message. `<prefix>/available` is "online" (retained).

    python scripts/fake_frigate.py --port 1883 --camera front_door --label person --events 3

The pictures are frames of the bundled sample clip (or --image FILE), so captions say something.
Each event's id is printed, one per line, as `<id>`.
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import time
from pathlib import Path

import cv2
import paho.mqtt.client as mqtt

SAMPLE = Path(__file__).resolve().parents[1] / "edge_captioner" / "data" / "sample_porch.mp4"


def event_message(kind: str, event_id: str, camera: str, label: str, snapshot_time: float,
                  score: float, end_time: float | None = None) -> dict:
    """One frigate/events message (the fields the documentation shows that matter here)."""
    after = {
        "id": event_id, "camera": camera, "label": label, "sub_label": None,
        "frame_time": snapshot_time, "score": score, "top_score": score,
        "snapshot": {"frame_time": snapshot_time, "box": [10, 10, 100, 200], "area": 17100,
                     "region": [0, 0, 320, 320], "score": score, "attributes": []},
        "false_positive": False, "start_time": float(event_id.split("-")[0]),
        "end_time": end_time, "has_snapshot": True, "has_clip": False, "current_zones": [],
        "entered_zones": [], "stationary": False, "active": True,
    }
    before = dict(after, false_positive=kind == "new")
    return {"type": kind, "before": before, "after": after}


def new_event_id(now: float) -> str:
    return f"{now:.6f}-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=6))


def pictures(image: str | None, count: int) -> list[bytes]:
    if image:
        frame = cv2.imread(image)
        if frame is None:
            sys.exit(f"fake_frigate: cannot read {image}")
        frames = [frame] * count
    else:
        capture = cv2.VideoCapture(str(SAMPLE))
        frames = []
        while len(frames) < count:
            ok, frame = capture.read()
            if not ok:
                capture.release()
                capture = cv2.VideoCapture(str(SAMPLE))
                continue
            frames.append(frame)
            for _ in range(7):  # spread over the clip
                capture.grab()
        capture.release()
    return [cv2.imencode(".jpg", f)[1].tobytes() for f in frames]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883)
    parser.add_argument("--prefix", default="frigate")
    parser.add_argument("--camera", default="front_door")
    parser.add_argument("--label", default="person")
    parser.add_argument("--events", type=int, default=1)
    parser.add_argument("--updates", type=int, default=1, help="better snapshots per event")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between messages")
    parser.add_argument("--image", help="a picture to send instead of frames of the sample clip")
    args = parser.parse_args(argv)

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                         client_id=f"fake-frigate-{random.randrange(1 << 30)}")
    client.connect(args.host, args.port, 30)
    client.loop_start()

    def send(topic: str, payload: bytes | str, retain: bool = False) -> None:
        client.publish(f"{args.prefix}/{topic}", payload, qos=1, retain=retain).wait_for_publish(10)

    send("available", "online", retain=True)
    jpegs = iter(pictures(args.image, args.events * (args.updates + 1)))
    for _ in range(args.events):
        event_id = new_event_id(time.time())
        print(event_id, flush=True)
        score = 0.7
        for step in range(args.updates + 1):
            snapshot_time = time.time()
            send(f"{args.camera}/{args.label}/snapshot", next(jpegs), retain=True)
            kind = "new" if step == 0 else "update"
            send("events", json.dumps(event_message(kind, event_id, args.camera, args.label,
                                                    snapshot_time, score)))
            score = min(score + 0.1, 0.99)
            time.sleep(args.interval)
        send("events", json.dumps(event_message("end", event_id, args.camera, args.label,
                                                snapshot_time, score, end_time=time.time())))
    client.disconnect()
    client.loop_stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
