"""Caption metrics: the standard COCO ones through pycocoevalcap, and the scene-grounded ones of
captions against the ground-truth records of synthetic images (`evaluate`, evaluate.py)."""

from __future__ import annotations

import contextlib
import io
from collections import defaultdict

import numpy as np

from conversion.world.mentions import parse_caption
from conversion.world.scenes import Scene
from edge_captioner.bundle.vocab import tokenize


def scene_metrics(hypotheses: dict[str, str], scenes: dict[str, dict], language: str) -> dict:
    """Scene-grounded metrics of captions against ground-truth scene records."""
    tp = mentioned = present = 0
    hallucinated = 0
    count_right = count_total = place_right = 0
    exact_by_n: dict[int, list[int]] = defaultdict(list)
    for image_id, caption in hypotheses.items():
        scene = Scene.from_record(scenes[image_id])
        truth = scene.counts()
        said = parse_caption(caption, language)
        tp += len(said.kinds & set(truth))
        mentioned += len(said.kinds)
        present += len(truth)
        hallucinated += len(said.kinds - set(truth))
        for kind, n in truth.items():
            count_total += 1
            count_right += said.counts.get(kind) == n
        place_ok = said.place == scene.place
        place_right += place_ok
        exact_by_n[scene.n_objects].append(int(place_ok and said.counts == truth))
    precision = tp / mentioned if mentioned else 1.0
    recall = tp / present if present else 1.0
    n = len(hypotheses)
    exact_all = [v for values in exact_by_n.values() for v in values]
    return {
        "object_precision": precision,
        "object_recall": recall,
        "object_f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "chair_i": hallucinated / mentioned if mentioned else 0.0,
        "count_accuracy": count_right / count_total if count_total else 1.0,
        "place_accuracy": place_right / n if n else 0.0,
        "scene_exact": float(np.mean(exact_all)) if exact_all else 0.0,
        "scene_exact_by_objects": {str(k): float(np.mean(v)) for k, v in sorted(exact_by_n.items())},
    }


def coco_metrics(hypotheses: dict[str, str], references: dict[str, list[str]], language: str) -> dict:
    """BLEU-1..4, METEOR (en), ROUGE-L and CIDEr through pycocoevalcap."""
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge

    ids = list(hypotheses)
    if language == "en":
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        tokenizer = PTBTokenizer()
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its Java progress
            gts = tokenizer.tokenize({i: [{"caption": c} for c in references[i]] for i in ids})
            res = tokenizer.tokenize({i: [{"caption": hypotheses[i]}] for i in ids})
    else:
        gts = {i: [" ".join(tokenize(c, language)) for c in references[i]] for i in ids}
        res = {i: [" ".join(tokenize(hypotheses[i], language)) or "<empty>"] for i in ids}
    out: dict[str, float] = {}
    with contextlib.redirect_stdout(io.StringIO()):
        bleu, _ = Bleu(4).compute_score(gts, res)
    for k, value in enumerate(bleu, start=1):
        out[f"BLEU-{k}"] = float(value)
    if language == "en":
        from pycocoevalcap.meteor.meteor import Meteor

        meteor = Meteor()
        try:
            out["METEOR"] = float(meteor.compute_score(gts, res)[0])
        finally:
            with contextlib.suppress(Exception):
                meteor.meteor_p.kill()
                meteor.meteor_p.wait()
    out["ROUGE-L"] = float(Rouge().compute_score(gts, res)[0])
    out["CIDEr"] = float(Cider().compute_score(gts, res)[0])
    return out
