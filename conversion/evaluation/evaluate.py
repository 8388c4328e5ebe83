"""`edge-captioner-convert evaluate BUNDLE DATA`: caption quality of a bundle, and its difference
from a reference bundle (`--reference`, typically the float32 twin of an int8 bundle).

Metrics:
- the standard COCO caption metrics, computed by pycocoevalcap (BLEU-1..4, METEOR, ROUGE-L,
  CIDEr). English goes through its PTB tokenizer like every published number; Chinese is scored on
  characters (our tokenizer, space-joined). METEOR's synonym tables are English, so METEOR is
  reported for English only.
- on synthetic data, scene-grounded metrics from the ground-truth record of each image, read from
  the caption by world/mentions.py: object-mention precision / recall / F1, CHAIR-i (share of
  mentioned object kinds that are not in the image), count accuracy, place accuracy, and
  scene-exact (every kind, count and the place right), also by number of objects in the image.

The metrics are computed in metrics.py. `--report DIR` writes an HTML page of captions, worst first
(report.py); for a bundle with attention also a section of per-word attention heat maps
(attention_report.py).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2

from conversion.datasets.entries import ImageEntry
from conversion.datasets.load import load_dataset
from conversion.export.agreement import METRICS_KEY, PERCEPTION_METRICS_KEY
from edge_captioner.bundle.loader import load_bundle, write_manifest
from edge_captioner.errors import BadInput
from edge_captioner.model.captioner import Captioner

from .metrics import coco_metrics, scene_metrics
from .report import write_report

log = logging.getLogger(__name__)


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
            from .attention_report import attention_section

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
