"""Where a parcel would be: the box detector (perception.boxes) on the whole frame, on a crop of a
door zone, and on tiles, on the labelled real photos. Per-photo decisions, per split.

    PYTHONPATH=. python experiments/box_regions.py [--bundle default-en] [--json FILE]

A photo "has a box" when its label's low end (tests/data/real_photos.json `counts.box`) is at least
1, and so do the extra box photos (conversion/pretrained/box_photos.py, split held_out); shop
cartons, labelled [0, n], are neither a hit nor a false box (left out of both). A photo
says "box" at threshold t in a mode when any Box the detector finds in that mode scores t or
more; on a photo with a box it is a hit only where the detection overlaps the labelled carton
(tests/data/box_photos.json, by eye). Modes (each crop is a square, stretched to 300x300 as the
whole frame is):

- whole: the frame, as Perception.see runs it without zones;
- zone: the device's square crop for a door zone's rectangle (box_detector.region_crop): on a
  photo with a box the zone a person would have drawn round the spot (the carton grown 2x), on
  every other photo the lower middle of the frame (x 0.25..0.75, y 0.5..1), where a doorbell
  camera's doormat is;
- mat: as zone, a smaller doormat on the box-free photos (x 0.35..0.65, y 0.7..1: the end-to-end
  delivery's zone);
- tiles2 / tiles3 / tiles4: 2x2 / 3x3 / 4x4 overlapping square tiles covering the frame (any
  zone, anywhere).

Thresholds are chosen on split `tune` only (above the highest false box there), then reported on
`held_out` and `fresh`; the cost is ms per frame on one thread.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.pretrained import box_photos, real_photos  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.box_detector import region_crop  # noqa: E402
from edge_captioner.model.captioner import Captioner  # noqa: E402

# the carton in each photo with one (x1, y1, x2, y2, fractions), drawn by eye
BOX_AT = {name: tuple(im["boxes"][0]) for name, im in box_photos.labels().items()}
DOORMAT = (0.25, 0.5, 0.75, 1.0)
MAT = (0.35, 0.7, 0.65, 1.0)
THRESHOLDS = (0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5)


def grown(box, factor):
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    hw, hh = (box[2] - box[0]) * factor / 2, (box[3] - box[1]) * factor / 2
    return (max(0.0, cx - hw), max(0.0, cy - hh), min(1.0, cx + hw), min(1.0, cy + hh))


def zone_crop(zone, width, height):
    """The square pixel crop the device looks at for a zone rectangle (0..1)."""
    return region_crop(zone, width, height)


def tiles(width, height, n):
    """n x n square pixel tiles, side 1.3/n of the frame's longer side (at most its shorter side),
    spread evenly: they overlap and cover a 4:3 or 16:9 frame."""
    side = int(max(width, height) / n * 1.3)
    side = min(side, width, height)
    xs = np.linspace(0, width - side, n).astype(int)
    ys = np.linspace(0, height - side, n).astype(int)
    return [(int(x), int(y), int(x) + side, int(y) + side) for y in ys for x in xs]


def boxes_in(detector, frame, crop):
    """The detector's Box detections in a pixel crop, as (score, box as frame fractions)."""
    height, width = frame.shape[:2]
    x1, y1, x2, y2 = crop
    found = detector.find(frame[y1:y2, x1:x2], score_threshold=min(THRESHOLDS))
    return [(f.score, detections.from_crop(f.box, crop, width, height))
            for f in found if f.kind == "box"]


def hits(found, carton, t):
    """(said box, said it at the carton) at threshold t."""
    said = [b for s, b in found if s >= t]
    at = carton is not None and any(detections.iou(b, carton) >= 0.3 or
                                    _centre_in(b, carton) for b in said)
    return bool(said), at


def _centre_in(b, c):
    x, y = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
    return c[0] <= x <= c[2] and c[1] <= y <= c[3]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="default-en")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    detector = Captioner(args.bundle).perception.boxes
    labels = {im["name"]: im for im in
              json.loads(real_photos.PHOTO_LABELS.read_text())["images"]}
    rows, cost = [], {m: [] for m in ("whole", "zone", "mat", "tiles2", "tiles3", "tiles4")}
    extra = box_photos.labels()
    photos = [*real_photos.load_real_photos(offline=True),
              *((n, f) for n, f in box_photos.load_box_photos(offline=True) if n not in labels)]
    for name, frame in photos:
        label = labels.get(name) or {"split": extra[name]["split"], "counts": {"box": 1}}
        box = label["counts"].get("box", 0)
        low = box[0] if isinstance(box, list) else box
        high = box[1] if isinstance(box, list) else box
        truth = "box" if low >= 1 else "carton?" if high >= 1 else "none"
        height, width = frame.shape[:2]
        carton = BOX_AT.get(name)
        if truth == "box" and carton is None:
            raise SystemExit(f"{name}: a box without BOX_AT")
        zone = grown(carton, 2.0) if carton is not None else DOORMAT
        crops = {"whole": [(0, 0, width, height)],
                 "zone": [zone_crop(zone, width, height)],
                 "mat": [zone_crop(grown(carton, 2.0) if carton else MAT, width, height)],
                 "tiles2": tiles(width, height, 2), "tiles3": tiles(width, height, 3),
                 "tiles4": tiles(width, height, 4)}
        row = {"name": name, "split": label["split"], "truth": truth}
        for mode, cs in crops.items():
            started = time.perf_counter()
            found = [f for c in cs for f in boxes_in(detector, frame, c)]
            cost[mode].append((time.perf_counter() - started) * 1000)
            row[mode] = [(round(s, 3), [round(v, 3) for v in b]) for s, b in found]
        rows.append(row)
    report = {"rows": rows, "ms": {m: round(float(np.median(v)), 1) for m, v in cost.items()}}
    for mode in cost:
        tune_false = max([s for r in rows if r["split"] == "tune" and r["truth"] == "none"
                          for s, _ in r[mode]] or [0.0])
        chosen = min([t for t in THRESHOLDS if t > tune_false] or [1.0])
        report[mode] = {"tune_highest_false": tune_false, "chosen": chosen, "by_threshold": {}}
        for t in THRESHOLDS:
            for split in ("tune", "held_out", "fresh"):
                part = [r for r in rows if r["split"] == split]
                said = [(r, *hits([(s, tuple(b)) for s, b in r[mode]], BOX_AT.get(r["name"]), t))
                        for r in part]
                tp = sum(1 for r, s, at in said if r["truth"] == "box" and at)
                fp = sum(1 for r, s, at in said if r["truth"] == "none" and s)
                boxes = sum(1 for r in part if r["truth"] == "box")
                report[mode]["by_threshold"].setdefault(str(t), {})[split] = {
                    "photos": len(part), "boxes": boxes, "hits": tp, "false": fp,
                    "false_photos": [r["name"] for r, s, at in said if r["truth"] == "none" and s]}
    print(json.dumps({m: report[m] | {"by_threshold": {
        t: {sp: {k: v for k, v in d.items() if k != "false_photos" or v} for sp, d in x.items()}
        for t, x in report[m]["by_threshold"].items()}} for m in cost}, indent=1))
    print("ms per frame (median):", report["ms"])
    for r in rows:
        if r["truth"] != "none":
            print(r["name"], r["split"], r["truth"],
                  {m: max([s for s, _ in r[m]] or [0]) for m in cost})
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
