"""The detector exported at another input size: NanoDet-m's graph is convolutional (its FPN's
upsampling sizes are rescaled by nanodet.export_detector), so it can read a larger frame and see
a far person with more pixels. This builds the int8 detector at SIZE with the shipped encoder's
calibration (the same frames, the same seed) and writes a copy of a bundle that uses it, with
or without the mirrored look; `evaluate-facts` and `bench` then run on that copy like on any
bundle. Its self-check is dropped (it was recorded for the shipped detector).

    python experiments/detector_size.py default-en 512 /tmp/bundle-512 [--no-mirror]
    edge-captioner-convert evaluate-facts /tmp/bundle-512 --split tune
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.export.convert import convert_saved_model  # noqa: E402
from conversion.pretrained import nanodet, photos, sources, tfjs_graph  # noqa: E402
from conversion.pretrained.build import (  # noqa: E402
    CALIBRATION_PHOTOS,
    DETECTOR,
    _calibration,
    _renders,
    _tensors,
)
from edge_captioner.bundle.loader import file_sha256, load_bundle  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("size", type=int)
    parser.add_argument("out", type=Path)
    parser.add_argument("--no-mirror", action="store_true")
    parser.add_argument("--photo-crops", type=int, default=96)
    parser.add_argument("--renders", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shipped = load_bundle(args.bundle)
    net = sources.read_files(sources.NANODET, None, False)
    real = list(photos.load_photos(list(CALIBRATION_PHOTOS)).values())
    frames = photos.augmented(real, args.photo_crops, args.seed) + _renders(args.renders, args.seed)
    shutil.rmtree(args.out, ignore_errors=True)
    shutil.copytree(shipped.path, args.out)
    with tempfile.TemporaryDirectory() as tmp:
        graph_def = tfjs_graph.load_graph_def(net["graph"], net["weights"])
        saved = nanodet.export_detector(graph_def, Path(tmp) / "detector", nanodet.SAFE_PAD_VALUE,
                                        input_size=args.size)
        samples = {"image": _calibration(args.size, DETECTOR["resize"], nanodet.COLOUR_ORDER,
                                         frames)}
        (args.out / "detector.tflite").write_bytes(convert_saved_model(saved, "int8", samples, True))
    manifest = json.loads((args.out / "manifest.json").read_text())
    detector = manifest["perception"]["detector"]
    detector["image"]["size"] = [args.size, args.size]
    detector["tensors"] = _tensors(args.out / "detector.tflite")
    if args.no_mirror:
        detector.pop("mirror", None)
    manifest["files"]["detector.tflite"] = file_sha256(args.out / "detector.tflite")
    manifest["self_check"] = None
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    load_bundle(args.out)
    print(f"{args.out}: detector at {args.size}, mirror {not args.no_mirror}")


if __name__ == "__main__":
    main()
