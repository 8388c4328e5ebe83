"""The real-world encoder's findings as one fixed-length vector: what a grounded decoder reads.

Training (on findings simulated from synthetic scenes: conversion/simulated_encoder.py) and the
device build it with this one function, so the decoder sees the same thing in both. Per home
kind, the scores of its detections, highest first (how many there are and how sure each is: a
decoder counts from them); per kind and per place, the classifier's probability mass on the
classes that are cues for it (a cat's face filling the frame, a doormat, a refrigerator); and
where the camera is configured to look (one-hot, or "not configured").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .perception import Findings


@dataclass(frozen=True)
class EvidenceSpec:
    kinds: tuple[str, ...]  # home kinds, in the order of the vector
    slots: int  # detection scores kept per kind: the largest count a caption can say
    places: tuple[str, ...]
    kind_cues: dict[str, tuple[str, ...]]  # kind -> classifier labels that show it
    place_cues: dict[str, tuple[str, ...]]  # place -> classifier labels that show it

    @property
    def length(self) -> int:
        return len(self.kinds) * (self.slots + 1) + 2 * len(self.places) + 1


def evidence(findings: Findings, spec: EvidenceSpec, place: str | None) -> np.ndarray:
    """float32 [spec.length], every value in 0..1. `place`: the camera's configured place (one of
    spec.places), or None; free text is None here (its words go into the caption as they are)."""
    vector = np.zeros(spec.length, np.float32)
    scores: dict[str, list[float]] = {k: [] for k in spec.kinds}
    for obj in findings.objects:
        if obj.kind in scores:
            scores[obj.kind].append(obj.score)
    classes = dict(findings.classes)
    at = 0
    for kind in spec.kinds:
        top = sorted(scores[kind], reverse=True)[: spec.slots]
        vector[at: at + len(top)] = top
        at += spec.slots
    for kind in spec.kinds:
        vector[at] = sum(classes.get(label, 0.0) for label in spec.kind_cues.get(kind, ()))
        at += 1
    for name in spec.places:
        vector[at] = sum(classes.get(label, 0.0) for label in spec.place_cues.get(name, ()))
        at += 1
    if place in spec.places:
        vector[at + spec.places.index(place)] = 1.0
    else:
        vector[at + len(spec.places)] = 1.0
    return np.clip(vector, 0.0, 1.0)
