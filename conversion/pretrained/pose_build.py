"""`python -m conversion.pretrained.pose_build OUT [--opencv-doc DIR]`: the pose graph, measured.

Builds MoveNet SinglePose Lightning (movenet.py) from its pinned npm package as full-int8 TFLite
(uint8 image in, float heads out) calibrated on person crops of real photos (people.CALIBRATION),
and its float32 twin; then measures, through the device's own code (edge_captioner/model/pose.py,
posture.py), on the labelled photos (people.py):
- int8 vs float32 keypoints on the photos held out of calibration (crop pixels at 192);
- the posture said for each labelled person against the label: a confusion table, for the
  held-out photos and for those the rules were tuned on;
- milliseconds per person (int8, one thread), and the graph's size.
OUT gets pose.tflite, float32/pose.tflite and pose.json (the proposed `perception.pose`
manifest section, provenance, the figures).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from edge_captioner.bundle.loader import file_sha256
from edge_captioner.errors import EXIT_OK, BadInput
from edge_captioner.model import pose, posture
from edge_captioner.model.runtime import Graph, pick_runtime

from . import movenet, people, sources

log = logging.getLogger(__name__)

POSE_FILE = "pose.tflite"
POSE_JSON = "pose.json"
MARGIN = 0.25  # crop side = the box's longer side x 1.25
MAX_PEOPLE = 3  # the largest three boxes get a pose: about 6 ms each on one x86 core
KEYPOINT_THRESHOLD = 0.3
SAID = ("standing", "sitting", "lying", None)


def pose_section(tensors: dict | None = None) -> dict:
    """The proposed manifest sub-section `perception.pose` (bundle/perception_section.py)."""
    return {
        "file": POSE_FILE,
        "image": {"size": [movenet.INPUT_SIZE] * 2, "colour_order": movenet.COLOUR_ORDER,
                  "resize": "stretch"},
        "crop_margin": MARGIN,
        "max_people": MAX_PEOPLE,
        "thresholds": {"keypoint": KEYPOINT_THRESHOLD},
        "tensors": tensors or {},
        "sources": [sources.MOVENET_LIGHTNING.key],
    }


def _crops(frames: dict[str, np.ndarray], names, seed: int, jitter: int) -> np.ndarray:
    """Person crops as the device makes them, plus jittered boxes and margins (the detector's
    boxes move from frame to frame)."""
    rng = np.random.default_rng(seed)
    out = []
    for name in names:
        frame = frames[name]
        h, w = frame.shape[:2]
        for box, truth in people.LABELS[name]:
            if truth == "none":
                continue
            for k in range(jitter + 1):
                b = np.asarray(box) + (rng.normal(0, 0.02, 4) if k else 0)
                margin = MARGIN * (rng.uniform(0.8, 1.2) if k else 1.0)
                out.append(pose.crop_image(frame, pose.square_crop(tuple(b), w, h, margin),
                                           movenet.INPUT_SIZE))
    return np.stack(out).astype(np.float32)


def build(out: Path, cache: Path | None, offline: bool, frames: dict[str, np.ndarray],
          seed: int = 0) -> dict:
    from conversion.export.convert import convert_saved_model

    from .tfjs_graph import load_graph_def

    files = sources.read_files(sources.MOVENET_LIGHTNING, cache, offline)
    try:
        graph_def = load_graph_def(files["graph"], files["weights"])
    except ValueError as exc:
        raise BadInput(f"{sources.MOVENET_LIGHTNING.package}: {exc}") from None
    samples = {"image": _crops(frames, [n for n in people.CALIBRATION if n in frames], seed, 2)}
    log.info("calibrating on %d person crops", len(samples["image"]))
    (out / "float32").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        saved = movenet.export_pose(graph_def, Path(tmp) / "pose")
        (out / POSE_FILE).write_bytes(convert_saved_model(saved, "int8", samples, True))
        (out / "float32" / POSE_FILE).write_bytes(convert_saved_model(saved, "float", None))
    # the numpy decoding against the graph's own float post-processing, on the held-out crops
    crops = _crops(frames, [n for n in people.HELD_OUT if n in frames], seed, 0)
    reference = movenet.reference_keypoints(graph_def, crops)
    float_graph = _graph(out / "float32" / POSE_FILE)
    worst = 0.0
    for image, ref in zip(crops, reference, strict=True):
        heads = _heads(float_graph, image)
        yx, scores, _ = pose.decode(*heads)
        worst = max(worst, float(np.abs(yx - ref[:, :2]).max()) * movenet.INPUT_SIZE)
    texts = sources.licence_texts(sources.MOVENET_LIGHTNING, files["licence"])
    for name, text in texts.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(text)
    provenance = [sources.MOVENET_LIGHTNING.manifest_entry(role, sorted(texts))
                  for role in ("graph", "weights")]
    return {"pretrained": provenance, "licence_files": sorted(texts),
            "calibration_crops": len(samples["image"]),
            "decode_vs_graph_max_px": round(worst, 3)}


def _graph(path: Path) -> Graph:
    from conversion.export.checks import graph_report
    from edge_captioner.bundle.tensors import GraphTensors

    report = graph_report(path)
    spec = GraphTensors.from_json({"inputs": report["inputs"], "outputs": report["outputs"]},
                                  "pose", path)
    return Graph(pick_runtime("auto"), path, spec, threads=1)


def _heads(graph: Graph, image: np.ndarray) -> list[np.ndarray]:
    graph.set("image", graph.quantize("image", image[np.newaxis]))
    graph.invoke()
    return [graph.dequantize(name, graph.get(name))[0] for name in pose.HEADS]


def measure(out: Path, frames: dict[str, np.ndarray], repeats: int = 20) -> dict:
    estimators = {kind: pose.PoseEstimator(_graph(path), movenet.INPUT_SIZE, MARGIN, 99)
                  for kind, path in (("int8", out / POSE_FILE),
                                     ("float32", out / "float32" / POSE_FILE))}
    confusion = {split: {t: {str(s): 0 for s in SAID} for t in people.TRUTHS}
                 for split in ("held_out", "tuning")}
    per_person, diffs, centre_by_truth = [], [], {"person": [], "none": []}
    for name, frame in frames.items():
        h, w = frame.shape[:2]
        labels = people.LABELS[name]
        found = {kind: e.keypoints(frame, [box for box, _ in labels]) for kind, e in estimators.items()}
        by_box = {kind: {k.box: k for k in ks} for kind, ks in found.items()}
        split = "held_out" if name in people.HELD_OUT else "tuning"
        for box, truth in labels:
            q, f = by_box["int8"][tuple(box)], by_box["float32"][tuple(box)]
            said = posture.posture(q.xy, q.scores, q.box, w / h)
            confusion[split][truth][str(said)] += 1
            centre_by_truth["none" if truth == "none" else "person"].append(q.centre)
            side = pose.square_crop(box, w, h, MARGIN)[2]
            both = (q.scores >= KEYPOINT_THRESHOLD) & (f.scores >= KEYPOINT_THRESHOLD)
            px = np.hypot(*((q.xy - f.xy) * [w, h]).T) / side * movenet.INPUT_SIZE
            if name not in people.CALIBRATION and both.any():
                diffs.append(float(np.median(px[both])))
            per_person.append({
                "photo": name, "split": split, "box": list(box), "truth": truth, "said": said,
                "said_float32": posture.posture(f.xy, f.scores, f.box, w / h),
                "centre_int8": round(q.centre, 3), "confident_keypoints": int(both.sum()),
                "median_px_int8_vs_float32": round(float(np.median(px[both])), 2) if both.any() else None})
    # No photo of a person lying down was found in the registries: as a stand-in (not a
    # measurement of real lying people), every labelled photo turned 90 degrees, so a standing
    # person lies along the frame (gravity, floor and furniture turn with them: a proxy only).
    rotated = {t: {str(s): 0 for s in SAID} for t in people.TRUTHS}
    for name, frame in frames.items():
        turned = np.ascontiguousarray(np.rot90(frame, -1))  # clockwise: head to the right
        h, w = turned.shape[:2]
        for box, truth in people.LABELS[name]:
            x1, y1, x2, y2 = box
            # clockwise: new x = 1 - old y, new y = old x
            new = (1.0 - y2, x1, 1.0 - y1, x2)
            (k,) = estimators["int8"].keypoints(turned, [new])
            rotated[truth][str(posture.posture(k.xy, k.scores, new, w / h))] += 1

    # time: one person per call, the graph and the numpy around it (crop, decode, uncrop)
    e = estimators["int8"]
    frame = frames["ultralytics_bus"]
    box = people.LABELS["ultralytics_bus"][0][0]
    for _ in range(3):
        e.keypoints(frame, [box])
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        e.keypoints(frame, [box])
        times.append((time.perf_counter() - started) * 1000)
    return {
        "confusion": confusion,
        "rotated_90_proxy_confusion": rotated,
        "int8_vs_float32_median_px_per_person": {
            "photos": "held out of calibration", "people": len(diffs),
            "mean": round(float(np.mean(diffs)), 2) if diffs else None,
            "max": round(float(np.max(diffs)), 2) if diffs else None},
        "centre_score": {k: [round(float(np.min(v)), 3), round(float(np.median(v)), 3),
                             round(float(np.max(v)), 3)] if v else None
                         for k, v in centre_by_truth.items()},
        "ms_per_person_int8_one_thread": {"p50": round(float(np.median(times)), 2),
                                          "p90": round(float(np.percentile(times, 90)), 2),
                                          "frame": "ultralytics_bus (810 x 1080)"},
        "people": per_person,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--packages", help="package cache (default ~/.cache/edge-captioner/packages)")
    parser.add_argument("--offline", action="store_true")
    parser.add_argument("--opencv-doc", help="Debian opencv-doc's examples directory (two more "
                        "labelled photos)")
    parser.add_argument("--measure-only", action="store_true", help="OUT holds a built graph")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cache = Path(args.packages) if args.packages else None
    try:
        frames = people.load(cache, args.offline, Path(args.opencv_doc) if args.opencv_doc else None)
        built = {} if args.measure_only else build(out, cache, args.offline, frames)
        from conversion.export.checks import graph_report

        report = graph_report(out / POSE_FILE)
        figures = measure(out, frames)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    document = {"pose": pose_section({"inputs": report["inputs"], "outputs": report["outputs"]}),
                **built, "file_bytes": (out / POSE_FILE).stat().st_size,
                "sha256": file_sha256(out / POSE_FILE), **figures}
    if args.measure_only and (out / POSE_JSON).is_file():
        old = json.loads((out / POSE_JSON).read_text(encoding="utf-8"))
        document = {**{k: v for k, v in old.items() if k in ("pretrained", "licence_files",
                                                              "calibration_crops",
                                                              "decode_vs_graph_max_px")},
                    **document}
    (out / POSE_JSON).write_text(json.dumps(document, indent=1) + "\n", encoding="utf-8")
    for split, table in figures["confusion"].items():
        print(f"{split}: truth -> said")
        for truth, row in table.items():
            print(f"  {truth:9s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    print("every photo turned 90 degrees (a proxy for lying, not real lying people): truth -> said")
    for truth, row in figures["rotated_90_proxy_confusion"].items():
        print(f"  {truth:9s} " + "  ".join(f"{k}={v}" for k, v in row.items()))
    print(json.dumps({k: document[k] for k in ("file_bytes", "int8_vs_float32_median_px_per_person",
                                               "centre_score", "ms_per_person_int8_one_thread")}))
    print(f"decode vs graph: {document.get('decode_vs_graph_max_px')} px max")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
