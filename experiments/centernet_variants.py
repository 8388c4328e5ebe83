"""Score ways of adding the second COCO detector (CenterNet) to the people NanoDet finds, offline,
on a dump of experiments/centernet_dump.py. Per split: person right/false/missed (P, R), crowds
counted within one, images stating a kind, count or posture not there: what evaluate-facts
prints. Only people change: every other kind is the device's own finding.

    python experiments/centernet_variants.py /tmp/centernet.json --splits tune [--variant NAME ...]

Variants (person = a person the caption may count; NanoDet's side is the device's own objects:
mirror merge, closer look, pose rescue, unless it says otherwise):
- device: the bundle as it is (must match evaluate-facts).
- centernet: CenterNet's people alone (frame and mirror merged like NanoDet's), at --cn-person,
  the pose rescue applied to them as to NanoDet's.
- add_high: the device's people, plus CenterNet's people (merged looks) scoring >= --add that no
  device person overlaps (IoU >= --same).
- agree: the device's people, plus a person NanoDet scored in [--agree-low, threshold) when
  CenterNet (merged looks) has a person there (IoU >= --same) scoring >= --agree-cn.
- agree_add: both of the above.
- replace_mirror: NanoDet's frame-only look (with the closer look) merged with CenterNet's frame
  look (detections.merge_mirrored: a person both find keeps the mean score, one only one finds
  half its score), the pose rescue from the dump's poses.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import labelled  # noqa: E402
from conversion.facts.score import Score, add_image  # noqa: E402
from conversion.facts.thresholds import DEFAULT_THRESHOLD, THRESHOLDS  # noqa: E402
from edge_captioner.model import detections  # noqa: E402
from edge_captioner.scene import from_findings  # noqa: E402
from edge_captioner.scene.facts import KINDS  # noqa: E402

VARIANTS = ("device", "centernet", "add_high", "agree", "agree_add", "replace_mirror")
MAX_POSED = 3  # the device poses the three largest people scoring >= 0.3


@dataclass
class Obj:
    kind: str | None
    score: float
    box: tuple
    posture: str | None = None
    pose_score: float | None = None


def _merged(entry: dict) -> list[tuple[str, float, tuple]]:
    full = [(d["label"], d["score"], tuple(d["box"])) for d in entry["full"]]
    mirror = [(d["label"], d["score"], tuple(d["box"])) for d in entry["mirror"]]
    return detections.merge_mirrored(full, mirror)


def _posed(people: list[Obj], poses: list[dict]) -> list[Obj]:
    """The largest MAX_POSED people scoring >= 0.3 get the dump's pose nearest their box."""
    ranked = sorted((o for o in people if o.score >= 0.3),
                    key=lambda o: -detections.area(o.box))[:MAX_POSED]
    for o in ranked:
        best = max(poses, key=lambda p: detections.iou(tuple(p["box"]), o.box), default=None)
        if best is not None and detections.iou(tuple(best["box"]), o.box) >= 0.5:
            o.posture, o.pose_score = best["posture"], best["centre"]
    return people


def _cn_people(entry: dict, merged: bool = True) -> list[Obj]:
    found = _merged(entry) if merged else [(d["label"], d["score"], tuple(d["box"]))
                                           for d in entry["full"]]
    return [Obj("person", s, b) for label, s, b in found if label == "person"]


def people_of(entry: dict, args) -> list[Obj]:
    device = [Obj(o["kind"], o["score"], tuple(o["box"]), o.get("posture"), o.get("pose_score"))
              for o in entry["device"] if o["kind"] == "person"]
    threshold = args.thresholds["person"]
    v = args.variant
    if v == "device":
        return device
    if v == "centernet":
        scale = threshold / args.cn_person  # CenterNet's own threshold maps onto the person one
        people = [Obj("person", min(o.score * scale, 1.0), o.box) for o in _cn_people(entry)]
        return _posed(people, entry["pose"])
    if v == "replace_mirror":
        once = [(d["label"], d["score"], tuple(d["box"])) for d in entry["nanodet_once"]
                if d["label"] == "person"]
        cn = [("person", s * args.cn_weight, b) for label, s, b in
              ((d["label"], d["score"], tuple(d["box"])) for d in entry["full"])
              if label == "person"]
        people = [Obj("person", s, b) for _, s, b in detections.merge_mirrored(once, cn)]
        return _posed(people, entry["pose"])
    out = list(device)
    cn = _cn_people(entry)
    if v in ("agree", "agree_add"):
        for o in out:
            if args.agree_low <= o.score < threshold and any(
                    c.score >= args.agree_cn and detections.iou(c.box, o.box) >= args.same
                    for c in cn):
                o.score = threshold
    if v in ("add_high", "agree_add"):
        for c in cn:
            if c.score >= args.add and not any(detections.iou(c.box, o.box) >= args.same
                                               for o in out):
                out.append(Obj("person", threshold, c.box))
    return out


def objects_of(entry: dict, args) -> list[Obj]:
    others = [Obj(o["kind"], o["score"], tuple(o["box"]), o.get("posture"), o.get("pose_score"))
              for o in entry["device"] if o["kind"] != "person"]
    return people_of(entry, args) + others


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--variant", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--splits", nargs="*", default=["tune"])
    parser.add_argument("--parts", nargs="*", default=["photos", "clips"])
    parser.add_argument("--cn-person", type=float, default=0.4)
    parser.add_argument("--add", type=float, default=0.5)
    parser.add_argument("--agree-low", type=float, default=0.3)
    parser.add_argument("--agree-cn", type=float, default=0.3)
    parser.add_argument("--same", type=float, default=0.5)
    parser.add_argument("--cn-weight", type=float, default=1.0)
    parser.add_argument("--person", type=float, default=THRESHOLDS["person"])
    parser.add_argument("--show", action="store_true", help="list the images stating too much")
    args = parser.parse_args()
    args.thresholds = dict(THRESHOLDS, person=args.person)
    dump = json.loads(Path(args.dump).read_text())
    labels = {}
    for split in args.splits:
        data = labelled(split)
        labels.update(data.photos | data.clip_frames)
    variants = args.variant
    for variant in variants:
        args.variant = variant
        for split in args.splits:
            for part in args.parts:
                report(dump, labels, split, part, args)
    return 0


def report(dump: dict, labels: dict, split: str, part: str, args) -> dict:
    score = Score()
    for name, entry in dump.items():
        if entry["split"] != split or entry["clip"] != (part == "clips"):
            continue
        facts = from_findings.facts_of(objects_of(entry, args), place=None,
                                       thresholds=args.thresholds, default=DEFAULT_THRESHOLD)
        add_image(score, name, facts, facts, labels[name], KINDS, False)
    j = score.to_json()
    if not j["images"]:
        return j
    p = j["kinds"]["person"]
    print(f"{args.variant:15} {split:8} {part:6} n={j['images']:3} person {p['right']}/"
          f"{p['false']}/{p['missed']} P={p['precision']} R={p['recall']} "
          f"over={j['overclaims']} crowd={score.crowd_within_one}/{score.crowd_frames}")
    if args.show:
        for line in j["overclaim_images"]:
            print("      ", line)
    return j


if __name__ == "__main__":
    raise SystemExit(main())
