"""Grounded captions: what a caption may say about a frame, given only what the detector found.

The runtime captioner (a small LSTM decoder over encoder features) is trained towards these
captions, in English and Chinese. Its only evidence is what a real object detector can know about a
home-camera frame: WHICH kinds are present (person, dog, cat, bicycle, car, package), HOW MANY of
each, and WHERE the camera looks (front door, living room, kitchen, driveway, backyard, or unknown).
A grounded caption says exactly that and nothing else:

* no colours, poses, spots (sofa, porch), lighting or anything else the render captions of
  `world/captions.py` describe: the decoder cannot know them, and a target it cannot know teaches it to
  guess (a "red" that is right one time in seven is a hallucination the other six);
* a caption names nothing the encoder found no evidence of: a kind with count 0 is never mentioned;
* when nothing is recognised it says so explicitly ("no one at the front door", "前门口没有人"),
  never a stand-in object. A frame with anything in it is described by what is in it: a parked car
  alone is "a car in the driveway", never "no one ...". "No one" is therefore only ever the
  caption of a frame where the detector found nothing of any kind.

Counts: 1..3 are written as words ("a person", "two dogs"; "一个人", "两只狗"). The detector may
report more than the synthetic scenes ever hold (`world.scenes.MAX_COUNT` caps those at 3, a car at 1),
so every kind is capped at `SEVERAL` (4): 4 or more is "several" ("several people", "几个人").
`normalise` gives the capped form, which `mentions` reads back:
`mentions(canonical(c, p, lang), lang) == normalise(c, p)` for every valid input, and likewise for
every paraphrase.

`canonical` is the ONE training target per frame (fixed kind order `world.scenes.KINDS`, fixed phrases);
`paraphrases` gives other natural phrasings of exactly the same content (same kinds, counts and
place), as extra references for the caption metrics. Chinese is written natively, location first
("前门口有两个人和一只狗"), as `world/captions.py` does. Pure functions; only `paraphrases` draws random
numbers, and only from the generator it is given.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from operator import index

import numpy as np

from conversion.world.lexicon import (
    EMPTY_LOC_EN,
    NOBODY_ZH,
    NOUN_EN,
    NOUN_WORDS_EN,
    NOUN_WORDS_ZH,
    NOUN_ZH,
    NUMBER_EN,
    NUMBER_ZH,
    PLACE_WORDS_EN,
    PLACE_WORDS_ZH,
    PLACE_ZH,
    article,
    join_en,
    join_zh,
)
from conversion.world.mentions import count_kinds, most_common
from conversion.world.scenes import KINDS, PLACES
from edge_captioner.bundle.vocab import tokenize

LANGUAGES = ("en", "zh")
SEVERAL = 4
"""Counts of 4 or more are all written "several" / "几" and read back as this number."""
UNKNOWN_PLACE = "unknown"  # accepted as an alias of None

# Unknown place: English names no place in a caption that lists objects ("two cats") and says
# "in view" for an empty frame; Chinese always puts a location first, 画面里 ("in the picture").
_NO_PLACE_EN = "in view"
_NO_PLACE_ZH = ("画面里", "画面中")  # the first is canonical

# Synonyms from the render tables that do not mean exactly the kind are not used: a puppy or a
# kitten is a young one (the detector cannot tell age), a box need not be a package, 小轿车 is
# a sedan (a car need not be one).
_NOT_EXACT = {"puppy", "kitten", "box", "小狗", "小猫", "小轿车", "纸箱"}
_FORMS_EN = {k: [f for f in NOUN_EN[k] if f[0] not in _NOT_EXACT] for k in KINDS}
_FORMS_ZH = {k: [f for f in NOUN_ZH[k] if f[1] not in _NOT_EXACT] for k in KINDS}

# Number words read back, capped at SEVERAL.
_EN_NUMBERS = {"a": 1, "an": 1, "one": 1, **{w: n for n, w in NUMBER_EN.items()}, "four": 4,
               "several": SEVERAL}
_EN_NEGATIONS = {"no", "nobody", "without"}
_ZH_NUMBERS = {**{w: n for n, w in NUMBER_ZH.items()}, "二": 2, "四": 4, "几": SEVERAL}
# A number and a measure word right before the noun: grounded captions put nothing in between.
_ZH_COUNTED = re.compile(rf"([{''.join(_ZH_NUMBERS)}])[个只辆位件名]$")
_ZH_EMPTY = NOBODY_ZH + ("一个人都没有", "没有任何人", "没人")


# ------------------------------------------------------------------------------------------ inputs
def normalise(counts: Mapping[str, int], place: str | None) -> tuple[dict[str, int], str | None]:
    """The content a grounded caption states: positive counts capped at SEVERAL, in KINDS order,
    and the place (None when unknown). Raises ValueError on an unknown kind/place or a bad count."""
    unknown = set(counts) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown object kind(s) {sorted(unknown)}; known: {KINDS}")
    out: dict[str, int] = {}
    for kind in KINDS:
        try:
            n = index(counts.get(kind, 0))
        except TypeError:
            raise ValueError(f"count of {kind!r} must be an integer, got {counts[kind]!r}") from None
        if n < 0:
            raise ValueError(f"count of {kind!r} must be >= 0, got {n}")
        if n:
            out[kind] = min(n, SEVERAL)
    if place == UNKNOWN_PLACE:
        place = None
    if place is not None and place not in PLACES:
        raise ValueError(f"unknown place {place!r}; known: {PLACES} or None")
    return out, place


def _check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported caption language {lang!r} (supported: en, zh)")


# ---------------------------------------------------------------------------------- noun phrases
def _phrases_en(kind: str, n: int) -> list[str]:
    """Every exact English phrase for `n` (capped) objects of `kind`; the first is canonical."""
    out = []
    for singular, plural in _FORMS_EN[kind]:
        if n == 1:
            out += [f"{article(singular)} {singular}", f"one {singular}"]
        elif n >= SEVERAL:
            out += [f"several {plural}", f"more than three {plural}"]
        else:
            out.append(f"{NUMBER_EN[n]} {plural}")
    if kind == "person" and n == 1:
        out.append("someone")
    return out


def _phrases_zh(kind: str, n: int) -> list[str]:
    out = []
    for measure, noun in _FORMS_ZH[kind]:
        if n >= SEVERAL:
            out += [f"几{measure}{noun}", f"好几{measure}{noun}"]
        else:
            out.append(f"{NUMBER_ZH[n]}{measure}{noun}")
    return out


# --------------------------------------------------------------------------------------- canonical
def canonical(counts: Mapping[str, int], place: str | None, lang: str) -> str:
    """The one canonical grounded caption (the training target).

    en: "two people, a dog and a cat at the front door"; "a car in the driveway"; "a person"
        (unknown place); empty: "no one at the front door", "no one in view" (unknown place).
    zh: "前门口有两个人、一只狗和一只猫"; "车道上有一辆汽车"; "画面里有一个人" (unknown place);
        empty: "前门口没有人", "画面里没有人".
    """
    _check_language(lang)
    c, p = normalise(counts, place)
    if lang == "en":
        where = EMPTY_LOC_EN[p] if p else None
        if not c:
            return f"no one {where or _NO_PLACE_EN}"
        listed = join_en([_phrases_en(k, n)[0] for k, n in c.items()])
        return f"{listed} {where}" if where else listed
    loc = PLACE_ZH[p] if p else _NO_PLACE_ZH[0]
    if not c:
        return f"{loc}没有人"
    return f"{loc}有{join_zh([_phrases_zh(k, n)[0] for k, n in c.items()])}"


# ------------------------------------------------------------------------------------- paraphrases
def _picker(rng: np.random.Generator) -> Callable[[Sequence[str]], str]:
    def pick(options: Sequence[str]) -> str:
        return options[int(rng.integers(len(options)))]

    return pick


def _listed(c: dict[str, int], rng: np.random.Generator, phrases: Callable, join: Callable) -> tuple:
    """The objects in a random order with random exact phrases: (joined text, kinds in order)."""
    pick = _picker(rng)
    order = list(c)
    if len(order) > 1 and rng.integers(2):
        order = [order[i] for i in rng.permutation(len(order))]
    return join([pick(phrases(k, c[k])) for k in order]), order


def _variant_en(c: dict[str, int], place: str | None, rng: np.random.Generator) -> str:
    pick = _picker(rng)
    where = EMPTY_LOC_EN[place] if place else None
    if not c:
        w = where or _NO_PLACE_EN
        return pick([f"nobody {w}", f"there is no one {w}", f"there is nobody {w}", f"no one is {w}",
                     f"nobody is {w}"])
    listed, order = _listed(c, rng, _phrases_en, join_en)
    there_be = "is" if c[order[0]] == 1 else "are"  # agrees with the first item, as spoken English does
    subject_be = "is" if len(order) == 1 and c[order[0]] == 1 else "are"
    if where:
        return pick([
            f"{listed} {where}",
            f"there {there_be} {listed} {where}",
            f"{listed} {subject_be} {where}",
            f"{where}, there {there_be} {listed}",
            f"the camera sees {listed} {where}",
        ])
    return pick([
        listed,
        f"there {there_be} {listed}",
        f"there {there_be} {listed} {_NO_PLACE_EN}",
        f"{listed} {subject_be} {_NO_PLACE_EN}",
        f"the camera sees {listed}",
    ])


def _variant_zh(c: dict[str, int], place: str | None, rng: np.random.Generator) -> str:
    pick = _picker(rng)
    loc = PLACE_ZH[place] if place else pick(_NO_PLACE_ZH)
    if not c:
        return pick([f"{loc}没有人", f"{loc}没人", f"{loc}一个人也没有", f"{loc}一个人都没有",
                     f"{loc}空无一人", f"{loc}没有任何人"])
    listed, _ = _listed(c, rng, _phrases_zh, join_zh)
    options = [
        f"{loc}有{listed}",
        f"{loc}出现了{listed}",
        f"{loc}能看到{listed}",
        f"{loc}可以看到{listed}",
        f"有{listed}在{loc}",
        f"摄像头拍到{loc}有{listed}" if place else f"摄像头拍到了{listed}",
    ]
    if c == {"person": 1}:
        options += [f"有人在{loc}", f"{loc}有人"]  # "someone is at the front door"
    return pick(options)


_VARIANTS = {"en": _variant_en, "zh": _variant_zh}


def paraphrases(counts: Mapping[str, int], place: str | None, lang: str, rng: np.random.Generator,
                n: int) -> list[str]:
    """`n - 1` distinct natural variants of the canonical caption, none equal to it, each stating
    exactly the same kinds, counts and place (extra references for the caption metrics).

    Fewer are returned only when fewer phrasings exist (an empty frame at a known place has 5 in
    each language, a lone car 5 in Chinese). Deterministic for a given generator state.
    """
    _check_language(lang)
    c, p = normalise(counts, place)
    seen = {canonical(c, p, lang)}
    out: list[str] = []
    for _ in range(30 * max(n, 1)):
        if len(out) >= n - 1:
            break
        text = _VARIANTS[lang](c, p, rng)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out


# ----------------------------------------------------------------------------------------- reading
def _mentions_en(text: str) -> tuple[dict[str, int], str | None]:
    words = tokenize(text, "en")
    counts = count_kinds(words, NOUN_WORDS_EN, _EN_NUMBERS, _EN_NEGATIONS)
    place = most_common([PLACE_WORDS_EN[w] for w in words if w in PLACE_WORDS_EN])
    return counts, place


def _mentions_zh(text: str) -> tuple[dict[str, int], str | None]:
    # Normalise width but keep punctuation: "两个人、一只狗" must not read as 两个...狗.
    text = re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))
    places = [(text.find(key), place) for key, place in PLACE_WORDS_ZH if key in text]
    place = min(places)[1] if places else None
    for negation in _ZH_EMPTY:
        text = text.replace(negation, "。" * len(negation))
    counts: dict[str, int] = {}
    for noun, kind in NOUN_WORDS_ZH:  # longest first: 自行车 before 车, never 车道
        for match in re.finditer(re.escape(noun), text):
            counted = _ZH_COUNTED.search(text[max(0, match.start() - 2): match.start()])
            number = _ZH_NUMBERS[counted.group(1)] if counted else 1  # 有人在门口: someone
            counts[kind] = counts.get(kind, 0) + number
        text = text.replace(noun, "。" * len(noun))
    return counts, place


def mentions(caption: str, lang: str) -> tuple[dict[str, int], str | None]:
    """(counts, place) a grounded caption states: counts capped at SEVERAL, in KINDS order, kinds
    with count 0 left out; place None when the caption names none. Inverse of `canonical` and
    `paraphrases` up to `normalise`."""
    _check_language(lang)
    counts, place = _mentions_en(caption) if lang == "en" else _mentions_zh(caption)
    return {k: min(counts[k], SEVERAL) for k in KINDS if counts.get(k)}, place
