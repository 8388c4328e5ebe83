"""The reader: a caption back to the facts it states, in English and Chinese.

It reads the language phrase.py writes (and the decoder is trained on), strictly: a sentence with
a word or an order outside it is `Unreadable`, and support.py then treats it as stating something
the facts may not hold. Hand-written because the grammar is a few dozen phrases: a parser library
would be larger than it.
"""

from __future__ import annotations

import re
import unicodedata

from ..bundle.vocab import tokenize
from .facts import MANY, POSE_GROUPS, Facts, make_facts
from .phrase import check_language
from .words import (
    AND_ZH,
    LYING_NOWHERE_EN,
    NO_PLACE_EN,
    NO_PLACE_ZH,
    NOBODY_EN,
    NOBODY_ZH,
    NOUN_EN,
    NOUN_ZH,
    NUMBER_EN,
    NUMBER_ZH,
    OTHER_MANY_EN,
    OTHER_ONE_EN,
    OTHER_ZH,
    PLACE_EN,
    PLACE_ZH,
    POSE_ZH,
    POSTURE_EN,
    SPOT_EN,
    THERE_IS_ZH,
)


class Unreadable(ValueError):
    """The sentence is not one the captions' grammar can say."""


class _Facts:
    """What a sentence has stated so far."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.poses: dict = {}
        self.place: str | None = None

    def add(self, kind: str, n: int, pose=None) -> None:
        if kind != "person" and kind in self.counts:
            raise Unreadable(f"{kind} is named twice")
        if kind == "person" and (pose in self.poses):
            raise Unreadable(f"the people {pose} are named twice")
        self.counts[kind] = self.counts.get(kind, 0) + n
        if kind == "person":
            self.poses[pose] = n

    def facts(self) -> Facts:
        try:
            return make_facts(self.counts, self.poses, self.place)
        except ValueError as exc:
            raise Unreadable(str(exc)) from None


# ----------------------------------------------------------------------------------------- English
_EN_COUNT = {"a": 1, "an": 1, **{w: n for n, w in NUMBER_EN.items()}}
_EN_SINGULAR = {s: k for k, (s, _) in NOUN_EN.items()}
_EN_PLURAL = {p: k for k, (_, p) in NOUN_EN.items()}
_EN_PLACES = {tuple(v.split()): k for k, v in PLACE_EN.items()}
# every pose phrase as words -> (posture, spot)
_EN_POSES: dict[tuple[str, ...], tuple[str, str | None]] = {}
for _posture, _spot in POSE_GROUPS:
    if _posture == "lying" and _spot is None:
        _words = LYING_NOWHERE_EN
    else:
        _words = POSTURE_EN[_posture] + (f" {SPOT_EN[_spot]}" if _spot else "")
    _EN_POSES[tuple(_words.split())] = (_posture, _spot)


def _match(words: list[str], at: int, table: dict[tuple[str, ...], object]):
    """The longest phrase of `table` at words[at:], as (value, next index), or None."""
    for phrase in sorted(table, key=len, reverse=True):
        if tuple(words[at: at + len(phrase)]) == phrase:
            return table[phrase], at + len(phrase)
    return None


def _read_en(text: str) -> Facts:
    words = tokenize(text, "en")
    said = _Facts()
    if words[:2] == NOBODY_EN.split():
        rest = words[2:]
        if tuple(rest) == tuple(NO_PLACE_EN.split()):
            return said.facts()
        place = _match(rest, 0, _EN_PLACES)
        if place is None or place[1] != len(rest):
            raise Unreadable(f"no one where? {text!r}")
        said.place = place[0]
        return said.facts()
    at, end = 0, len(words)
    items = 0
    while at < end:
        place = _match(words, at, _EN_PLACES)
        if place is not None and items:
            said.place, at = place
            if at != end:
                raise Unreadable(f"words after the place: {text!r}")
            break
        if items and words[at] == "and":
            at += 1
        if at >= end:
            raise Unreadable(f"ends after 'and': {text!r}")
        word = words[at]
        if word == OTHER_ONE_EN and words[at + 1: at + 2] == ["person"]:
            said.add("person", 1, None)
            at += 2
        elif (word in _EN_COUNT and _EN_COUNT[word] > 1
              and words[at + 1: at + 3] == [OTHER_MANY_EN, "people"]):
            said.add("person", _EN_COUNT[word], None)
            at += 3
        elif word in _EN_COUNT and at + 1 < end:
            n, noun = _EN_COUNT[word], words[at + 1]
            kind = _EN_SINGULAR.get(noun) if n == 1 else _EN_PLURAL.get(noun)
            if kind is None:
                raise Unreadable(f"{word!r} {noun!r} is not a counted kind: {text!r}")
            if n == 1 and word != ("an" if noun[0] in "aeiou" else "a"):
                raise Unreadable(f"{word!r} {noun!r}: {text!r}")
            at += 2
            pose = _match(words, at, _EN_POSES) if kind == "person" else None
            if pose is not None:
                at = pose[1]
            said.add(kind, n, pose[0] if pose else None)
        else:
            raise Unreadable(f"unexpected {word!r}: {text!r}")
        items += 1
    if not items:
        raise Unreadable("an empty caption")
    return said.facts()


# ----------------------------------------------------------------------------------------- Chinese
_ZH_PLACES = {v: k for k, v in PLACE_ZH.items()}
_ZH_NOUNS = sorted(((noun, kind) for kind, (_, noun) in NOUN_ZH.items()), key=lambda p: -len(p[0]))
_ZH_MEASURES = {kind: measure for kind, (measure, _) in NOUN_ZH.items()}
_ZH_NUMBERS = sorted(((w, n) for n, w in NUMBER_ZH.items()), key=lambda p: -len(p[0]))
_ZH_POSES = sorted(((w, pose) for pose, w in POSE_ZH.items()), key=lambda p: -len(p[0]))
_ZH_DROPPED = re.compile(r"[\s、，,。.；;：:！!]")


def _prefix(text: str, at: int, pairs):
    for word, value in pairs:
        if text.startswith(word, at):
            return value, at + len(word)
    return None


def _read_zh(text: str) -> Facts:
    text = _ZH_DROPPED.sub("", unicodedata.normalize("NFKC", text))
    said = _Facts()
    place = next(((p, len(w)) for w, p in _ZH_PLACES.items() if text.startswith(w)), None)
    if place is not None:
        said.place, at = place
    elif text.startswith(NO_PLACE_ZH):
        at = len(NO_PLACE_ZH)
    else:
        raise Unreadable(f"no place first: {text!r}")
    if text[at:] == NOBODY_ZH:
        return said.facts()
    if not text.startswith(THERE_IS_ZH, at):
        raise Unreadable(f"expected {THERE_IS_ZH!r}: {text!r}")
    at += len(THERE_IS_ZH)
    items = 0
    while at < len(text):
        if items and text.startswith(AND_ZH, at):
            at += len(AND_ZH)
        other = text.startswith(OTHER_ZH, at)
        if other:
            at += len(OTHER_ZH)
        number = _prefix(text, at, _ZH_NUMBERS)
        if number is None:
            raise Unreadable(f"expected a number at {text[at:]!r}: {text!r}")
        n, at = number
        measure = None
        if n != MANY and at < len(text):
            measure, at = text[at], at + 1
        pose = _prefix(text, at, _ZH_POSES)
        if pose is not None:
            at = pose[1]
        noun = _prefix(text, at, _ZH_NOUNS)
        if noun is None:
            raise Unreadable(f"expected a noun at {text[at:]!r}: {text!r}")
        kind, at = noun
        if measure is not None and measure != _ZH_MEASURES[kind]:
            raise Unreadable(f"{measure}{kind}: the wrong measure word: {text!r}")
        if (pose is not None or other) and kind != "person" or (pose is not None and other):
            raise Unreadable(f"a posture or 另外 on {kind}: {text!r}")
        said.add(kind, n, pose[0] if pose else None)
        items += 1
    if not items:
        raise Unreadable(f"nothing after {THERE_IS_ZH}: {text!r}")
    return said.facts()


def read(text: str, lang: str) -> Facts:
    """The facts a caption states (counts as said: MANY for "many"). Unreadable if the sentence
    is outside the captions' grammar; ValueError for an unknown language."""
    check_language(lang)
    return _read_en(text) if lang == "en" else _read_zh(text)
