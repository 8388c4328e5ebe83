"""What a tiled look would buy: the detector again on a grid of overlapping tiles of the frame
(each tile enlarged to the detector's input, so a far person is two or three times the pixels
the whole-frame look gave them), its people added where they overlap no person the whole-frame
looks found. The tiles' people are found once per image and cached; each setting then reruns
the captioner with them patched in after the closer look, and is scored like evaluate-facts.

    python experiments/tiled_look.py default-en tune [--grid 2x2] > /tmp/tiled-tune.json

Settings swept: T (the tile person's score floor), D (the largest IoU with any person already
found, or the largest share of the tile person inside one), H (the tallest a tile person may be,
as a fraction of the frame's height: a tall box in a tile is usually part of a person the whole
frame already shows), and M (the frame's longer side at least M times the detector's input).
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from itertools import chain
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import _kinds, facts_captioner, labelled  # noqa: E402
from conversion.facts.score import Score, add_image  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.model.perception import Perception  # noqa: E402
from edge_captioner.scene.from_findings import _inside as inside  # noqa: E402
from edge_captioner.scene.read import read  # noqa: E402


def tiles(width: int, height: int, cols: int, rows: int, overlap: float):
    """Pixel rectangles of a cols x rows grid whose neighbours share `overlap` of a tile."""
    tw = width / (cols - (cols - 1) * overlap)
    th = height / (rows - (rows - 1) * overlap)
    for r in range(rows):
        for c in range(cols):
            x1, y1 = c * tw * (1 - overlap), r * th * (1 - overlap)
            yield (int(x1), int(y1), min(width, int(round(x1 + tw))), min(height, int(round(y1 + th))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("split")
    parser.add_argument("--grid", default="2x2")
    parser.add_argument("--overlap", type=float, default=0.2)
    parser.add_argument("--only", help="one setting T,D,H,M: and each image whose person count it changes")
    args = parser.parse_args()
    cols, rows = (int(v) for v in args.grid.split("x"))
    captioner = facts_captioner(args.bundle)
    data = labelled(args.split)
    kinds = _kinds(captioner, data.kinds)
    labels = {**data.photos, **data.clip_frames}
    images = list(chain(data.photo_images(), data.clip_images()))
    cache: dict[str, list] = {}
    state = {"name": "", "setting": None}
    original = Perception._closer_look

    def patched(self, pyramid, found, look):
        out = original(self, pyramid, found, look)
        name, setting = state["name"], state["setting"]
        d = self.spec.detector
        if name not in cache:
            got = []
            for rect in tiles(pyramid.width, pyramid.height, cols, rows, args.overlap):
                image, cut, lw, lh = pyramid.cut(rect, d.size, d.resize)
                got += [(s, detections.from_crop(b, cut, lw, lh)) for lab, s, b in self._detect(image)
                        if lab == self._person_label and s >= 0.3]
            cache[name] = got
        if setting is None:
            return out
        t, dup, tall, m = setting
        if max(pyramid.width, pyramid.height) < m * d.size:
            return out
        person = self._person_label
        out = list(out)
        for s, b in sorted(cache[name], key=lambda x: -x[0]):
            if s < t or b[3] - b[1] > tall:
                continue
            sure = [i for i, (lab, score, p) in enumerate(out) if lab == person and score >= t]
            if any(detections.iou(b, out[i][2]) > dup or inside(b, out[i][2]) > 0.5
                   or inside(out[i][2], b) > 0.5 for i in sure):
                continue
            # an unsure person of the whole frame's looks that the tile shows: its better score
            same = [i for i, (lab, score, p) in enumerate(out)
                    if lab == person and detections.iou(b, p) >= 0.5]
            if same:
                i = max(same, key=lambda i: detections.iou(b, out[i][2]))
                out[i] = (person, s, out[i][2])
            else:
                out.append((person, s, b))
        return sorted(out, key=lambda x: (-x[1], x[0], x[2]))

    Perception._closer_look = patched
    settings = [None] + list(itertools.product((0.55, 0.6, 0.7), (0.1, 0.3), (0.25, 0.5), (0,)))
    if args.only:
        settings = [None, tuple(float(v) for v in args.only.split(","))]
    people: dict[str, list[int]] = {}
    report = []
    for setting in settings:
        state["setting"] = setting
        score = Score()
        for name, frame in images:
            state["name"] = name
            result = captioner.caption(frame)
            people.setdefault(name, []).append(dict(result.facts.counts).get("person", 0))
            add_image(score, name, result.facts, read(result.text, captioner.bundle.language),
                      labels[name], kinds, result.fallback)
        j = score.to_json()
        p = j["kinds"]["person"]
        row = {"setting": setting, "person": [p["right"], p["false"], p["missed"]],
               "P": p["precision"], "R": p["recall"], "over": score.overclaim_names,
               "crowds": [score.crowd_within_one, score.crowd_frames]}
        report.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    if args.only:
        report.append({name: [n, labels[name].get("counts", {}).get("person", 0)]
                       for name, n in people.items() if len(set(n)) > 1})
    json.dump(report, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
