#!/usr/bin/env python3
"""How often a `train --scene-only` CNN's heads are right on a synthetic set, before any decoder.

    python benchmarks/scene_heads.py CNN DATA [--flip] [--json]

CNN is a `--scene-only` training directory, DATA a synthetic set with scene records (e.g. a
held-out `runs/synth-val`). Prints the figures `train.log` reports for its validation images
(render_model.scene_targets.scene_only_accuracy: `groups`, the share of object groups whose count
is right, which bounds what a decoder reading the heads gets for count accuracy; colour, where,
place, lighting) on any set. `--flip` also scores the mirrored images and the mean of both views'
probabilities: what test-time mirroring would buy (the captions never say left or right).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversion.datasets.load import load_dataset  # noqa: E402
from conversion.datasets.training_data import load_images  # noqa: E402
from conversion.render_model.scene_targets import (  # noqa: E402
    scene_arrays,
    scene_details,
    scene_only_accuracy,
    scene_targets,
)
from edge_captioner.errors import BadInput  # noqa: E402


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def score(model_dir: Path, data: str, flip: bool) -> dict:
    config_path, checkpoint = model_dir / "config.json", model_dir / "checkpoint.keras"
    try:
        config = json.loads(config_path.read_text())
    except (OSError, ValueError) as exc:
        raise BadInput(f"{config_path}: not a training configuration: {exc}") from None
    if not config.get("scene_only") or not checkpoint.is_file():
        raise BadInput(f"{model_dir}: not a `train --scene-only` output directory")
    entries = [e for e in load_dataset(data).images if e.path.is_file()]
    if not entries or not all(e.scene for e in entries):
        raise BadInput(f"{data}: no scene records (not a synthetic set)")
    supervision = config["scene_supervision"]
    scene = scene_targets(entries, supervision)
    targets = scene_arrays(scene, scene_details(entries, scene.kinds, supervision["details"]))
    images = load_images(entries, config["model"]["image_size"], config["resize"])

    import keras

    import conversion.network.model  # noqa: F401  (registers the custom layers the checkpoint names)

    model = keras.models.load_model(checkpoint, compile=False)
    plain = model.predict(images, batch_size=128, verbose=0)
    result = {"images": len(entries), "groups_total": int((targets["scene_counts"] > 0).sum()),
              "plain": scene_only_accuracy(plain, targets)}
    if flip:
        mirrored = model.predict(np.ascontiguousarray(images[:, :, ::-1]), batch_size=128,
                                 verbose=0)
        result["mirrored"] = scene_only_accuracy(mirrored, targets)
        result["mean"] = scene_only_accuracy(
            {k: (softmax(plain[k]) + softmax(mirrored[k])) / 2 for k in plain}, targets)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data")
    parser.add_argument("--flip", action="store_true", help="also the mirrored images, and both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    try:
        result = score(args.model, args.data, args.flip)
    except BadInput as exc:
        print(f"scene_heads.py: error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"model": str(args.model), **result}))
        return 0
    print(f"{args.model} on {args.data}: {result['images']} images, "
          f"{result['groups_total']} object groups")
    for view in ("plain", "mirrored", "mean"):
        if view in result:
            print(f"  {view:8s} " + ", ".join(f"{k} {v:.4f}" for k, v in result[view].items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
