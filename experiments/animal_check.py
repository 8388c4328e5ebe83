"""What the ImageNet classifier (the encoder's EfficientNet-Lite0, int8) says of each cat, dog
and bird a bundle counts, on every labelled real photo and clip frame: the crop round the
animal's box, the classifier's probability mass on ImageNet's classes of that kind (domestic
dogs, domestic cats, birds) and on all its other animal classes (a lion, a wallaby, a fox), and
its top three. Used to choose the animal check (docs/model-card.md, "Animals COCO has no class
for").

    python experiments/animal_check.py default-en ENCODER_DIR all > /tmp/animals.json
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import chain
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from conversion.facts.evaluate import facts_captioner, labelled  # noqa: E402
from edge_captioner.model.preprocess import model_input  # noqa: E402
from edge_captioner.model.runtime import pick_runtime  # noqa: E402
from edge_captioner.scene.from_findings import kept  # noqa: E402

# ImageNet-1k indices (labels/imagenet1k.txt, 0-based): 0-397 are animals
ANIMALS = range(0, 398)
GROUPS = {"dog": range(151, 269), "cat": range(281, 286),
          "bird": [*range(7, 25), *range(80, 101), *range(127, 147)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("encoder", type=Path)
    parser.add_argument("split")
    parser.add_argument("--grow", type=float, default=1.2)
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    spec = captioner.evidence_spec
    names = (args.encoder / "labels/imagenet1k.txt").read_text().splitlines()
    interpreter = pick_runtime().Interpreter(model_path=str(args.encoder / "classifier.tflite"))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]["index"]
    out = interpreter.get_output_details()[0]["index"]
    data = labelled(args.split)
    labels = {**data.photos, **data.clip_frames}
    rows = []
    for name, frame in chain(data.photo_images(), data.clip_images()):
        result = captioner.caption(frame)
        height, width = frame.shape[:2]
        for o in kept(result.findings.objects, spec.kinds, spec.thresholds, spec.default_threshold):
            if o.kind not in GROUPS:
                continue
            x1, y1, x2, y2 = (int(v) for v in _grown(o.box, width, height, args.grow))
            crop = frame[y1:y2, x1:x2]
            interpreter.set_tensor(inp, model_input(crop, 224, "stretch", "RGB")[np.newaxis])
            interpreter.invoke()
            p = interpreter.get_tensor(out)[0].astype(np.float64)
            own = float(p[list(GROUPS[o.kind])].sum())
            other = float(p[list(ANIMALS)].sum()) - own
            top = np.argsort(-p)[:3]
            rows.append({"name": name, "kind": o.kind, "score": round(o.score, 3),
                         "own": round(own, 3), "other_animals": round(other, 3),
                         "top": [(names[i], round(float(p[i]), 3)) for i in top],
                         "labelled": {k: v for k, v in labels[name].get("counts", {}).items()
                                      if k in (*GROUPS, "other_animal")}})
    json.dump(rows, sys.stdout, indent=1)


def _grown(box, width, height, grow):
    """The box grown `grow` times about its centre, in pixels, cut by the frame."""
    cx, cy = (box[0] + box[2]) / 2 * width, (box[1] + box[3]) / 2 * height
    w, h = (box[2] - box[0]) * width * grow, (box[3] - box[1]) * height * grow
    return (max(0, cx - w / 2), max(0, cy - h / 2), min(width, cx + w / 2), min(height, cy + h / 2))


if __name__ == "__main__":
    main()
