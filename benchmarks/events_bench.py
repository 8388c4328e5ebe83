#!/usr/bin/env python3
"""What tracking and events add to each captioned frame: the worker's own code path (the steady
hook: observations, tracker, steady objects and place; then the event machine and occupancy),
timed per frame on scripted scenes of 1 to 20 moving objects with missed and spurious detections,
and the detections under the caption's thresholds that a detector also gives (each missed object
found unsure, and UNSURE more anywhere: tracks.TrackSettings.keep_score).

    PYTHONPATH=. python benchmarks/events_bench.py [--frames N] [--json]

The JPEG of an event's snapshot is timed apart: it is encoded only for an event message (a few a
visit), not per frame. Target (issue 30): at most 2 ms per frame.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import cv2
import numpy as np

from edge_captioner.config import CameraConfig
from edge_captioner.model.perception import Found
from edge_captioner.service.worker import CameraWorker
from edge_captioner.sources.frames import Frame

ZONES = {"front_door": [[0.3, 0.5], [0.7, 0.5], [0.7, 1.0], [0.3, 1.0]],
         "path": [[0.0, 0.6], [0.3, 0.6], [0.3, 1.0], [0.0, 1.0]]}
KINDS = ("person", "person", "car", "dog", "box", "person", "bicycle", "box")
UNSURE = 10  # detections under the thresholds (0.2 to 0.5) per frame, besides the missed objects


class Nothing:
    """A sink and a camera that do nothing: only the worker's own work is timed."""

    language, model_name, state = "en", "bench", "streaming"

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


@dataclass
class Result:
    findings: object


@dataclass
class Objects:
    objects: list


def scene(count: int, frames: int, seed: int = 0) -> list[tuple[list[Found], list[Found]]]:
    """`count` objects walking slowly, each missed in 10% of frames (and then found under its
    threshold), and a spurious one in 5%; and UNSURE detections under the thresholds anywhere."""
    rng = np.random.default_rng(seed)
    start = rng.uniform(0.05, 0.7, (count, 2))
    speed = rng.normal(0, 0.004, (count, 2))
    script = []
    for f in range(frames):
        found, under = [], []
        for i in range(count):
            x, y = np.clip(start[i] + speed[i] * f, 0.0, 0.75)
            if rng.random() < 0.1:
                under.append(Found(KINDS[i % 8], 0.3, (float(x), float(y), float(x) + 0.2,
                                                       float(y) + 0.25), KINDS[i % 8]))
                continue
            posture = ("standing", "sitting", "lying")[f // 200 % 3] if KINDS[i % 8] == "person" \
                else None
            found.append(Found(KINDS[i % 8], 0.8, (float(x), float(y), float(x) + 0.2,
                                                   float(y) + 0.25), KINDS[i % 8], posture))
        if rng.random() < 0.05:
            x, y = rng.uniform(0, 0.8, 2)
            found.append(Found("person", 0.6, (x, y, x + 0.1, y + 0.2), "person", "standing"))
        for x, y, score in rng.uniform((0, 0, 0.2), (0.8, 0.8, 0.5), (UNSURE, 3)):
            under.append(Found("person", float(score), (x, y, x + 0.1, y + 0.2), "person"))
        script.append((found, under))
    return script


def time_scene(count: int, frames: int) -> list[float]:
    config = CameraConfig(name="bench", source="bench", zones={
        k: tuple(tuple(p) for p in v) for k, v in ZONES.items()}, place="front door")
    worker = CameraWorker(config, Nothing(), Nothing(), Nothing())
    events = []
    tracking = worker.camera_events
    tracking.publish_event = events.append  # the JPEG is timed apart (see the module doc)
    image = np.zeros((480, 640, 3), np.uint8)
    wall0 = datetime(2026, 1, 1, tzinfo=UTC)
    spent, cpu = [], []
    for f, (found, under) in enumerate(scene(count, frames)):
        now = float(f)
        frame = Frame(image, f + 1, now, wall0 + timedelta(seconds=now))
        started, on_cpu = time.perf_counter(), time.thread_time()
        tracking.sampled(now)
        tracking.steady_hook(frame, now)(found, under)
        tracking.after_caption(frame, Result(Objects(found)), now)
        spent.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - on_cpu) * 1000)
    return spent, cpu, len(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = []
    for count in (1, 3, 8, 20):
        spent, cpu, events = time_scene(count, args.frames)
        spent.sort()
        cpu.sort()
        rows.append({"objects": count, "frames": len(spent), "event_messages": events,
                     "p50_ms": round(statistics.median(spent), 3),
                     "p95_ms": round(spent[int(len(spent) * 0.95)], 3),
                     "max_ms": round(spent[-1], 3),
                     # on a shared machine the wall clock's tail is other processes' time slices
                     "cpu_p50_ms": round(statistics.median(cpu), 3),
                     "cpu_p95_ms": round(cpu[int(len(cpu) * 0.95)], 3)})
    image = np.random.default_rng(1).integers(0, 255, (480, 640, 3), np.uint8)
    started = time.perf_counter()
    for _ in range(20):
        cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 80])
    jpeg_ms = (time.perf_counter() - started) * 1000 / 20
    if args.json:
        print(json.dumps({"per_frame": rows, "snapshot_jpeg_640x480_ms": round(jpeg_ms, 2)}))
        return
    print("tracking + events per captioned frame, ms: wall p50 / p95 / max, this thread's CPU "
          "p50 / p95")
    print("objects  frames  events  p50     p95     max     cpu p50 cpu p95")
    for r in rows:
        print(f"{r['objects']:7d}  {r['frames']:6d}  {r['event_messages']:6d}  {r['p50_ms']:6.3f}  "
              f"{r['p95_ms']:6.3f}  {r['max_ms']:6.3f}  {r['cpu_p50_ms']:6.3f}  "
              f"{r['cpu_p95_ms']:6.3f}")
    print(f"an event's snapshot JPEG (640x480, per event message, not per frame): {jpeg_ms:.2f} ms")


if __name__ == "__main__":
    main()
