"""What a bundle's real-world encoder finds on every package photo and on kind-free frames.

    .venv/bin/python benchmarks/perception_photos.py [BUNDLE] [--all-scores]

A markdown table: the detector's objects at the manifest's threshold (the home kind in brackets),
with --all-scores also those down to 0.3, and the classifier's top class. The photos are the ones
that ship inside scikit-image, scikit-learn and matplotlib (conversion/pretrained/photos.py).
"""

from __future__ import annotations

import argparse
import dataclasses

from conversion.pretrained import photos
from edge_captioner.bundle.loader import load_bundle
from edge_captioner.model.perception import Perception
from edge_captioner.model.runtime import pick_runtime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", nargs="?", default="default-en")
    parser.add_argument("--all-scores", action="store_true",
                        help="also the objects scoring 0.3 up to the threshold")
    args = parser.parse_args()
    bundle = load_bundle(args.bundle)
    spec = bundle.perception
    threshold = spec.detector.score_threshold
    if args.all_scores:
        spec = dataclasses.replace(spec, detector=dataclasses.replace(spec.detector,
                                                                      score_threshold=0.3))
    perception = Perception(spec, bundle.path, pick_runtime("auto"), threads=1)
    print(f"| frame | objects (score >= {0.3 if args.all_scores else threshold}) "
          "| classifier top-1 |")
    print("| --- | --- | --- |")
    for name, frame in (photos.load_photos() | photos.synthetic_frames()).items():
        found = perception.see(frame)
        objects = ", ".join(
            f"{o.label}{f' [{o.kind}]' if o.kind else ''} {o.score:.2f}"
            + ("" if o.score >= threshold else " (below threshold)")
            for o in found.objects) or "none"
        top = f"{found.classes[0][0]} {found.classes[0][1]:.2f}" if found.classes else "none"
        print(f"| {name} | {objects} | {top} |")


if __name__ == "__main__":
    main()
