"""The real-world encoder's findings as one fixed-length vector: what a grounded decoder reads.

Training (on findings simulated from synthetic scenes: conversion/simulated_encoder.py) and the
device build it with this one function, so the decoder sees the same thing in both. Per home
kind, the scores of its detections, highest first (how many there are and how sure each is: a
decoder counts from them); per kind and per place, the classifier's probability mass on the
classes that are cues for it (a cat's face filling the frame, a doormat, a refrigerator); and
where the camera is configured to look (one-hot over the known places, "somewhere else" for a
place given as free text, or "not configured").
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BadInput
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
        return len(self.kinds) * (self.slots + 1) + 2 * len(self.places) + 2


def evidence(findings: Findings, spec: EvidenceSpec, place: str | None) -> np.ndarray:
    """float32 [spec.length], every value in 0..1. `place`: the camera's configured place: one of
    spec.places, free text (another place: the caption then names none of spec.places), or None."""
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
        vector[at + len(spec.places) + (place is None)] = 1.0
    return np.clip(vector, 0.0, 1.0)


def parse_evidence(manifest: dict, manifest_path: Path) -> EvidenceSpec | None:
    """The manifest's `evidence` section (a grounded bundle's), validated; None without one."""
    section = manifest.get("evidence")
    if section is None:
        return None

    def names(value, where: str) -> tuple[str, ...]:
        if not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise BadInput(f"{manifest_path}: 'evidence.{where}' must be a list of names")
        return tuple(value)

    def cues(value, where: str) -> dict[str, tuple[str, ...]]:
        if not isinstance(value, dict):
            raise BadInput(f"{manifest_path}: 'evidence.{where}' must map names to class lists")
        return {k: names(v, f"{where}.{k}") for k, v in value.items()}

    if not isinstance(section, dict):
        raise BadInput(f"{manifest_path}: 'evidence' must be an object")
    slots = section.get("slots")
    if not isinstance(slots, int) or isinstance(slots, bool) or not 1 <= slots <= 16:
        raise BadInput(f"{manifest_path}: 'evidence.slots' must be 1..16")
    return EvidenceSpec(kinds=names(section.get("kinds"), "kinds"), slots=slots,
                        places=names(section.get("places"), "places"),
                        kind_cues=cues(section.get("kind_cues", {}), "kind_cues"),
                        place_cues=cues(section.get("place_cues", {}), "place_cues"))
