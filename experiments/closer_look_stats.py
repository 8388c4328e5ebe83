"""What each closer look does, on every labelled real photo and clip frame: for each person the
detector was unsure of and looked at again, how much the crop enlarged it (the frame's longer
side over the crop's) and its score before and after; and whether the look moved it past the
person threshold. Used to choose `closer_look.min_zoom` on the tune half (docs/model-card.md).

    python experiments/closer_look_stats.py default-en tune > /tmp/closer-tune.json
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import facts_captioner, labelled  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.perception import Perception  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("split")
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    data = labelled(args.split)
    rows: list[dict] = []
    current = {"name": ""}
    original = Perception._closer_look

    def recording(self, pyramid, found, look):
        out = original(self, pyramid, found, look)
        height, width = pyramid.levels[0].shape[:2]
        before = {box: score for _, score, box in found}
        for label, score, box in out:
            if label == self._person_label and look.low <= before[box] < look.high:
                crop = detections.closer_crop(box, width, height, look.grow)
                zoom = max(width, height) / max(crop[2] - crop[0], crop[3] - crop[1], 1)
                rows.append({"name": current["name"], "zoom": round(zoom, 3),
                             "before": round(before[box], 4), "after": round(score, 4)})
        return out

    Perception._closer_look = recording
    for name, frame in chain(data.photo_images(), data.clip_images()):
        current["name"] = name
        captioner.caption(frame)
    json.dump(rows, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
