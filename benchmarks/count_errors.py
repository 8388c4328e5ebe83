#!/usr/bin/env python3
"""Where a bundle's count errors are: the share of ground-truth groups (kind and count) that its
greedy captions leave unmentioned or miscount, by scene size, occlusion, kind and lighting.

    python benchmarks/count_errors.py BUNDLE DATA [--json]

DATA is a synthetic set with scene records (e.g. the held-out runs/synth-test). "Occluded" means
more than a quarter of an instance's box lies under the box of something standing in front of it
(lower base line, drawn later): boxes, not silhouettes, so it overstates thin things in front.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversion.evaluation.evaluate import caption_all, load_eval_set  # noqa: E402
from conversion.world.mentions import parse_caption  # noqa: E402
from edge_captioner.bundle.loader import load_bundle


def covered_share(box: list[int], others: list[list[int]]) -> float:
    """Share of `box` [x, y, w, h] under the boxes of `others` that stand in front of it."""
    x, y, w, h = box
    free = np.ones((max(h, 1), max(w, 1)), bool)
    for ox, oy, ow, oh in others:
        if oy + oh <= y + h:
            continue  # its base is not below ours: it stands behind
        x0, y0 = max(ox - x, 0), max(oy - y, 0)
        x1, y1 = min(ox + ow - x, w), min(oy + oh - y, h)
        if x1 > x0 and y1 > y0:
            free[y0:y1, x0:x1] = False
    return 1.0 - float(free.mean())


def group_rows(captions: dict[str, str], scenes: dict[str, dict], language: str) -> list[dict]:
    rows = []
    for image_id, caption in captions.items():
        scene = scenes[image_id]
        said = parse_caption(caption, language)
        boxes = [b for g in scene["objects"] for b in g["boxes"]]
        for g in scene["objects"]:
            got = said.counts.get(g["kind"])
            covered = max(covered_share(b, [o for o in boxes if o is not b]) for b in g["boxes"])
            rows.append({"objects in scene": scene["n_objects"], "kind": g["kind"],
                         "lighting": scene["lighting"],
                         "occluded": "yes" if covered > 0.25 else "no",
                         "missed": got is None, "miscounted": got not in (None, g["count"])})
    return rows


def breakdown(rows: list[dict]) -> dict:
    out = {"groups": len(rows), "missed": sum(r["missed"] for r in rows),
           "miscounted": sum(r["miscounted"] for r in rows)}
    for key in ("objects in scene", "occluded", "kind", "lighting"):
        total = Counter(r[key] for r in rows)
        wrong = Counter(r[key] for r in rows if r["missed"] or r["miscounted"])
        out[key] = {str(k): {"groups": total[k], "wrong": wrong[k],
                             "share": round(wrong[k] / total[k], 4)}
                    for k in sorted(total, key=str)}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("data")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    language = load_bundle(args.bundle).language
    eval_set = load_eval_set(args.data, language, None)
    if eval_set.scenes is None:
        print(f"{args.data}: no scene records (not a synthetic set)", file=sys.stderr)
        return 2
    result = breakdown(group_rows(caption_all(args.bundle, eval_set, 1), eval_set.scenes,
                                  language))
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{args.bundle}: {result['groups']} groups, {result['missed']} missed, "
          f"{result['miscounted']} miscounted")
    for key, values in result.items():
        if isinstance(values, dict):
            print(f"  {key}: " + ", ".join(f"{k} {v['wrong']}/{v['groups']} ({v['share']:.1%})"
                                           for k, v in values.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
