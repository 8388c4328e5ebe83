"""Write the labelled real photos of one split as JPEG files, for `edge-captioner bench --images`
(the cost of a caption on real camera-sized frames rather than the 320x240 sample clip).

    python benchmarks/write_real_images.py /tmp/real-fresh --split fresh
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import labelled  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--split", default="fresh")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, frame in labelled(args.split).photo_images():
        cv2.imwrite(str(args.out / f"{name}.jpg"), frame, [cv2.IMWRITE_JPEG_QUALITY, 92])
        count += 1
    print(f"{count} photos in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
