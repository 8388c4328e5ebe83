"""A parcel at doorstep size: a real carton (kpa_spiff_2's or ocv_aruco_box's, its rectangle in
tests/data/box_photos.json) pasted at the lower middle of real box-free photos at several widths,
and the box detector's best Box over it, on the whole frame and on the square crop of a door zone
(box_regions.DOORMAT or MAT, the device's crop: box_detector.region_crop). A pasted rectangle
is a collage, not a doorstep photograph: this measures how the detector's Box score falls with
the carton's size in the frame, not how often it is right.

    PYTHONPATH=.:experiments python experiments/box_pasted.py [--split tune]
        [--widths 0.1 0.15 0.2 0.3] [--carton kpa_spiff_2|ocv_aruco_box]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from box_regions import BOX_AT, DOORMAT, MAT, boxes_in, zone_crop  # noqa: E402

from conversion.pretrained import box_photos, real_photos  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.captioner import Captioner  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", default="tune")
    parser.add_argument("--widths", type=float, nargs="+", default=[0.1, 0.15, 0.2, 0.3])
    parser.add_argument("--carton", default="kpa_spiff_2", choices=sorted(BOX_AT))
    parser.add_argument("--zone", default="wide", choices=["wide", "mat"],
                        help="the door zone: box_regions.DOORMAT (wide) or MAT")
    args = parser.parse_args(argv)
    detector = Captioner("default-en").perception.boxes
    labels = json.loads(real_photos.PHOTO_LABELS.read_text())["images"]
    names = [im["name"] for im in labels if im["split"] == args.split
             and not im["counts"].get("box")]
    thing = box_photos.carton(args.carton, offline=True)
    scores = {(mode, w): [] for mode in ("whole", "zone") for w in args.widths}
    for _name, scene in real_photos.load_real_photos(names, offline=True):
        height, width = scene.shape[:2]
        for w in args.widths:
            frame, at = box_photos.pasted(scene, thing, w)
            for mode, crop in (("whole", (0, 0, width, height)),
                               ("zone", zone_crop(DOORMAT if args.zone == "wide" else MAT,
                                                  width, height))):
                best = max([s for s, b in boxes_in(detector, frame, crop)
                            if detections.iou(b, at) >= 0.3] or [0.0])
                scores[(mode, w)].append(best)
    print(f"{len(names)} box-free {args.split} photos, the carton pasted; best Box on it:")
    for (mode, w), s in scores.items():
        s = np.array(s)
        print(f"{mode:5s} width {w:.2f}: median {np.median(s):.3f}, >= 0.5 on "
              f"{int((s >= 0.5).sum())}/{len(s)}, >= 0.4 on {int((s >= 0.4).sum())}/{len(s)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
