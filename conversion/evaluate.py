"""`edge-captioner-convert evaluate BUNDLE DATA`: caption quality of a bundle, and its difference
from a reference bundle (`--reference`, typically the float32 twin of an int8 bundle).

Metrics:
- the standard COCO caption metrics, computed by pycocoevalcap (BLEU-1..4, METEOR, ROUGE-L,
  CIDEr). English goes through its PTB tokenizer like every published number; Chinese is scored on
  characters (our tokenizer, space-joined). METEOR's synonym tables are English, so METEOR is
  reported for English only.
- on synthetic data, scene-grounded metrics from the ground-truth record of each image, read from
  the caption by conversion.mentions: object-mention precision / recall / F1, CHAIR-i (share of
  mentioned object kinds that are not in the image), count accuracy, place accuracy, and
  scene-exact (every kind, count and the place right), also by number of objects in the image.

`--report DIR` writes an HTML page of captions, worst first; for a bundle with attention also a
section of per-word attention heat maps (attention_report.py).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import io
import json
import logging
import shutil
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from conversion.datasets.entries import ImageEntry
from conversion.datasets.load import load_dataset
from conversion.export.agreement import METRICS_KEY, PERCEPTION_METRICS_KEY
from conversion.world.mentions import parse_caption
from conversion.world.scenes import Scene
from edge_captioner.bundle import load_bundle, write_manifest
from edge_captioner.captioner import Captioner
from edge_captioner.errors import BadInput
from edge_captioner.vocab import tokenize

log = logging.getLogger(__name__)

HEADLINE = ("object_f1", "chair_i", "count_accuracy", "place_accuracy", "scene_exact", "BLEU-4",
            "CIDEr")


# ------------------------------------------------------------------------------ pure metric code
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


# --------------------------------------------------------------------------------- running models
@dataclass
class EvalSet:
    entries: list[ImageEntry]
    language: str

    @property
    def references(self) -> dict[str, list[str]]:
        return {e.image_id: e.captions[self.language] for e in self.entries}

    @property
    def scenes(self) -> dict[str, dict] | None:
        if all(e.scene for e in self.entries):
            return {e.image_id: e.scene for e in self.entries}
        return None


def load_eval_set(data: str, language: str, limit: int | None, images: str | None = None) -> EvalSet:
    ds = load_dataset(data, images_dir=images)
    entries = [e for e in ds.images if e.captions.get(language)]
    test = [e for e in entries if e.split == "test"]
    entries = test or entries  # a held-out synthetic set has no splits: all of it
    entries = [e for e in entries if e.path.is_file()]
    if limit:
        entries = entries[:limit]
    if not entries:
        raise BadInput(f"{data}: no readable images with {language} captions to evaluate on")
    return EvalSet(entries, language)


def caption_all(bundle_path: str | Path, eval_set: EvalSet, beam: int) -> dict[str, str]:
    captioner = Captioner(bundle_path, threads=None)
    if captioner.bundle.language != eval_set.language:
        raise BadInput(f"{bundle_path}: a {captioner.bundle.language} bundle cannot be scored on "
                       f"{eval_set.language} captions")
    out = {}
    for entry in eval_set.entries:
        frame = cv2.imread(str(entry.path), cv2.IMREAD_COLOR)
        if frame is None:
            raise BadInput(f"{entry.path}: cannot read image")
        out[entry.image_id] = captioner.caption(frame, beam_size=beam).text
    return out


def all_metrics(hypotheses: dict[str, str], eval_set: EvalSet) -> dict:
    metrics = coco_metrics(hypotheses, eval_set.references, eval_set.language)
    if eval_set.scenes is not None:
        metrics.update(scene_metrics(hypotheses, eval_set.scenes, eval_set.language))
    metrics["images"] = len(hypotheses)
    return metrics


def evaluate_bundles(bundles: list, data: str, beam: int = 1, limit: int | None = None,
                     store_in_manifest: bool = False, images: str | None = None,
                     eval_set: EvalSet | None = None) -> dict:
    """Caption DATA with each bundle; returns {bundle path: {"metrics", "captions"}}.
    `eval_set`: DATA already loaded (load_eval_set), so that a caller that needs it too (the
    report) does not read the data set twice."""
    if eval_set is None:
        eval_set = load_eval_set(data, load_bundle(bundles[0]).language, limit, images)
    results = {}
    for path in bundles:
        captions = caption_all(path, eval_set, beam)
        metrics = all_metrics(captions, eval_set)
        results[str(path)] = {"metrics": metrics, "captions": captions}
        if store_in_manifest:
            bundle = load_bundle(path)
            # the int8-vs-float32 agreement that convert and attach measured stays
            kept = {k: v for k, v in (bundle.manifest.metrics or {}).items()
                    if k in (METRICS_KEY, PERCEPTION_METRICS_KEY)}
            stored = {"data": str(data), "beam": beam, **metrics, **kept}
            # the manifest is not among the hashed files
            write_manifest(Path(path), replace(bundle.manifest, metrics=stored))
    return results


def compare(metrics: dict, reference: dict, captions: dict[str, str],
            reference_captions: dict[str, str]) -> dict:
    delta = {k: metrics[k] - reference[k] for k in metrics
             if isinstance(metrics.get(k), float) and isinstance(reference.get(k), float)}
    same = sum(captions[i] == reference_captions[i] for i in captions)
    return {"delta": delta, "identical_captions": same / len(captions) if captions else 0.0}


# ---------------------------------------------------------------------------------------- report
def _disagreement(image_id: str, captions: dict, reference_captions: dict | None,
                  scenes: dict | None, language: str) -> tuple:
    differs = reference_captions is not None and captions[image_id] != reference_captions[image_id]
    wrong = 0
    if scenes is not None:
        said = parse_caption(captions[image_id], language)
        scene = Scene.from_record(scenes[image_id])
        wrong = int(said.counts != scene.counts()) + int(said.place != scene.place)
    return (differs, wrong)


def write_report(report_dir: Path, eval_set: EvalSet, bundle_name: str, result: dict,
                 reference_name: str | None, reference: dict | None, comparison: dict | None,
                 max_images: int = 120, extra_html: str = "") -> Path:
    """An HTML page (and a PNG of the worst cases): test images with the ground-truth caption,
    the reference bundle's caption and this bundle's, worst disagreements first. `extra_html`
    (the attention section, for a bundle with attention) goes between the metrics and the
    captions."""
    report_dir.mkdir(parents=True, exist_ok=True)
    (report_dir / "images").mkdir(exist_ok=True)
    captions = result["captions"]
    ref_captions = reference["captions"] if reference else None
    scenes = eval_set.scenes
    by_id = {e.image_id: e for e in eval_set.entries}
    order = sorted(captions, key=lambda i: _disagreement(i, captions, ref_captions, scenes,
                                                         eval_set.language), reverse=True)
    rows = []
    for image_id in order[:max_images]:
        entry = by_id[image_id]
        target = report_dir / "images" / f"{image_id}{entry.path.suffix or '.jpg'}"
        shutil.copyfile(entry.path, target)
        differs, wrong = _disagreement(image_id, captions, ref_captions, scenes, eval_set.language)
        cells = [f'<img src="images/{html.escape(target.name)}" width="192">',
                 html.escape(entry.captions[eval_set.language][0])]
        if ref_captions is not None:
            cells.append(html.escape(ref_captions[image_id]))
        cells.append(html.escape(captions[image_id]))
        cls = ' class="bad"' if differs or wrong else ""
        rows.append(f"<tr{cls}><td>{'</td><td>'.join(cells)}</td></tr>")

    metric_names = [k for k, v in result["metrics"].items() if isinstance(v, float)]
    head = ["metric", bundle_name] + ([reference_name, "delta"] if reference else [])
    table = ["<tr><th>" + "</th><th>".join(map(html.escape, head)) + "</th></tr>"]
    for k in metric_names:
        cells = [k, f"{result['metrics'][k]:.4f}"]
        if reference and isinstance(reference["metrics"].get(k), float):
            cells += [f"{reference['metrics'][k]:.4f}", f"{comparison['delta'][k]:+.4f}"]
        table.append("<tr><td>" + "</td><td>".join(cells) + "</td></tr>")
    if comparison:
        table.append(f"<tr><td>identical captions</td><td colspan=3>"
                     f"{comparison['identical_captions']:.3f}</td></tr>")
    columns = ["image", "ground truth (canonical)"] + (
        [f"reference: {html.escape(reference_name)}"] if reference else []) + [
        html.escape(bundle_name)]
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>edge-captioner evaluation: {html.escape(bundle_name)}</title>
<style>body{{font-family:sans-serif;margin:1em}} table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px;vertical-align:top}} tr.bad td{{background:#fee}}
figure{{margin:0.8em 0}}</style>
</head><body><h1>{html.escape(bundle_name)} on {len(captions)} images</h1>
<table>{''.join(table)}</table>
{extra_html}
<h2>Captions, worst disagreements first</h2>
<table><tr><th>{'</th><th>'.join(columns)}</th></tr>{''.join(rows)}</table></body></html>"""
    (report_dir / "index.html").write_text(page, encoding="utf-8")
    _report_png(report_dir / "report.png", order[:24], by_id, captions, ref_captions, eval_set)
    return report_dir / "index.html"


def _report_png(path: Path, ids: list[str], by_id: dict, captions: dict, ref_captions: dict | None,
                eval_set: EvalSet) -> None:
    """The worst cases as one picture. OpenCV fonts have no CJK glyphs: for Chinese the PNG shows
    the images in the order of the HTML page, whose table has the captions."""
    tiles = []
    for image_id in ids:
        image = cv2.resize(cv2.imread(str(by_id[image_id].path)), (192, 192))
        tile = np.full((192 + 40, 192, 3), 255, np.uint8)
        tile[:192] = image
        if eval_set.language == "en":
            lines = [("ref: " + (ref_captions or captions)[image_id])[:34], captions[image_id][:34]]
        else:
            lines = [f"#{image_id}"]
        for k, line in enumerate(lines):
            cv2.putText(tile, line, (2, 192 + 14 + 14 * k), cv2.FONT_HERSHEY_SIMPLEX, 0.33,
                        (0, 0, 0), 1, cv2.LINE_AA)
        tiles.append(tile)
    if not tiles:
        return
    while len(tiles) % 6:
        tiles.append(np.full_like(tiles[0], 255))
    grid = np.vstack([np.hstack(tiles[r: r + 6]) for r in range(0, len(tiles), 6)])
    cv2.imwrite(str(path), grid)


# ---------------------------------------------------------------------------------------- command
def _format(name: str, metrics: dict, reference: dict | None = None, comparison: dict | None = None,
            reference_name: str = "") -> str:
    keys = [k for k, v in metrics.items() if isinstance(v, float)]
    lines = [f"{'metric':<18}{name[:22]:>24}" + (f"{reference_name[:22]:>24}{'delta':>10}"
                                                 if reference else "")]
    for k in keys:
        line = f"{k:<18}{metrics[k]:>24.4f}"
        if reference and isinstance(reference.get(k), float):
            line += f"{reference[k]:>24.4f}{comparison['delta'][k]:>+10.4f}"
        lines.append(line)
    by_n = metrics.get("scene_exact_by_objects")
    if by_n:
        lines.append("scene_exact by objects: " + ", ".join(f"{n}: {v:.3f}"
                                                            for n, v in by_n.items()))
    if comparison:
        lines.append(f"identical captions: {comparison['identical_captions']:.3f}")
    lines.append(f"images: {metrics['images']}")
    return "\n".join(lines)


def _is_instances_file(data: str | None) -> bool:
    """A COCO instances file (labelled objects, no captions): the grounded photo evaluation."""
    if not data or not str(data).endswith(".json") or not Path(data).is_file():
        return False
    try:
        document = json.loads(Path(data).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(document, dict) and "categories" in document and "annotations" in document


def cmd_evaluate(args: argparse.Namespace) -> int:
    if getattr(args, "simulated", None) or _is_instances_file(args.data):
        from conversion.grounded.evaluate import cmd_evaluate_grounded

        return cmd_evaluate_grounded(args)
    if not args.data:
        raise BadInput("evaluate: DATA is needed (a caption data set, or a COCO instances file "
                       "of labelled photos), or --simulated N for a grounded bundle")
    bundle = load_bundle(args.bundle)
    ref_name = load_bundle(args.reference).name if args.reference else ""
    eval_set = load_eval_set(args.data, bundle.language, args.limit, args.images)
    bundles = [args.bundle] + ([args.reference] if args.reference else [])
    results = evaluate_bundles(bundles, args.data, beam=args.beam, eval_set=eval_set)
    main = results[str(args.bundle)]
    reference = results.get(str(args.reference)) if args.reference else None
    comparison = (compare(main["metrics"], reference["metrics"], main["captions"],
                          reference["captions"]) if reference else None)
    if args.report:
        extra = ""
        if bundle.wiring.attention is not None:
            from conversion.attention_report import attention_section

            extra = attention_section(Path(args.report), args.bundle, eval_set.entries)
        page = write_report(Path(args.report), eval_set, bundle.name, main, ref_name or None,
                            reference, comparison, extra_html=extra)
        log.info("report: %s", page)
    if args.json:
        print(json.dumps({
            "bundle": bundle.name, "metrics": main["metrics"],
            **({"reference": ref_name, "reference_metrics": reference["metrics"], **comparison}
               if reference else {}),
            "beam": args.beam,
        }, ensure_ascii=False))
    else:
        print(_format(bundle.name, main["metrics"], reference and reference["metrics"],
                      comparison, ref_name))
    return 0
