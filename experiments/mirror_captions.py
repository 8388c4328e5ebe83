"""How often a mirrored frame gets another caption: every labelled real photo and clip frame
captioned as it is and flipped left to right, with the shipped bundle.

    python experiments/mirror_captions.py default-en [--split all]
"""

from __future__ import annotations

import argparse
import sys
from itertools import chain
from pathlib import Path

import cv2

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import facts_captioner, labelled  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("--split", default="all")
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    data = labelled(args.split)
    images = differ = 0
    for name, frame in chain(data.photo_images(), data.clip_images()):
        a, b = captioner.caption(frame).text, captioner.caption(cv2.flip(frame, 1)).text
        images += 1
        if a != b:
            differ += 1
            print(f"{name}: {a!r} | mirrored {b!r}")
    print(f"{differ} of {images} images change caption when mirrored")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
