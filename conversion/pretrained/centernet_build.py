"""The second COCO detector's graph: CenterNet-MobileNetV3 (centernet.py) as full-int8 TFLite.

`build` ports the pinned tfjs graph, converts it (int8 with a uint8 image input, calibrated on the
frames given; and its float32 twin), and checks the device's numpy decoding
(conversion/pretrained/centernet_decode.py) on the float32 twin against the graph's own decoding
(`tower_0/detections`) on the frames given: the same boxes at the same scores.

    python -m conversion.pretrained.centernet_build OUT [--photo-crops 96] [--renders 48]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from conversion.pretrained import centernet_decode as decoding
from edge_captioner.errors import EXIT_OK, BadInput
from edge_captioner.model.preprocess import model_input

from . import centernet, photos, sources

log = logging.getLogger(__name__)

CENTERNET_FILE = "centernet.tflite"
# as NanoDet's, and as the network's own repo feeds it (api/face_detector.py pads to the square):
# on the tune half of the real photos CenterNet alone (float32, each at its tune-chosen threshold)
# found people at recall 0.94 letterboxed against 0.84 stretched
RESIZE = "letterbox"
# the graph's decoding keeps 100 peaks with no threshold; we compare those scoring at least this
CHECK_SCORE = 0.2


def port(cache: Path | None, offline: bool) -> tuple[object, dict[str, bytes]]:
    """The pinned graph as a tf GraphDef, and the package files (for the licence text)."""
    from .tfjs_graph import load_graph_def

    files = sources.read_files(sources.CENTERNET, cache, offline)
    try:
        return load_graph_def(files["graph"], files["weights"]), files
    except ValueError as exc:
        raise BadInput(f"{sources.CENTERNET.package}: {exc}") from None


def inputs(frames: list[np.ndarray], size: int = centernet.INPUT_SIZE) -> np.ndarray:
    return np.stack([model_input(f, size, RESIZE, centernet.COLOUR_ORDER)
                     for f in frames]).astype(np.float32)


def load_graph(path: Path):
    """A converted graph through the device's own runtime wrapper, one thread."""
    from conversion.export.checks import graph_report
    from edge_captioner.bundle.tensors import GraphTensors
    from edge_captioner.model.runtime import Graph, pick_runtime

    report = graph_report(path)
    spec = GraphTensors.from_json({"inputs": report["inputs"], "outputs": report["outputs"]},
                                  "centernet", path)
    return Graph(pick_runtime("auto"), path, spec, threads=1)


def decode_vs_graph(graph_def, tflite: Path, frames: list[np.ndarray]) -> dict:
    """The numpy decoding of the float32 TFLite's heads against the graph's own detections
    (score >= CHECK_SCORE, before any NMS: ours runs with IoU 1.0 here, which keeps all)."""
    images = inputs(frames)
    reference = centernet.reference_detections(graph_def, images)
    graph = load_graph(tflite)
    worst_px = worst_score = 0.0
    compared = 0
    for image, ref in zip(images, reference, strict=True):
        graph.set("image", image[np.newaxis])
        graph.invoke()
        found = decoding.decode(graph.get("heatmap")[0], graph.get("sizes")[0],
                                stride=centernet.STRIDE, input_size=centernet.INPUT_SIZE,
                                score_threshold=CHECK_SCORE, iou_threshold=1.0,
                                max_detections=centernet.TOP_K)
        ref = ref[ref[:, 4] >= CHECK_SCORE]
        if len(found) != len(ref):
            raise ValueError(f"numpy decoding found {len(found)} objects, the graph {len(ref)}")
        # the graph does not clip its boxes; ours are clipped to the input
        ref_boxes = np.clip(ref[:, :4], 0, centernet.INPUT_SIZE)
        for d in found:
            close = np.abs(ref_boxes - np.array(d.box)).max(axis=1) + np.abs(ref[:, 4] - d.score)
            j = int(np.argmin(close))
            if int(ref[j, 5]) != d.label:
                raise ValueError(f"class {d.label} where the graph says {int(ref[j, 5])}")
            worst_px = max(worst_px, float(np.abs(ref_boxes[j] - np.array(d.box)).max()))
            worst_score = max(worst_score, abs(float(ref[j, 4]) - d.score))
            compared += 1
    return {"objects": compared, "max_box_px": round(worst_px, 4),
            "max_score": round(worst_score, 6)}


def build(out: Path, calibration: list[np.ndarray], cache: Path | None = None,
          offline: bool = False, input_size: int = centernet.INPUT_SIZE) -> dict:
    """centernet.tflite (int8, uint8 image in) and float32/centernet.tflite into out; the
    licence text; returns {"pretrained": [...], "licence_files": [...]}."""
    from conversion.export.convert import convert_saved_model

    graph_def, files = port(cache, offline)
    (out / "float32").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            saved = centernet.export_detector(graph_def, Path(tmp) / "centernet", input_size)
        except ValueError as exc:
            raise BadInput(f"{sources.CENTERNET.package}: {exc}") from None
        log.info("converting CenterNet, calibrating on %d frames", len(calibration))
        (out / CENTERNET_FILE).write_bytes(
            convert_saved_model(saved, "int8", {"image": inputs(calibration, input_size)}, True))
        (out / "float32" / CENTERNET_FILE).write_bytes(convert_saved_model(saved, "float", None))
    texts = sources.licence_texts(sources.CENTERNET, files["licence"])
    for name, text in texts.items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_bytes(text)
    return {"pretrained": [sources.CENTERNET.manifest_entry(role, sorted(texts))
                           for role in ("graph", "weights")],
            "licence_files": sorted(texts)}


def calibration_frames(photo_crops: int = 96, renders: int = 48, seed: int = 0) -> list[np.ndarray]:
    """What the detector calibrates on: crops of the package photos and renders, as NanoDet's."""
    from .build import CALIBRATION_PHOTOS, _renders

    real = list(photos.load_photos(list(CALIBRATION_PHOTOS)).values())
    return photos.augmented(real, photo_crops, seed) + _renders(renders, seed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="centernet_build")
    parser.add_argument("out")
    parser.add_argument("--photo-crops", type=int, default=96)
    parser.add_argument("--renders", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--input-size", type=int, default=centernet.INPUT_SIZE,
                        help="another multiple of 32 than the 512 it was trained at")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    out = Path(args.out)
    try:
        built = build(out, calibration_frames(args.photo_crops, args.renders, args.seed),
                      input_size=args.input_size)
        if args.input_size == centernet.INPUT_SIZE:  # the graph's own decoding is 512's
            graph_def, _ = port(None, True)
            check = list(photos.load_photos().values())
            built["decode_vs_graph"] = decode_vs_graph(
                graph_def, out / "float32" / CENTERNET_FILE, check)
    except BadInput as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    (out / "centernet.json").write_text(json.dumps(built, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(built.get("decode_vs_graph")))
    return EXIT_OK


if __name__ == "__main__":
    raise SystemExit(main())
