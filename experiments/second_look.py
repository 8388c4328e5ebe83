"""A second, closer look at the people the detector is unsure of: each person scored between
--low and --high (the largest --max of them) is cropped with its surroundings and the detector
runs on the crop; the person's score becomes the better of the two looks. Scored as
evaluate-facts scores the device's captions, on one split.

    python experiments/second_look.py default-en --split tune [--max 2] [--low 0.3] [--high 0.55]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import _kinds, facts_captioner, labelled, score_frames  # noqa: E402
from edge_captioner.model import detections  # noqa: E402


def with_second_look(perception, args):
    see = perception.see
    person = perception.detector_labels.index("person")

    def see_twice(frame):
        findings = see(frame)
        height, width = frame.shape[:2]
        unsure = [o for o in findings.objects
                  if o.kind == "person" and args.low <= o.score < args.high]
        unsure.sort(key=lambda o: -(o.box[2] - o.box[0]) * (o.box[3] - o.box[1]))
        better = {}
        for o in unsure[: args.max]:
            crop = detections.closer_crop(o.box, width, height, args.grow)
            x1, y1, x2, y2 = crop
            if x2 - x1 < 8 or y2 - y1 < 8:
                continue
            best = 0.0
            for label, score, box in perception._detect(frame[y1:y2, x1:x2]):
                if label != person:
                    continue
                if detections.iou(detections.from_crop(box, crop, width, height),
                                  o.box) >= args.iou:
                    best = max(best, score)
            better[id(o)] = best
        findings.objects = [replace(o, score=max(o.score, better[id(o)] * args.weight))
                            if id(o) in better else o for o in findings.objects]
        return findings

    perception.see = see_twice


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle")
    parser.add_argument("--split", default="tune")
    parser.add_argument("--max", type=int, default=2)
    parser.add_argument("--low", type=float, default=0.3)
    parser.add_argument("--high", type=float, default=0.55)
    parser.add_argument("--grow", type=float, default=1.6)
    parser.add_argument("--iou", type=float, default=0.5)
    parser.add_argument("--weight", type=float, default=1.0)
    parser.add_argument("--off", action="store_true")
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    if not args.off:
        with_second_look(captioner.perception, args)
    data = labelled(args.split)
    kinds = _kinds(captioner, data.kinds)
    report = {}
    for part, frames, labels in (("photos", data.photo_images(), data.photos),
                                 ("clip_frames", data.clip_images(), data.clip_frames)):
        score, _ = score_frames(captioner, frames, labels, kinds)
        j = score.to_json()
        report[part] = {"overclaims": j["overclaim_images"], "person": j["kinds"]["person"],
                        "crowd": j["crowd_within_one"]}
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
