"""Scoring captions' facts against hand labels of real photos (tests/data/real_photos.json):
pure functions, so the figures in docs/model-card.md can be checked by a test.

A label gives, per kind, an exact count or a [low, high] range (ambiguous: far, cut, hidden), and
the clearly visible people with their posture. Objects are matched by count, not by box (the
labels have no boxes): of n found where the label says [low, high], min(n, high) are right, the
rest false; max(low - n, 0) are missed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from edge_captioner.scene.facts import MANY, Facts


def count_range(value) -> tuple[int, int]:
    """A label's count: n or [low, high] -> (low, high)."""
    if isinstance(value, list):
        return int(value[0]), int(value[1])
    return int(value), int(value)


def labelled_postures(persons: Iterable[Mapping]) -> Counter:
    return Counter(p.get("posture") for p in persons)


@dataclass
class Tally:
    right: int = 0
    false: int = 0
    missed: int = 0

    @property
    def precision(self) -> float | None:
        return self.right / (self.right + self.false) if self.right + self.false else None

    @property
    def recall(self) -> float | None:
        return self.right / (self.right + self.missed) if self.right + self.missed else None


@dataclass
class Score:
    images: int = 0
    overclaims: int = 0  # images whose caption states a kind, count or posture not there
    overclaim_names: list[str] = field(default_factory=list)
    kinds: dict[str, Tally] = field(default_factory=dict)
    crowd_frames: int = 0  # labelled 4..9 people
    crowd_within_one: int = 0
    # a doorbell's question, "is someone there?": images surely with a person (labelled at
    # least one) and how many of them the facts say someone in; images surely without one
    # (labelled none) and how many of them the facts wrongly say someone in
    images_with_someone: int = 0
    someone_said: int = 0
    images_with_no_one: int = 0
    someone_said_wrongly: int = 0
    postures_said: Counter = field(default_factory=Counter)  # (said, labelled-ok?) tallies
    lying_wrong: int = 0  # "lying" said of more people than lie in the image
    fallbacks: int = 0
    captions: int = 0
    # the decoder left free (no constrained search): sentences the facts do not support
    free_unsupported: int = 0

    def to_json(self) -> dict:
        return {
            "images": self.images, "overclaims": self.overclaims,
            "overclaim_rate": round(self.overclaims / self.images, 4) if self.images else None,
            "overclaim_images": self.overclaim_names,
            "kinds": {k: {"right": t.right, "false": t.false, "missed": t.missed,
                          "precision": _r(t.precision), "recall": _r(t.recall)}
                      for k, t in sorted(self.kinds.items())},
            "crowd_frames": self.crowd_frames,
            "crowd_within_one": (round(self.crowd_within_one / self.crowd_frames, 4)
                                 if self.crowd_frames else None),
            "someone_there": {"images": self.images_with_someone, "said": self.someone_said},
            "no_one_there": {"images": self.images_with_no_one,
                             "someone_said": self.someone_said_wrongly},
            "postures_said": dict(self.postures_said), "lying_wrong": self.lying_wrong,
            "captions": self.captions, "fallbacks": self.fallbacks,
            "free_decoder_unsupported": self.free_unsupported,
        }


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def overclaims(stated: Facts, label: Mapping, kinds: Iterable[str]) -> list[str]:
    """What a caption's facts (as read back from it) state that the label does not hold: a kind
    not there, more of a kind than there are ("many": fewer than MANY there), a posture said of
    more people than hold it."""
    counts = label.get("counts", {})
    wrong = []
    for kind, n in stated.counts:
        if kind not in kinds:
            continue
        _, high = count_range(counts.get(kind, 0))
        if (n >= MANY and high < MANY) or (n < MANY and n > high):
            wrong.append(f"{kind} {n} (labelled {counts.get(kind, 0)})")
    held = labelled_postures(label.get("persons", []))
    said = Counter()
    for g in stated.people:
        if g.posture is not None:
            said[g.posture] += g.count
    for posture, n in said.items():
        if n > held.get(posture, 0):
            wrong.append(f"{n} {posture} (labelled {held.get(posture, 0)})")
    return wrong


def add_image(score: Score, name: str, found: Facts, stated: Facts, label: Mapping,
              kinds: Iterable[str], fallback: bool) -> None:
    """found: the facts the perception held (exact counts); stated: what the published caption
    states (read back)."""
    kinds = list(kinds)
    score.images += 1
    score.captions += 1
    score.fallbacks += int(fallback)
    wrong = overclaims(stated, label, kinds)
    if wrong:
        score.overclaims += 1
        score.overclaim_names.append(f"{name}: {', '.join(wrong)}")
    counts = label.get("counts", {})
    found_counts = found.count_of
    for kind in kinds:
        low, high = count_range(counts.get(kind, 0))
        n = found_counts.get(kind, 0)
        t = score.kinds.setdefault(kind, Tally())
        t.right += min(n, high)
        t.false += max(n - high, 0)
        t.missed += max(low - n, 0)
    low, high = count_range(counts.get("person", 0))
    someone = found_counts.get("person", 0) >= 1
    if low >= 1:
        score.images_with_someone += 1
        score.someone_said += int(someone)
    elif high == 0:
        score.images_with_no_one += 1
        score.someone_said_wrongly += int(someone)
    if high >= 4 and low <= 9:
        score.crowd_frames += 1
        n = found_counts.get("person", 0)
        score.crowd_within_one += int(low - 1 <= n <= high + 1)
    held = labelled_postures(label.get("persons", []))
    for g in stated.people:
        if g.posture is not None:
            ok = g.count <= held.get(g.posture, 0)
            score.postures_said[f"{g.posture}:{'ok' if ok else 'more than labelled'}"] += g.count
            if g.posture == "lying" and not ok:
                score.lying_wrong += 1
