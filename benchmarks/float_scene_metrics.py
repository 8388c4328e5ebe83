#!/usr/bin/env python3
"""Scene-grounded metrics of a trained model's FLOAT weights, without converting it to a bundle.

    python benchmarks/float_scene_metrics.py MODEL DATA [--lang en] [--json]

MODEL is a `train` output directory, DATA a synthetic set with scene records (e.g. the held-out
`runs/synth-test`). Greedy captions come from the exported one-step decoder's numpy twin
(conversion.network.float_decode, what `train` uses for its sample captions), so comparing training
recipes costs a minute instead of an int8 conversion each. Prints object F1, CHAIR-i, count,
place and scene-exact accuracy (evaluation.metrics.scene_metrics, the same figures `evaluate` reports).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from conversion.datasets.training_data import load_images  # noqa: E402
from conversion.evaluation.evaluate import load_eval_set  # noqa: E402
from conversion.evaluation.metrics import scene_metrics  # noqa: E402
from conversion.export.convert import load_trained  # noqa: E402
from conversion.network.float_decode import float_greedy  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("data")
    parser.add_argument("--lang", default=None, help="default: the model's language")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    captioner, config, vocab = load_trained(args.model)
    language = args.lang or config["language"]
    eval_set = load_eval_set(args.data, language, None)
    if eval_set.scenes is None:
        print(f"{args.data}: no scene records (not a synthetic set)", file=sys.stderr)
        return 2
    images = load_images(eval_set.entries, captioner.config.image_size, config["resize"])
    ids = float_greedy(captioner, images, vocab)
    captions = {e.image_id: vocab.decode(i) for e, i in zip(eval_set.entries, ids, strict=True)}
    metrics = scene_metrics(captions, eval_set.scenes, language)
    if args.json:
        print(json.dumps({"model": str(args.model), **metrics}))
    else:
        by_n = " / ".join(f"{v:.3f}" for v in metrics["scene_exact_by_objects"].values())
        print(f"{args.model} ({language}, {len(captions)} images, float, greedy): object F1 "
              f"{metrics['object_f1']:.3f}, CHAIR-i {metrics['chair_i']:.3f}, count "
              f"{metrics['count_accuracy']:.3f}, place {metrics['place_accuracy']:.3f}, "
              f"scene-exact {metrics['scene_exact']:.3f} ({by_n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
