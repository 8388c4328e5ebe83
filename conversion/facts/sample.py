"""Random facts for training the facts decoder: every kind, count (1..9 and "many"), posture
group and place the captions can say, in the mixtures a home camera sees (mostly one to three
kinds, people most often), so that the decoder learns to transcribe each of them.

Counts are drawn so that small ones are frequent and every count up to MAX_EXACT and beyond is
still seen thousands of times in 100,000 examples; the decoder never has to generalise to a count
it has not written.
"""

from __future__ import annotations

import numpy as np

from edge_captioner.bundle.sections import FactsSpec
from edge_captioner.scene.facts import KINDS, MANY, MAX_EXACT, POSE_GROUPS, Facts, make_facts

EMPTY_P = 0.12  # frames with nothing found
PERSON_P = 0.6  # frames with people (of those with anything)
POSTURE_KNOWN_P = 0.7  # frames whose people have postures at all
# of a posture group drawn, all the people left ("two people standing"), else some of them ("a
# person standing and two other people": the pose model sees only the largest few)
ALL_OF_THEM_P = 0.4
PLACE_P = 0.6  # cameras configured with a known place
MAX_OTHER_KINDS = 4  # kinds besides people in one frame


def sample_count(rng: np.random.Generator) -> int:
    """1..MAX_EXACT and some above: about half ones, a long tail."""
    u = rng.random()
    if u < 0.45:
        return 1
    if u < 0.65:
        return 2
    if u < 0.94:
        return int(rng.integers(3, MAX_EXACT + 1))
    return int(rng.integers(MANY, 3 * MANY))


def sample_facts(rng: np.random.Generator, spec: FactsSpec) -> Facts:
    kinds = [k for k in spec.kinds if k in KINDS]
    place = (spec.places[int(rng.integers(len(spec.places)))]
             if spec.places and rng.random() < PLACE_P else None)
    if rng.random() < EMPTY_P:
        return make_facts({}, {}, place)
    others = [k for k in kinds if k != "person"]
    counts: dict[str, int] = {}
    with_people = rng.random() < PERSON_P
    n_other = min(int(rng.integers(0 if with_people else 1, MAX_OTHER_KINDS + 1)), len(others))
    for k in rng.choice(others, size=n_other, replace=False):
        counts[str(k)] = sample_count(rng)
    poses: dict = {}
    if with_people:
        people = counts["person"] = sample_count(rng)
        groups = [g for g in spec.pose_groups if g in POSE_GROUPS]
        if groups and rng.random() < POSTURE_KNOWN_P:
            left = people
            for i in rng.permutation(len(groups))[: int(rng.integers(1, 4))]:
                if not left:
                    break
                # all of them, or some: "two people standing", "a person lying down and another"
                n = left if rng.random() < ALL_OF_THEM_P else int(rng.integers(1, left + 1))
                poses[groups[i]] = n
                left -= n
    return make_facts(counts, poses, place)


def sample_many(count: int, seed: int, spec: FactsSpec) -> list[Facts]:
    rng = np.random.default_rng(seed)
    return [sample_facts(rng, spec) for _ in range(count)]
