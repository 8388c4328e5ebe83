"""Score ways of adding the second COCO detector (CenterNet) to the people NanoDet finds, offline,
on a dump of experiments/centernet_dump.py. Per split: person right/false/missed (P, R), crowds
counted within one, images stating a kind, count or posture not there (photos and clip frames
together): what evaluate-facts prints. Only people change: every other kind is the device's own
finding. --sweep chooses each variant's setting on the tune split alone (GRID), then reports it
on every split.

    python experiments/centernet_variants.py /tmp/centernet.json --sweep [--variant NAME ...]

Variants (person = a person the caption may count; NanoDet's side is the device's own objects:
mirror merge, closer look, pose rescue, unless it says otherwise):
- device: the bundle as it is (must match evaluate-facts).
- centernet: CenterNet's people alone (frame and mirror merged like NanoDet's), at --cn-person,
  the pose rescue applied to them as to NanoDet's.
- add_high: the device's people, plus CenterNet's people (merged looks) scoring >= --add that no
  device person overlaps (IoU >= --same).
- agree: the device's people, plus a person NanoDet scored in [--agree-low, threshold) when
  CenterNet (merged looks) has a person there (IoU >= --same) scoring >= --agree-cn.
- crop_agree: as agree, but CenterNet's look is on the closer look's crop around each of the
  --crop-people largest unsure people (the dump's `crops`), not on the whole frame.
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

VARIANTS = ("device", "centernet", "add_high", "agree", "crop_agree", "replace_mirror")
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
    if v == "agree":
        for o in out:
            if args.agree_low <= o.score < threshold and any(
                    c.score >= args.agree_cn and detections.iou(c.box, o.box) >= args.same
                    for c in cn):
                o.score = threshold
    if v == "crop_agree":
        unsure = sorted((o for o in out if args.agree_low <= o.score < threshold),
                        key=lambda o: -detections.area(o.box))[: args.crop_people]
        looks = {tuple(c["box"]): c["found"] for c in entry.get("crops", [])}
        for o in unsure:
            found = min(looks.items(), key=lambda kv: -detections.iou(kv[0], o.box),
                        default=(None, []))[1]
            if any(c["score"] >= args.agree_cn and detections.iou(tuple(c["box"]), o.box)
                   >= args.same for c in found):
                o.score = threshold
    if v == "add_high":
        for c in cn:
            if c.score >= args.add and not any(detections.iou(c.box, o.box) >= args.same
                                               for o in out):
                out.append(Obj("person", threshold, c.box))
    return out


def objects_of(entry: dict, args) -> list[Obj]:
    others = [Obj(o["kind"], o["score"], tuple(o["box"]), o.get("posture"), o.get("pose_score"))
              for o in entry["device"] if o["kind"] != "person"]
    return people_of(entry, args) + others


# The tune grid each variant's setting was chosen from (--sweep): the most person recall at
# person precision >= 0.97 (conversion/facts/tune.py's target), then the fewest overclaims;
# where no setting reaches 0.97, the most precise
GRID = {
    "centernet": [{"cn_person": v} for v in (0.3, 0.35, 0.38, 0.4, 0.42, 0.45, 0.5)],
    "add_high": [{"add": v} for v in (0.4, 0.5, 0.6, 0.7)],
    "agree": [{"agree_low": lo, "agree_cn": cn} for lo in (0.3, 0.35, 0.4, 0.45, 0.5)
              for cn in (0.3, 0.4, 0.5, 0.6)],
    "crop_agree": [{"agree_cn": cn} for cn in (0.3, 0.35, 0.4, 0.45, 0.5, 0.6)],
    "replace_mirror": [{"cn_weight": v} for v in (0.8, 1.0, 1.2, 1.3, 1.4, 1.5, 1.7, 2.0)],
}
TARGET_PRECISION = 0.97


def tally(dump: dict, labels: dict, split: str, args) -> dict:
    """One split, photos and clip frames together: person right/false/missed, overclaims,
    crowds within one."""
    score = Score()
    for name, entry in dump.items():
        if entry["split"] != split:
            continue
        facts = from_findings.facts_of(objects_of(entry, args), place=None,
                                       thresholds=args.thresholds, default=DEFAULT_THRESHOLD)
        add_image(score, name, facts, facts, labels[name], KINDS, False)
    j = score.to_json()
    p = j["kinds"]["person"]
    right, false, missed = p["right"], p["false"], p["missed"]
    return {"images": j["images"], "right": right, "false": false, "missed": missed,
            "precision": right / (right + false) if right + false else 1.0,
            "recall": right / (right + missed) if right + missed else 1.0,
            "overclaims": j["overclaims"], "crowd": (score.crowd_within_one, score.crowd_frames),
            "overclaim_images": j["overclaim_images"]}


def line(t: dict) -> str:
    return (f"{t['right']}/{t['false']}/{t['missed']} P={t['precision']:.3f} R={t['recall']:.3f} "
            f"over={t['overclaims']}/{t['images']} crowd={t['crowd'][0]}/{t['crowd'][1]}")


def sweep(dump: dict, labels: dict, args) -> dict[str, dict]:
    """Each variant's setting chosen on the tune split alone."""
    chosen = {}
    for variant, settings in GRID.items():
        best = None
        for setting in settings:
            trial = argparse.Namespace(**{**vars(args), **setting, "variant": variant})
            t = tally(dump, labels, "tune", trial)
            print(f"  tune {variant:15} {setting}  {line(t)}")
            # where no setting reaches the target, the most precise one (then the most recall)
            meets = t["precision"] >= TARGET_PRECISION
            key = (meets, t["recall"] if meets else t["precision"], t["recall"], -t["overclaims"])
            if best is None or key > best[0]:
                best = (key, setting)
        chosen[variant] = best[1]
        print(f"chosen {variant}: {best[1]}"
              + ("" if best[0][0] else f" (none reaches precision {TARGET_PRECISION} on tune)"))
    return chosen


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("dump")
    parser.add_argument("--variant", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    parser.add_argument("--splits", nargs="*", default=["tune", "held_out", "fresh"])
    parser.add_argument("--sweep", action="store_true",
                        help="choose each variant's setting on tune (GRID), then report it")
    parser.add_argument("--cn-person", type=float, default=0.4)
    parser.add_argument("--add", type=float, default=0.5)
    parser.add_argument("--agree-low", type=float, default=0.3)
    parser.add_argument("--agree-cn", type=float, default=0.3)
    parser.add_argument("--same", type=float, default=0.5)
    parser.add_argument("--cn-weight", type=float, default=1.0)
    parser.add_argument("--crop-people", type=int, default=2)
    parser.add_argument("--person", type=float, default=THRESHOLDS["person"])
    parser.add_argument("--show", action="store_true", help="list the images stating too much")
    args = parser.parse_args()
    args.thresholds = dict(THRESHOLDS, person=args.person)
    dump = json.loads(Path(args.dump).read_text())
    labels = {}
    for split in ("tune", "held_out", "fresh"):
        data = labelled(split)
        labels.update(data.photos | data.clip_frames)
    chosen = sweep(dump, labels, args) if args.sweep else {}
    for variant in args.variant:
        run = argparse.Namespace(**{**vars(args), **chosen.get(variant, {}), "variant": variant})
        for split in args.splits:
            t = tally(dump, labels, split, run)
            print(f"{variant:15} {split:8} {line(t)}  {chosen.get(variant, '')}")
            if args.show:
                for shown in t["overclaim_images"]:
                    print("      ", shown)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
