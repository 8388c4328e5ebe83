#!/usr/bin/env python3
"""Postures said on real photos labelled by someone else (main's tests/data/real_photos.json:
per photo, the postures of its clearly visible people, no boxes), the whole device path:
the default bundle's detector -> person boxes -> pose on the largest MAX_PEOPLE -> posture.

    python benchmarks/posture_real_photos.py POSE_DIR PHOTOS_DIR [--score 0.5] [--rescue 0.55]

PHOTOS_DIR holds NAME.png for each labelled photo and labels.json ({name: label entry}, as
conversion/pretrained/real_photos.py's load_real_photos and the labels file give them). With no
boxes in the labels, a photo's said postures are matched as a multiset against its labelled ones:
per posture, min(said, labelled) are right and the rest of said are wrong ("other" and
"unclear" people can make no posture right). Printed per split (tune / held_out / fresh).

Then person counts (the labels' count, exact or [low, high]) with the detector at --score, and
with also the boxes it scores 0.3..score whose pose centre score (Keypoints.centre) is at least
--rescue: people found (up to the high end), missed (below the low end), over the high end,
persons said on photos with no one in them, photos whose count is in range.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import cv2

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POSTURES = ("standing", "sitting", "lying")


def main() -> int:
    from conversion.pretrained import pose_build
    from edge_captioner.bundle.loader import read_manifest
    from edge_captioner.model.perception import Perception
    from edge_captioner.model.pose import PoseEstimator
    from edge_captioner.model.posture import posture
    from edge_captioner.model.runtime import pick_runtime

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pose_dir")
    parser.add_argument("photos_dir")
    parser.add_argument("--score", type=float, default=0.5, help="detector person threshold")
    parser.add_argument("--max-people", type=int, default=pose_build.MAX_PEOPLE)
    parser.add_argument("--rescue", type=float, default=0.55,
                        help="pose centre score that keeps a 0.3..score person box")
    args = parser.parse_args()

    bundle = ROOT / "edge_captioner" / "data" / "bundles" / "default-en"
    spec = read_manifest(bundle).perception
    spec = replace(spec, detector=replace(spec.detector, score_threshold=min(0.3, args.score)))
    perception = Perception(spec, bundle, pick_runtime("auto"), threads=1)
    estimator = PoseEstimator(pose_build._graph(Path(args.pose_dir) / pose_build.POSE_FILE), 192,
                              pose_build.MARGIN, args.max_people)
    labels = json.loads((Path(args.photos_dir) / "labels.json").read_text(encoding="utf-8"))
    # tune, held_out and (version 2) fresh: whichever the labels hold, in that order
    order = ("tune", "held_out", "fresh")
    splits = sorted({e["split"] for e in labels.values()},
                    key=lambda s: order.index(s) if s in order else len(order))
    totals = {split: {p: Counter() for p in POSTURES} for split in splits}
    labelled = {split: Counter() for split in splits}
    lines, counted = [], []
    everyone = PoseEstimator(estimator.graph, 192, pose_build.MARGIN, 99)
    for name, entry in sorted(labels.items()):
        frame = cv2.imread(str(Path(args.photos_dir) / f"{name}.png"), cv2.IMREAD_COLOR)
        h, w = frame.shape[:2]
        found = [o for o in perception.see(frame).objects if o.label == "person"]
        low = [o.box for o in found if o.score < args.score]
        boxes = [o.box for o in found if o.score >= args.score]
        rescued = sum(k.centre >= args.rescue for k in everyone.keypoints(frame, low))
        count = entry["counts"].get("person", 0)
        lo, hi = (count, count) if isinstance(count, int) else tuple(count)
        counted.append((entry["split"], lo, hi, len(boxes), len(boxes) + rescued))
        said = Counter()
        for k in estimator.keypoints(frame, boxes):
            p = posture(k.xy, k.scores, k.box, w / h)
            if p is not None:
                said[p] += 1
        truth = Counter(p["posture"] for p in entry["persons"])
        split = entry["split"]
        labelled[split].update(truth)
        for p in POSTURES:
            right = min(said[p], truth[p])
            totals[split][p]["said"] += said[p]
            totals[split][p]["right"] += right
            totals[split][p]["wrong"] += said[p] - right
        lines.append(f"{split:8s} {name:28s} people {len(boxes)} said {dict(said)} labelled {dict(truth)}")
    print("\n".join(lines))
    for split, table in totals.items():
        print(f"{split}: labelled {dict(labelled[split])}")
        for p, c in table.items():
            print(f"  said {p:9s} {c['said']:3d}: right {c['right']:3d}, wrong {c['wrong']:3d} "
                  f"(labelled {labelled[split][p]})")
    for split in splits:
        rows = [r for r in counted if r[0] == split]
        for label, k in ((f"detector >= {args.score}", 3),
                         (f"+ 0.3..{args.score} with pose centre >= {args.rescue}", 4)):
            print(f"{split} persons, {label}: found {sum(min(r[k], r[2]) for r in rows)} "
                  f"(low ends {sum(r[1] for r in rows)}), missed {sum(max(0, r[1] - r[k]) for r in rows)}, "
                  f"over {sum(max(0, r[k] - r[2]) for r in rows)}, "
                  f"on empty photos {sum(r[k] for r in rows if r[2] == 0)}, "
                  f"in range {sum(r[1] <= r[k] <= r[2] for r in rows)} of {len(rows)} photos")
    return 0


if __name__ == "__main__":
    sys.exit(main())
