"""Score rules that turn findings into facts, offline, on a dump of experiments/perception_dump.py:
the thresholds, the mirrored second look, corner tiles for small people, the pose rescue. Prints,
per split and per part (photos, clip frames), what evaluate-facts prints: images stating a kind,
count or posture not there, per-kind right/false/missed, crowds within one.

    python experiments/facts_variants.py /tmp/perception.json [--tiles] [--set person=0.45 ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.score import Score, add_image  # noqa: E402
from conversion.facts.thresholds import DEFAULT_THRESHOLD, THRESHOLDS  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.scene import from_findings  # noqa: E402
from edge_captioner.scene.facts import KINDS  # noqa: E402

MANIFEST = Path(__file__).resolve().parents[1] / "edge_captioner/data/bundles/default-en/manifest.json"


@dataclass
class Obj:
    kind: str | None
    score: float
    box: tuple
    posture: str | None = None
    pose_score: float | None = None
    label: str = ""


def label_kinds() -> dict[str, str]:
    kinds = json.loads(MANIFEST.read_text())["perception"]["detector"]["kinds"]
    return {label: kind for kind, labels in kinds.items() for label in labels}


def _containment(a, b) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    inter = max(w, 0) * max(h, 0)
    smaller = min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1]))
    return inter / smaller if smaller > 0 else 0.0


def merged(entry: dict, args) -> list[tuple[str, float, tuple]]:
    full = [(d["label"], d["score"], tuple(d["box"])) for d in entry["full"]]
    if args.no_mirror:
        found = full
    else:
        mirror = [(d["label"], d["score"], tuple(d["box"])) for d in entry["mirror"]]
        found = detections.merge_mirrored(full, mirror)[:60]
    if args.tiles:
        w, h = entry["size"]
        if max(w, h) >= args.tile_min_side:
            extra = []
            for d in sorted(entry["tiles"], key=lambda d: -d["score"]):
                box = tuple(d["box"])
                if d["label"] not in args.tile_labels:
                    continue
                # a detection cut by a tile's inner edge is a part of someone: left out
                t = d["tile"]
                inner = ((box[0] - t[0] < 0.01 and t[0] > 0) or (t[2] - box[2] < 0.01 and t[2] < 1)
                         or (box[1] - t[1] < 0.01 and t[1] > 0) or (t[3] - box[3] < 0.01 and t[3] < 1))
                if inner:
                    continue
                score = d["score"] * args.tile_weight
                same = [i for i, f in enumerate(found + extra) if f[0] == d["label"]
                        and _containment(f[2], box) >= args.tile_overlap]
                if not same:
                    extra.append((d["label"], score, box))
                elif args.tile_boost:
                    i = same[0]
                    pool = found if i < len(found) else extra
                    j = i if i < len(found) else i - len(found)
                    if pool[j][1] < score:
                        pool[j] = (pool[j][0], score, pool[j][2])
            found = sorted(found + extra, key=lambda f: -f[1])
    return found


FAMILIES = {"vehicle": {"car", "truck", "bus"},
            "animal": {"bird", "cat", "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra",
                       "giraffe", "teddy bear"}}


def one_kind(found, args):
    """Within a family, one object has one label: of detections overlapping (IoU >= args.same_iou)
    keep the best; where the runner-up scores at least args.ambiguous x the best, drop both
    (the detector cannot tell which it is)."""
    if args.same_iou is None:
        return found
    out, dropped = [], set()
    for i, (label, score, box) in enumerate(found):
        if i in dropped:
            continue
        family = next((f for f, labels in FAMILIES.items() if label in labels), None)
        if family is None:
            out.append((label, score, box))
            continue
        rivals = [j for j, (l2, s2, b2) in enumerate(found) if j > i and j not in dropped
                  and l2 in FAMILIES[family] and l2 != label
                  and (not args.wild_only or l2 not in ("cat", "dog", "bird"))
                  and detections.iou(box, b2) >= args.same_iou]
        dropped.update(rivals)
        ratio = args.ambiguous.get(family)
        if rivals and ratio is not None and found[rivals[0]][1] >= ratio * score:
            continue
        out.append((label, score, box))
    return out


def objects_of(entry: dict, kinds: dict[str, str], args) -> list[Obj]:
    out = []
    people = sorted([f for f in merged(entry, args) if f[0] == "person" and f[1] >= 0.3],
                    key=lambda f: -(f[2][2] - f[2][0]) * (f[2][3] - f[2][1]))[: args.max_people]
    posed = {f[2] for f in people}
    for label, score, box in one_kind(merged(entry, args), args):
        o = Obj(kinds.get(label), score, box, label=label)
        if box in posed:
            best = max(entry["pose"], key=lambda p: detections.iou(tuple(p["box"]), box), default=None)
            if best is not None and detections.iou(tuple(best["box"]), box) >= 0.5:
                o.posture, o.pose_score = best["posture"], best["centre"]
        out.append(o)
    out += [Obj(b["kind"], b["score"], tuple(b["box"]), label=b["label"])
            for b in entry["boxes"] if b["kind"] is not None]
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--set", nargs="*", default=[], help="kind=threshold")
    parser.add_argument("--default", type=float, default=DEFAULT_THRESHOLD)
    parser.add_argument("--no-mirror", action="store_true")
    parser.add_argument("--tiles", action="store_true")
    parser.add_argument("--tile-min-side", type=int, default=640)
    parser.add_argument("--tile-overlap", type=float, default=0.5)
    parser.add_argument("--tile-weight", type=float, default=1.0)
    parser.add_argument("--wild-only", action="store_true")
    parser.add_argument("--same-iou", type=float)
    parser.add_argument("--ambiguous", nargs="*", default=[], help="family=ratio")
    parser.add_argument("--tile-boost", action="store_true")
    parser.add_argument("--tile-labels", nargs="*", default=["person"])
    parser.add_argument("--max-people", type=int, default=3)
    parser.add_argument("--rescue", type=float, nargs=2, default=[from_findings.RESCUE_SCORE,
                                                                  from_findings.RESCUE_POSE_SCORE])
    parser.add_argument("--splits", nargs="*", default=["tune", "held_out"])
    parser.add_argument("--show", action="store_true", help="list the images stating too much")
    args = parser.parse_args()
    args.ambiguous = {k: float(v) for k, v in (a.split("=") for a in args.ambiguous)}
    thresholds = dict(THRESHOLDS)
    for item in args.set:
        kind, value = item.split("=")
        thresholds[kind] = float(value)
    from_findings.RESCUE_SCORE, from_findings.RESCUE_POSE_SCORE = args.rescue
    dump = json.loads(Path(args.dump).read_text())
    kinds = label_kinds()
    for split in args.splits:
        for part in ("photos", "clips"):
            score = Score()
            for name, entry in dump.items():
                if entry["split"] != split or entry["clip"] != (part == "clips"):
                    continue
                facts = from_findings.facts_of(objects_of(entry, kinds, args), place=None,
                                               thresholds=thresholds, default=args.default)
                add_image(score, name, facts, facts, entry["label"], KINDS, False)
            j = score.to_json()
            said = {k: f"{v['right']}/{v['false']}/{v['missed']}" for k, v in j["kinds"].items()
                    if v["right"] or v["false"] or v["missed"]}
            print(f"{split:8} {part:6} n={j['images']:3} over={j['overclaims']:2} "
                  f"crowd={score.crowd_within_one}/{score.crowd_frames}  {said}")
            if args.show:
                for line in j["overclaim_images"]:
                    print("      ", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
