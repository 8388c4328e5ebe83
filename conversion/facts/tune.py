"""`edge-captioner-convert tune-thresholds BUNDLE`: per-kind score thresholds from the TUNE half of
the labelled real photos and clip frames (never the held-out half, never the fresh photos): for
each kind with at least MIN_INSTANCES labelled instances, the threshold with the best recall whose
precision on the tune images reaches the target (person PERSON_PRECISION, others
OTHER_PRECISION), else the best F0.5; other kinds keep the default unless the tune images show
false ones above it. Prints the table and the suggested conversion/facts/thresholds.py values as JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from edge_captioner.errors import EXIT_OK

from .score import Tally, count_range

PERSON_PRECISION = 0.97  # a margin over the 0.95
OTHER_PRECISION = 0.92
MIN_INSTANCES = 5
CANDIDATES = [round(x, 2) for x in np.arange(0.25, 0.81, 0.05)]


def tally(found: list[dict[str, list[float]]], labels: list[dict], kind: str, threshold: float) -> Tally:
    t = Tally()
    for scores, label in zip(found, labels, strict=True):
        n = sum(s >= threshold for s in scores.get(kind, []))
        low, high = count_range(label.get("counts", {}).get(kind, 0))
        t.right += min(n, high)
        t.false += max(n - high, 0)
        t.missed += max(low - n, 0)
    return t


def _f_half(t: Tally) -> float:
    """F0.5: precision weighs twice as much as recall (a false fact is worse than a miss)."""
    p, r = t.precision or 0.0, t.recall or 0.0
    return 1.25 * p * r / (0.25 * p + r) if p + r else 0.0


def choose(found, labels, kind: str, default: float) -> tuple[float, list]:
    """The threshold with the best recall among those reaching the precision target; where none
    does, the best F0.5. A kind with fewer than MIN_INSTANCES labelled instances keeps `default`,
    or more where the tune images show false ones above it (never less: unmeasured, so strict)."""
    target = PERSON_PRECISION if kind == "person" else OTHER_PRECISION
    instances = sum(count_range(lab.get("counts", {}).get(kind, 0))[0] for lab in labels)
    table = [(th, tally(found, labels, kind, th)) for th in CANDIDATES]
    if instances < MIN_INSTANCES:
        clean = [th for th, t in table if t.false == 0 and th >= default]
        return (clean[0] if clean else CANDIDATES[-1]), table
    reaching = [(t.recall or 0.0, -th, th) for th, t in table
                if t.precision is not None and t.precision >= target]
    if reaching:
        return max(reaching)[2], table
    return max(table, key=lambda row: (_f_half(row[1]), -row[0]))[0], table


def cmd_tune_thresholds(args: argparse.Namespace) -> int:
    from itertools import chain

    from .evaluate import facts_captioner, labelled

    captioner = facts_captioner(args.bundle)
    spec = captioner.evidence_spec
    data = labelled("tune")
    labels_by_name = data.photos | data.clip_frames
    found, labels = [], []
    for name, frame in chain(data.photo_images(), data.clip_images()):
        scores: dict[str, list[float]] = {}
        for o in captioner.perception.see(frame).objects:
            if o.kind is not None:
                scores.setdefault(o.kind, []).append(o.score)
        found.append(scores)
        labels.append(labels_by_name[name])
    chosen = {}
    for kind in spec.kinds:
        threshold, table = choose(found, labels, kind, spec.default_threshold)
        if threshold != spec.default_threshold:
            chosen[kind] = threshold
        rows = ", ".join(f"{th}: {t.right}/{t.false}/{t.missed}" for th, t in table)
        print(f"{kind}: {threshold}  (threshold: right/false/missed) {rows}")
    print(json.dumps({"images": len(found), "thresholds": chosen}))
    return EXIT_OK


