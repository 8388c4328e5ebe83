"""How truthful a grounded bundle is: on labelled real photos, and on simulated findings.

Real photos (a COCO instances file: images, annotations with a category each, categories; the
images named by `conversion/pretrained/photos.py` names, or "black", "grey", "noise"):
- hallucination rate: images whose caption names a kind the image does not hold;
- CHAIR-i: kinds named that are not there, over all kinds named;
- recall per kind: images holding a kind whose caption names it;
- empty-frame accuracy: images holding none of our kinds whose caption names none;
- count accuracy: kinds named with the right count, over the kinds the images hold;
- reliability: the caption's confidence against whether it is wholly right, per confidence bin.

Simulated (synthetic scenes -> simulated findings -> the bundle's encoder and decoder): does the
decoder say what the findings support (train.sample_example's targets)? Object F1 over kinds,
count accuracy, place accuracy, exact captions.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from conversion.pretrained import photos
from edge_captioner.errors import BadInput
from edge_captioner.model.captioner import Captioner
from edge_captioner.model.search import greedy

from .captions import mentions
from .train import sample_example

CONFIDENCE_BINS = (0.0, 0.5, 0.7, 0.85, 0.95, 1.0001)


def read_labels(path: Path) -> dict[str, dict[str, int]]:
    """image name -> {kind: count} from a COCO instances file."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        kinds = {c["id"]: c["name"] for c in document["categories"]}
        names = {i["id"]: i["file_name"] for i in document["images"]}
        counts: dict[str, dict[str, int]] = {name: {} for name in names.values()}
        for a in document["annotations"]:
            image, kind = names[a["image_id"]], kinds[a["category_id"]]
            counts[image][kind] = counts[image].get(kind, 0) + 1
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{path}: not a COCO instances file: {exc}") from None
    return counts


def _frame(name: str) -> np.ndarray:
    synthetic = photos.synthetic_frames()
    return synthetic[name] if name in synthetic else photos.load_photo(name)


def evaluate_photos(captioner: Captioner, labels: dict[str, dict[str, int]]) -> dict:
    lang = captioner.bundle.language
    hallucinated = named = invented = empty = empty_right = 0
    holds: dict[str, int] = {}
    found: dict[str, int] = {}
    counted = counted_right = 0
    reliability: list[tuple[float, bool]] = []
    captions = {}
    for name, truth in labels.items():
        result = captioner.caption(_frame(name))
        said, _place = mentions(result.text, lang)
        captions[name] = {"caption": result.text, "confidence": round(result.confidence, 3)}
        wrong_kinds = set(said) - set(truth)
        hallucinated += bool(wrong_kinds)
        named += len(said)
        invented += len(wrong_kinds)
        if not truth:
            empty += 1
            empty_right += not said
        for kind, count in truth.items():
            holds[kind] = holds.get(kind, 0) + 1
            found[kind] = found.get(kind, 0) + (kind in said)
            counted += 1
            counted_right += said.get(kind) == count
        reliability.append((result.confidence, said == truth))
    n = len(labels)
    return {
        "images": n,
        "hallucination_rate": round(hallucinated / n, 4),
        "chair_i": round(invented / named, 4) if named else 0.0,
        "recall": {k: round(found[k] / holds[k], 4) for k in sorted(holds)},
        "empty_frame_accuracy": round(empty_right / empty, 4) if empty else None,
        "count_accuracy": round(counted_right / counted, 4) if counted else None,
        "reliability": _reliability(reliability),
        "captions": captions,
    }


def _reliability(pairs: list[tuple[float, bool]]) -> list[dict]:
    """Per confidence bin: how many captions, and the share wholly right."""
    rows = []
    for lo, hi in zip(CONFIDENCE_BINS, CONFIDENCE_BINS[1:], strict=False):
        inside = [right for confidence, right in pairs if lo <= confidence < hi]
        if inside:
            rows.append({"confidence": f"{lo:.2f}-{min(hi, 1):.2f}", "captions": len(inside),
                         "right": round(sum(inside) / len(inside), 4)})
    return rows


def evaluate_simulated(captioner: Captioner, count: int, seed: int) -> dict:
    """The int8 encoder and decoder on simulated findings of `count` fresh synthetic scenes."""
    if not captioner.grounded:
        raise BadInput(f"{captioner.bundle.path}: --simulated needs a grounded bundle")
    rng = np.random.default_rng(seed)
    lang, vocab, model = captioner.bundle.language, captioner.bundle.vocab, captioner.model
    tp = fp = fn = groups = groups_right = place_right = exact = 0
    for _ in range(count):
        example = sample_example(rng)
        state = model.encode(example.vector)
        best = greedy(model.step, state, vocab.start_id, vocab.end_id, captioner.max_length)
        said, place = mentions(vocab.decode(best.tokens), lang)
        truth = example.counts
        tp += len(set(said) & set(truth))
        fp += len(set(said) - set(truth))
        fn += len(set(truth) - set(said))
        groups += len(truth)
        groups_right += sum(said.get(k) == v for k, v in truth.items())
        place_right += place == example.place
        exact += said == truth and place == example.place
    return {
        "examples": count,
        "object_f1": round(2 * tp / (2 * tp + fp + fn), 4) if tp + fp + fn else 1.0,
        "count_accuracy": round(groups_right / groups, 4) if groups else None,
        "place_accuracy": round(place_right / count, 4),
        "exact": round(exact / count, 4),
    }


def cmd_evaluate_grounded(args: argparse.Namespace) -> int:
    """`evaluate` of a grounded bundle: labelled real photos and/or simulated findings."""
    captioner = Captioner(args.bundle)
    result: dict = {"bundle": captioner.bundle.name}
    if args.data:
        result["photos"] = evaluate_photos(captioner, read_labels(Path(args.data)))
    if args.simulated:
        result["simulated"] = evaluate_simulated(captioner, args.simulated, args.seed)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    photos_result = result.get("photos")
    if photos_result:
        print(f"{captioner.bundle.name} on {photos_result['images']} labelled photos ({args.data}):")
        for key in ("hallucination_rate", "chair_i", "recall", "empty_frame_accuracy",
                    "count_accuracy"):
            print(f"  {key:<22}{photos_result[key]}")
        print("  reliability (confidence: captions, share wholly right): " + ", ".join(
            f"{r['confidence']}: {r['captions']}, {r['right']:.2f}"
            for r in photos_result["reliability"]))
        for name, c in photos_result["captions"].items():
            print(f"    {name:<18} {c['confidence']:.3f}  {c['caption']}")
    if "simulated" in result:
        sim = result["simulated"]
        print(f"{captioner.bundle.name} on {sim['examples']} simulated findings (seed {args.seed}): "
              f"object F1 {sim['object_f1']:.4f}, count accuracy {sim['count_accuracy']:.4f}, "
              f"place accuracy {sim['place_accuracy']:.4f}, exact {sim['exact']:.4f}")
    return 0
