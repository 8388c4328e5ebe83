"""The real-world encoder's findings as one fixed-length vector: what a grounded decoder reads.

Training (on findings simulated from synthetic scenes: conversion/grounded/simulated_encoder.py) and the
device build it with this one function, so the decoder sees the same thing in both. Per home
kind, the scores of its detections, highest first (how many there are and how sure each is: a
decoder counts from them); per kind and per place, the classifier's probability mass on the
classes that are cues for it (a cat's face filling the frame, a doormat, a refrigerator); and
where the camera is configured to look (one-hot over the known places, "somewhere else" for a
place given as free text, or "not configured").
"""

from __future__ import annotations

import numpy as np

from ..bundle.sections import EvidenceSpec, FactsSpec
from ..scene.facts import Facts, said_count
from .perception import Findings


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


def facts_vector(facts: Facts, spec: FactsSpec) -> np.ndarray:
    """float32 [spec.length]: for each kind but person, then for each posture group of people and
    the people of unknown posture, a one-hot count (0..max_exact, then "many"); then the place
    (one-hot over spec.places, last: none). A facts bundle's decoder reads this and writes the
    sentence that states exactly these facts (scene/phrase.py)."""
    vector = np.zeros(spec.length, np.float32)
    width = spec.count_width
    counts = facts.count_of
    by_pose = {g.pose: g.count for g in facts.people}
    slots = [counts.get(kind, 0) for kind in spec.kinds[1:]]
    slots += [by_pose.get(pose, 0) for pose in spec.pose_groups]
    # people of a posture group the bundle cannot say are people of unknown posture
    slots.append(counts.get("person", 0) - sum(by_pose.get(p, 0) for p in spec.pose_groups))
    for i, n in enumerate(slots):
        vector[i * width + min(said_count(n), width - 1)] = 1.0
    at = len(slots) * width
    vector[at + (spec.places.index(facts.place) if facts.place in spec.places
                 else len(spec.places))] = 1.0
    return vector
