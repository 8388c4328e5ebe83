"""Whether an animal the detector named is that animal: the ImageNet classifier's view of the
crop round it. COCO has three animals a home camera sees (dog, cat, bird) and no class for the
others, so the detector calls a fox, a hare or a lion a dog or a cat. ImageNet has classes for
those: where the classifier puts more of its probability on other animals than on the named
kind's own classes, the animal is not said (docs/model-card.md, "Animals COCO has no class
for"). Pure: probabilities and index ranges in, a verdict out.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def class_mass(probs: np.ndarray, ranges: Sequence[tuple[int, int]]) -> float:
    """The probability on the classes of these inclusive index ranges."""
    return float(sum(probs[low: high + 1].sum(dtype=np.float64) for low, high in ranges))


def other_animal(probs: np.ndarray, own: Sequence[tuple[int, int]],
                 animals: Sequence[tuple[int, int]]) -> bool:
    """Whether the classifier holds the crop more likely another animal than the named one:
    its mass on the animal classes outside `own` is over its mass on `own` (both inside
    `animals`, the ranges of all the labels that are animals). Mass on things that are not
    animals (a mug, a sweater) counts for neither: a cat on a mug is still a cat."""
    kind = class_mass(probs, own)
    return class_mass(probs, animals) - kind > kind


def grown(box: Sequence[float], width: int, height: int, grow: float) -> tuple[int, int, int, int]:
    """The pixel rectangle of a 0..1 box grown `grow` times about its centre (the classifier
    sees some of what is round the animal, as in its training crops), cut by the frame."""
    cx, cy = (box[0] + box[2]) / 2 * width, (box[1] + box[3]) / 2 * height
    w, h = (box[2] - box[0]) * width * grow, (box[3] - box[1]) * height * grow
    x1 = min(max(0, int(cx - w / 2)), width - 1)
    y1 = min(max(0, int(cy - h / 2)), height - 1)
    return (x1, y1, max(x1 + 1, min(width, int(np.ceil(cx + w / 2)))),
            max(y1 + 1, min(height, int(np.ceil(cy + h / 2)))))
