"""The canonical sentence of a set of facts, in English or Chinese: what the decoder is trained to
write, and what the device publishes when the decoder's sentence is not supported (support.py).

en: "a person standing at the front door"; "two people sitting on the sofa and a cat in the living
    room"; "a person lying down and another person"; "many people two cars and a bus"; empty:
    "no one at the front door", "no one in view".
zh: "前门口有一个站着的人"; "客厅里有两个坐在沙发上的人和一只猫"; "画面里有一个躺着的人和另外一个人";
    empty: "前门口没有人", "画面里没有人".

Both are written as the decoder writes them: English without commas, Chinese without 、 (the
vocabularies have no punctuation), so a caption from the decoder and one from here read alike.
"""

from __future__ import annotations

from itertools import islice, permutations

from .facts import MANY, Facts, PersonGroup
from .words import (
    AND_ZH,
    LANGUAGES,
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
    article,
)


def check_language(lang: str) -> None:
    if lang not in LANGUAGES:
        raise ValueError(f"unsupported caption language {lang!r} (supported: en, zh)")


def _counted_en(kind: str, n: int) -> str:
    singular, plural = NOUN_EN[kind]
    return f"{article(singular)} {singular}" if n == 1 else f"{NUMBER_EN[n]} {plural}"


def _pose_en(group: PersonGroup) -> str:
    if group.posture == "lying" and group.spot is None:
        return LYING_NOWHERE_EN
    words = POSTURE_EN[group.posture]
    return f"{words} {SPOT_EN[group.spot]}" if group.spot else words


def _people_en(groups: tuple[PersonGroup, ...]) -> list[str]:
    known = any(g.posture is not None for g in groups)
    out = []
    for g in groups:
        if g.posture is not None:
            out.append(f"{_counted_en('person', g.count)} {_pose_en(g)}")
        elif not known:
            out.append(_counted_en("person", g.count))
        elif g.count == 1:
            out.append(f"{OTHER_ONE_EN} person")
        else:
            out.append(f"{NUMBER_EN[g.count]} {OTHER_MANY_EN} people")
    return out


def _counted_zh(kind: str, n: int, pose: str = "") -> str:
    measure, noun = NOUN_ZH[kind]
    if n >= MANY:
        return f"{NUMBER_ZH[MANY]}{pose}{noun}"
    return f"{NUMBER_ZH[n]}{measure}{pose}{noun}"


def _people_zh(groups: tuple[PersonGroup, ...]) -> list[str]:
    known = any(g.posture is not None for g in groups)
    out = []
    for g in groups:
        if g.posture is not None:
            out.append(_counted_zh("person", g.count, POSE_ZH[g.pose]))
        else:
            out.append((OTHER_ZH if known else "") + _counted_zh("person", g.count))
    return out


def _join(items: list[str], word: str, space: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return space.join(items[:-1]) + f"{space}{word}{space}" + items[-1]


def canonical(facts: Facts, lang: str) -> str:
    """The one sentence for these facts, as a caption states them (counts over MAX_EXACT are
    "many"). ValueError for an unknown language."""
    return sentences(facts, lang, 1)[0]


# Item orders a search may choose among: enough for every order of up to five items.
MAX_ORDERS = 120


def sentences(facts: Facts, lang: str, most: int = MAX_ORDERS) -> list[str]:
    """Sentences stating exactly these facts, the canonical first: the same items with the kinds
    after the people in other orders (at most `most` sentences). The reader takes each back to
    the same facts; a search constrained to them (model/search.py `constrained`) can only write
    a supported caption."""
    check_language(lang)
    said = facts.said()
    counts = said.count_of
    if lang == "en":
        where = PLACE_EN.get(said.place)
        if said.empty:
            return [f"{NOBODY_EN} {where or NO_PLACE_EN}"]
        people = _people_en(said.people) if "person" in counts else []
        others = [_counted_en(k, n) for k, n in said.counts if k != "person"]
        return [f"{listed} {where}" if where else listed
                for listed in (_join(items, "and", " ") for items in _orders(people, others, most))]
    where = PLACE_ZH.get(said.place, NO_PLACE_ZH)
    if said.empty:
        return [f"{where}{NOBODY_ZH}"]
    people = _people_zh(said.people) if "person" in counts else []
    others = [_counted_zh(k, n) for k, n in said.counts if k != "person"]
    return [f"{where}{THERE_IS_ZH}{_join(items, AND_ZH, '')}"
            for items in _orders(people, others, most)]


def _orders(people: list[str], others: list[str], most: int) -> list[list[str]]:
    """The people first, group by group as canonical (a known posture before "another person"),
    then the other items in any order: the canonical order first."""
    return [people + list(order) for order in islice(permutations(others), most)]
