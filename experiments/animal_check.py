"""What the animal check (model/animal_check.py) sees of each dog, cat and bird a bundle would
count without it, on every labelled real photo and clip frame: the classifier's probability
mass on ImageNet's classes of that kind (domestic dogs, domestic cats, birds) and on all its
other animal classes (a lion, a wallaby, a fox), its top three, and the check's verdict. The
crops are the device's own (`Perception.crop_probabilities`, mirrored where the frame is seen
mirrored); the bundle's check is switched off so the animals it refuses are listed too. Used to
measure the check (docs/model-card.md, "Animals COCO has no class for").

    python experiments/animal_check.py default-en all > /tmp/animals.json
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
from edge_captioner.model.animal_check import class_mass, other_animal  # noqa: E402
from edge_captioner.model.perception import Perception  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle")
    parser.add_argument("split")
    args = parser.parse_args()
    captioner = facts_captioner(args.bundle)
    spec, perception = captioner.evidence_spec, captioner.perception
    check = perception.spec.classifier.animal_check
    seen: list[tuple] = []

    def recording(self, pyramid, objects):
        """The check's crops, without its verdicts: every animal keeps its kind."""
        seen.extend((o, self.crop_probabilities(pyramid, o.box)) for o in objects
                    if o.kind in check.kinds and o.score >= check.min_score)
        return objects

    Perception.check_animals = recording
    data = labelled(args.split)
    labels = {**data.photos, **data.clip_frames}
    rows = []
    for name, frame in chain(data.photo_images(), data.clip_images()):
        seen.clear()
        captioner.caption(frame)
        for o, probs in seen:
            if o.score < spec.thresholds.get(o.kind, spec.default_threshold):
                continue  # not counted either way
            own = class_mass(probs, check.kinds[o.kind])
            top = np.argsort(-probs)[:3]
            rows.append({"name": name, "kind": o.kind, "score": round(o.score, 3),
                         "own": round(own, 3),
                         "other_animals": round(class_mass(probs, check.animals) - own, 3),
                         "refused": other_animal(probs, check.kinds[o.kind], check.animals),
                         "top": [(perception.classifier_labels[i], round(float(probs[i]), 3))
                                 for i in top],
                         "labelled": {k: v for k, v in labels[name].get("counts", {}).items()
                                      if k in (*check.kinds, "other_animal")}})
    json.dump(rows, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
