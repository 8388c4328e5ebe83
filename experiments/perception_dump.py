"""Dump what a facts bundle's perception graphs find on every labelled real photo and clip frame,
so rules that turn findings into facts (thresholds, the mirror merge, tiles, the pose rescue) can
be compared offline without running the graphs again (experiments/facts_variants.py scores them).

    python experiments/perception_dump.py default-en /tmp/perception.json [--split all]

Per image: the detector's detections on the frame, on its mirror (boxes mapped back) and on four
overlapping corner tiles (boxes mapped back), the box detector's objects, and the pose model's
centre score and posture for every person the detector scored at least 0.2 (all of them, not
only the largest three the device runs it on).
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import chain
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import facts_captioner, labelled  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.posture import posture  # noqa: E402

TILE = 0.6  # a tile's side as a fraction of the frame's: four corner tiles overlap by 20%


def tiles(width: int, height: int) -> list[tuple[int, int, int, int]]:
    tw, th = round(width * TILE), round(height * TILE)
    return [(x, y, x + tw, y + th) for y in (0, height - th) for x in (0, width - tw)]


def detect(perception, frame) -> list[dict]:
    labels = perception.detector_labels
    return [{"label": labels[i], "score": round(s, 4), "box": [round(v, 4) for v in box]}
            for i, s, box in perception._detect(frame)]


def dump_image(captioner, frame) -> dict:
    p = captioner.perception
    height, width = frame.shape[:2]
    full = detect(p, frame)
    mirror = [dict(d, box=[round(v, 4) for v in detections.mirror_box(tuple(d["box"]))])
              for d in detect(p, cv2.flip(frame, 1))]
    tiled = []
    for x1, y1, x2, y2 in tiles(width, height):
        for d in detect(p, frame[y1:y2, x1:x2]):
            bx = d["box"]
            tiled.append(dict(d, box=[round((x1 + bx[0] * (x2 - x1)) / width, 4),
                                      round((y1 + bx[1] * (y2 - y1)) / height, 4),
                                      round((x1 + bx[2] * (x2 - x1)) / width, 4),
                                      round((y1 + bx[3] * (y2 - y1)) / height, 4)],
                              tile=[x1 / width, y1 / height, x2 / width, y2 / height]))
    people = [tuple(d["box"]) for d in full + mirror + tiled
              if d["label"] == "person" and d["score"] >= 0.2]
    pose = p.pose
    saved = pose.max_people
    pose.max_people = len(people)
    poses = []
    for k in pose.keypoints(frame, people):
        poses.append({"box": [round(v, 4) for v in k.box], "centre": round(k.centre, 4),
                      "posture": posture(k.xy, k.scores, k.box, width / height)})
    pose.max_people = saved
    boxes = [{"label": o.label, "kind": o.kind, "score": round(o.score, 4),
              "box": [round(v, 4) for v in o.box]} for o in p.boxes.find(frame)]
    return {"size": [width, height], "full": full, "mirror": mirror, "tiles": tiled,
            "pose": poses, "boxes": boxes}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("bundle")
    parser.add_argument("out")
    parser.add_argument("--split", default="all")
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    data = labelled(args.split)
    labels = data.photos | data.clip_frames
    out = {}
    for name, frame in chain(data.photo_images(), data.clip_images()):
        label = labels[name]
        out[name] = {"split": label.get("split"), "label": label,
                     "clip": "#" in name, **dump_image(captioner, frame)}
        print(name, len(out[name]["full"]), file=sys.stderr)
    Path(args.out).write_text(json.dumps(out), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
