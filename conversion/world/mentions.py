"""What a caption says about a scene: the place, and which object kinds in what numbers.

Evaluation scores generated captions against the ground-truth scene record with this (object
mention precision/recall, CHAIR-i, count and place accuracy), so it must read every phrasing the
caption writers in `captions.py` use, and the natural variants a model may produce. It is a small
keyword reader over our closed synthetic vocabulary, not a general parser: no NLP library knows
"two grey kittens on the couch" -> {cat: 2} in both English and Chinese without a model download.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from edge_captioner.bundle.vocab import tokenize

from .lexicon import NOBODY_ZH, NOUN_WORDS_EN, NOUN_WORDS_ZH, PLACE_WORDS_EN, PLACE_WORDS_ZH, PLURAL_WORDS_EN


@dataclass
class Mentions:
    place: str | None
    counts: dict[str, int] = field(default_factory=dict)  # kind -> number mentioned

    @property
    def kinds(self) -> set[str]:
        return set(self.counts)


# ----------------------------------------------------------------------------------------- English
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "several": 2}
_EN_NEGATIONS = {"no", "nobody", "nothing", "without"}


def _parse_en(text: str) -> Mentions:
    words = tokenize(text, "en")
    places = [PLACE_WORDS_EN[word] for word in words if word in PLACE_WORDS_EN]
    counts = count_kinds(words, NOUN_WORDS_EN, _EN_NUMBERS, _EN_NEGATIONS)
    return Mentions(place=most_common(places), counts=counts)


def count_kinds(words: list[str], nouns: dict[str, str], numbers: dict[str, int],
                negations: set[str]) -> dict[str, int]:
    """kind -> how many of it the English `words` say (number_before each noun of `nouns`);
    kinds said to be absent are left out. Shared with grounded/captions.py."""
    counts: dict[str, int] = {}
    for i, word in enumerate(words):
        kind = nouns.get(word)
        if kind is None:
            continue
        number = number_before(words, i, numbers, negations)
        if number:
            counts[kind] = counts.get(kind, 0) + number
    return counts


def number_before(words: list[str], i: int, numbers: dict[str, int], negations: set[str]) -> int:
    """How many of the noun words[i] a caption says: a number or a negation up to three words
    before it (over adjectives: "two grey kittens"; "more than three" is one more than three),
    else 2 for a plural and 1 for a singular. Shared with grounded/captions.py."""
    for j in range(i - 1, max(-1, i - 4), -1):
        prev = words[j]
        if prev in negations:
            return 0
        if prev in numbers:
            return numbers[prev] + (words[max(0, j - 2):j] == ["more", "than"])
        if prev in NOUN_WORDS_EN or prev in ("and", "with", "while"):
            break
    return 2 if words[i] in PLURAL_WORDS_EN else 1


# ----------------------------------------------------------------------------------------- Chinese
_ZH_NUMBERS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "几": 2}
# A number, a measure word, then up to a few characters of attributes ("黑色的") before the noun.
_ZH_COUNTED = re.compile(r"([一两二三四几])[个只辆位条件名](?:[^，。、和,;；]{0,6}?)$")


def _parse_zh(text: str) -> Mentions:
    text = "".join(tokenize(text, "zh"))  # drop punctuation, normalise width
    places = [(text.find(key), place) for key, place in PLACE_WORDS_ZH if key in text]
    place = min(places)[1] if places else None
    for neg in NOBODY_ZH:
        text = text.replace(neg, "。" * len(neg))
    counts: dict[str, int] = {}
    masked = text
    for noun, kind in NOUN_WORDS_ZH:
        for match in re.finditer(re.escape(noun), masked):
            start = match.start()
            before = masked[max(0, start - 9): start]
            counted = _ZH_COUNTED.search(before)
            if counted:
                number = _ZH_NUMBERS[counted.group(1)]
            elif kind == "person" and before.endswith("有"):
                number = 1  # 有人站在门口: "someone"
            else:
                number = 1
            counts[kind] = counts.get(kind, 0) + number
        masked = masked.replace(noun, "。" * len(noun))
    return Mentions(place=place, counts=counts)


def most_common(items: list[str]) -> str | None:
    if not items:
        return None
    return max(dict.fromkeys(items), key=items.count)  # ties: the first mentioned


def parse_caption(text: str, language: str) -> Mentions:
    return _parse_zh(text) if language == "zh" else _parse_en(text)
