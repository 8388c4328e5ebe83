#!/usr/bin/env python3
"""The tracker's still-scene settings (tracks.TrackSettings) tried on real still scenes, fast: each
still's frames are run through the bundle's perception once and the findings cached; then the real
`CameraWorker` (gate, tracker, events) replays them for each setting, with an engine that builds the
caption's facts from the cached findings as `Captioner.caption` does (the bundle's own
`steady_objects` and `facts`) and states them canonically. A change is a caption whose facts
changed; experiments/events_clips.py gives the figures through the real decoder.

    PYTHONPATH=. python experiments/events_tune.py --record 0:26
    PYTHONPATH=. python experiments/events_tune.py --tune 0:6 --report 6:26

Stills are the fresh photos with a person (events_clips.still_photos, by name), numbered from 0 as
there; `A:B` is numbers A to B-1. The same seeds as events_clips.py: the same noisy frames.
"""

from __future__ import annotations

import argparse
import dataclasses
import pickle
from pathlib import Path

import numpy as np

from edge_captioner.config import CameraConfig
from edge_captioner.config.schema import EventsConfig
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.perception import Findings
from edge_captioner.scene.phrase import canonical
from edge_captioner.service.tracks import Tracker, TrackSettings
from edge_captioner.service.worker import CameraWorker
from experiments.events_clips import Camera, Clock, Sink, still, still_photos

CACHE = Path("/tmp/edge-captioner-still-findings")


@dataclasses.dataclass(frozen=True)
class Caption:
    text: str
    confidence: float
    findings: Findings
    latency_ms: float = 10.0
    truncated: bool = False


class Replay:
    """The cached findings of each frame, captioned as a facts bundle's Captioner does."""

    language, model_name = "en", "replay"

    def __init__(self, model, found: dict[int, list]) -> None:
        self.model, self.found = model, found

    def caption(self, image, place=None, *, steady=None, regions=()) -> Caption:
        findings = Findings(objects=list(self.found[id(image)]))
        objects = None
        if steady is not None:
            objects, place = self.model.steady_objects(findings, place, steady)
        facts = self.model.facts(findings, place, objects)
        self.last = facts.count_of
        return Caption(canonical(facts, "en"), 0.9, findings)


def span(text: str) -> range:
    first, last = text.split(":")
    return range(int(first), int(last))


def record(numbers: range, seconds: float, fps: float) -> None:
    captioner = Captioner("default-en")
    CACHE.mkdir(exist_ok=True)
    photos = still_photos(max(numbers) + 1)
    for i in numbers:
        name, photo = photos[i]
        path = CACHE / f"{i:02d}-{name}.pkl"
        if path.exists():
            continue
        found = [captioner.perception.see(image).objects for _t, image in still(photo, seconds, fps, i)]
        path.write_bytes(pickle.dumps(found))
        print("recorded", path.name, flush=True)


def over(counts: dict[str, int], label: dict) -> bool:
    """Whether a caption's counts state more of a kind than the photo's label allows."""
    for kind, n in counts.items():
        truth = label.get(kind, 0)
        if n > (truth[1] if isinstance(truth, list) else truth):
            return True
    return False


def replay(model, found: list[list], settings: TrackSettings, fps: float,
           label: dict) -> tuple[int, int, int]:
    """(caption changes, event messages, captions stating more than the label) of one still
    under these tracker settings."""
    images = [np.zeros((4, 4, 3), np.uint8) for _ in found]
    engine = Replay(model, {id(image): objects for image, objects in zip(images, found, strict=True)})
    clock, sink = Clock(), Sink()
    config = CameraConfig(name="clip", source="clip", interval_s=1.0 / fps, heartbeat_s=3600,
                          scene_change_threshold=0.0,
                          events=EventsConfig(enabled=True, track_interval_s=1.0 / fps))
    script = [(i / fps, image) for i, image in enumerate(images)]
    worker = CameraWorker(config, Camera(clock, script), engine, sink, clock=clock)
    worker.camera_events.tracker = Tracker(settings)
    overstated = 0
    for _ in script:
        before = len(sink.captions)
        worker.step()
        overstated += len(sink.captions) > before and over(engine.last, label)
    texts = [text for _t, text in sink.captions]
    return (sum(1 for a, b in zip(texts, texts[1:], strict=False) if a != b), len(sink.events),
            overstated)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", type=span)
    parser.add_argument("--tune", type=span)
    parser.add_argument("--report", type=span)
    parser.add_argument("--fps", type=float, default=1.0)
    parser.add_argument("--still-seconds", type=float, default=60.0)
    args = parser.parse_args()
    if args.record:
        record(args.record, args.still_seconds, args.fps)
        return
    model = Captioner("default-en")  # its steady_objects and facts, not its graphs
    cached = {int(p.name[:2]): (p.name[3:-4], pickle.loads(p.read_bytes()))
              for p in sorted(CACHE.glob("*.pkl"))}
    from conversion.facts.evaluate import labelled

    labels = {n: label.get("counts", {}) for n, label in labelled("fresh").photos.items()}
    # off (as before), each rule alone, the floors and windows tried, and the chosen defaults
    off = TrackSettings(keep_score=None, unsure_before_s=0.0)
    grid = [off, TrackSettings(unsure_before_s=0.0), TrackSettings(keep_score=0.3, unsure_before_s=0.0),
            TrackSettings(keep_score=0.4, unsure_before_s=0.0),
            TrackSettings(unsure_before_s=5.0, unsure_share=0.5),
            TrackSettings(unsure_before_s=10.0, unsure_share=0.5),
            TrackSettings(unsure_before_s=20.0, unsure_share=0.25), TrackSettings()]
    for label, numbers in (("tune", args.tune), ("report", args.report)):
        if numbers is None:
            continue
        print(f"== {label}: stills {numbers.start}..{numbers.stop - 1}")
        for settings in grid:
            per = [replay(model, cached[i][1], settings, args.fps, labels[cached[i][0]])
                   for i in numbers if i in cached]
            changes, events = sum(p[0] for p in per), sum(p[1] for p in per)
            overstated = sum(p[2] for p in per)
            print(f"  keep {settings.keep_score} unsure {settings.unsure_before_s:g} s "
                  f">{settings.unsure_share:g}: {changes} changes "
                  f"({changes / max(len(per), 1):.1f}/min), {events} events, {overstated} overstated; "
                  f"per still {[p[0] for p in per]} {[p[1] for p in per]}", flush=True)


if __name__ == "__main__":
    main()
