"""Reference captions for a synthetic scene, in English and in Chinese, written from its record.

The first caption of each language is CANONICAL: a fixed order of spots and kinds, the primary
phrase for each, and the lighting at the end (en) or the start (zh). A captioner trained towards
one canonical form learns a much sharper target than from free paraphrases; the other captions are
real paraphrases (other structures, verbs, synonyms, word order) so that the caption metrics
reward meaning and not one template. Chinese is written as native sentences (measure words,
location-first word order, 的-attributives), not translated word by word.
"""

from __future__ import annotations

import numpy as np

from .lexicon import EMPTY_LOC_EN, NOUN_EN, NOUN_ZH, NUMBER_EN, NUMBER_ZH, PLACE_ZH, article, join_en, join_zh
from .scenes import ObjectGroup, Scene

# ----------------------------------------------------------------------------------------- English
# The first phrase of each list is the canonical one.
SPOT_EN: dict[tuple[str, str], tuple[str, ...]] = {
    ("front_door", "door"): ("at the front door", "by the front door", "at the door"),
    ("front_door", "porch"): ("on the front porch", "on the porch"),
    ("living_room", "sofa"): ("on the sofa", "on the couch", "on the living room sofa"),
    ("living_room", "floor"): ("in the living room", "on the living room floor"),
    ("kitchen", "counter"): ("on the kitchen counter", "on the counter in the kitchen"),
    ("kitchen", "floor"): ("in the kitchen", "on the kitchen floor"),
    ("driveway", "driveway"): ("in the driveway", "on the driveway"),
    ("driveway", "garage"): ("by the garage", "in front of the garage"),
    ("backyard", "lawn"): ("on the lawn", "on the grass in the backyard", "in the backyard"),
    ("backyard", "fence"): ("by the fence", "by the backyard fence", "along the garden fence"),
}
PLACE_EN = {
    "front_door": "front porch",
    "living_room": "living room",
    "kitchen": "kitchen",
    "driveway": "driveway",
    "backyard": "backyard",
}
COLOURED_KINDS = ("dog", "cat", "bicycle", "car")  # a person's colour is their clothes: "in red"
VERB_EN: dict[tuple[str, str], str] = {
    ("person", "standing"): "standing",
    ("person", "walking"): "walking",
    ("person", "sitting"): "sitting",
    ("dog", "standing"): "standing",
    ("dog", "sitting"): "sitting",
    ("dog", "lying"): "lying",
    ("cat", "standing"): "standing",
    ("cat", "sitting"): "sitting",
    ("cat", "lying"): "lying",
    ("bicycle", "parked"): "leaning",
    ("car", "parked"): "parked",
    ("package", "placed"): "sitting",
}
LIGHTING_EN = {
    "day": ("", "during the day", "in daylight"),
    "night": ("at night", "in the dark", "at night time"),
    "lights_on": ("with the lights on", "at night with the lights on", "with a light on"),
}


def _noun_phrase_en(g: ObjectGroup, synonym: int = 0, with_colour: bool = True) -> str:
    forms = NOUN_EN[g.kind]
    singular, plural = forms[synonym % len(forms)]
    noun = singular if g.count == 1 else plural
    if with_colour and g.kind in COLOURED_KINDS:
        noun = f"{g.colour} {noun}"
    phrase = f"{article(noun)} {noun}" if g.count == 1 else f"{NUMBER_EN[g.count]} {noun}"
    if with_colour and g.kind == "person" and synonym:
        phrase += f" in {g.colour}"
    return phrase


def _by_spot(scene: Scene) -> list[tuple[str, list[ObjectGroup]]]:
    """Groups gathered by spot, keeping the scene's (canonical) order."""
    out: list[tuple[str, list[ObjectGroup]]] = []
    for g in scene.groups:
        if out and out[-1][0] == g.where:
            out[-1][1].append(g)
        else:
            out.append((g.where, [g]))
    return out


def _with_lighting_en(text: str, scene: Scene, variant: int = 0) -> str:
    options = LIGHTING_EN[scene.lighting]
    suffix = options[variant % len(options)]
    return f"{text} {suffix}" if suffix else text


def canonical_en(scene: Scene) -> str:
    if not scene.groups:
        return _with_lighting_en(f"an empty {PLACE_EN[scene.place]}", scene)
    clauses = [
        f"{join_en([_noun_phrase_en(g) for g in groups])} {SPOT_EN[(scene.place, spot)][0]}"
        for spot, groups in _by_spot(scene)
    ]
    return _with_lighting_en(" and ".join(clauses), scene)


def _paraphrases_en(scene: Scene, rng: np.random.Generator) -> list[str]:
    """Every paraphrase structure for this scene, with random synonyms/phrases in each."""
    place = scene.place
    pick = lambda n: int(rng.integers(n))  # noqa: E731 - a tiny local shorthand
    spot_phrase = lambda spot: SPOT_EN[(place, spot)][pick(len(SPOT_EN[(place, spot)]))]  # noqa: E731
    light = lambda text: _with_lighting_en(text, scene, pick(3))  # noqa: E731
    place_noun = PLACE_EN[place]
    if not scene.groups:
        first_spot = EMPTY_LOC_EN[place]
        return [
            light(f"nobody {first_spot}"),
            light(f"there is no one in the {place_noun}"),
            light(f"the {place_noun} is empty"),
            light(f"nothing is happening in the {place_noun}"),
            light(f"no people or animals {first_spot}"),
            light(f"a quiet {place_noun} with nobody around"),
            light(f"a view of an empty {place_noun}"),
        ]

    spots = _by_spot(scene)
    out: list[str] = []

    # "there is a person and a black dog at the front door"
    clauses = [
        f"{join_en([_noun_phrase_en(g, pick(3)) for g in gs])} {spot_phrase(s)}" for s, gs in spots
    ]
    verb = "is" if scene.groups[0].count == 1 else "are"
    out.append(light(f"there {verb} " + " and ".join(clauses)))

    # "a person is standing at the front door while a package is sitting on the porch"
    verb_clauses = []
    for s, gs in spots:
        for g in gs:
            aux = "is" if g.count == 1 else "are"
            verb_clauses.append(
                f"{_noun_phrase_en(g, pick(3))} {aux} {VERB_EN[(g.kind, g.pose)]} {spot_phrase(s)}"
            )
    out.append(light(" while ".join(verb_clauses) if len(verb_clauses) == 2
                     else " and ".join(verb_clauses)))

    # "the front porch camera shows a person and a dog at the front door"
    out.append(light(f"the {place_noun} camera shows " + " and ".join(
        f"{join_en([_noun_phrase_en(g, pick(3)) for g in gs])} {spot_phrase(s)}"
        for s, gs in spots)))

    # location first: "at the front door, a person and a black dog"
    out.append(light("; ".join(
        f"{spot_phrase(s)}, {join_en([_noun_phrase_en(g, pick(3)) for g in gs])}"
        for s, gs in spots)))

    # reversed order and synonyms: "a black dog and someone at the front door"
    rev = []
    for s, gs in reversed(spots):
        nps = []
        for g in reversed(gs):
            if g.kind == "person" and g.count == 1 and pick(2):
                nps.append("someone")
            else:
                nps.append(_noun_phrase_en(g, 1 + pick(2)))
        rev.append(f"{join_en(nps)} {spot_phrase(s)}")
    out.append(light(" and ".join(rev)))

    # "a view of the kitchen with two cats on the counter"
    out.append(light(f"a view of the {place_noun} with " + " and ".join(
        f"{join_en([_noun_phrase_en(g, pick(3)) for g in gs])} {spot_phrase(s)}"
        for s, gs in spots)))
    return out


# ----------------------------------------------------------------------------------------- Chinese
SPOT_ZH: dict[tuple[str, str], tuple[str, ...]] = {
    ("front_door", "door"): ("前门口", "家门口", "大门口"),
    ("front_door", "porch"): ("门廊上", "前廊上"),
    ("living_room", "sofa"): ("客厅的沙发上", "沙发上"),
    ("living_room", "floor"): ("客厅里", "客厅的地板上"),
    ("kitchen", "counter"): ("厨房的台面上", "厨房的料理台上"),
    ("kitchen", "floor"): ("厨房里", "厨房的地上"),
    ("driveway", "driveway"): ("车道上", "门前的车道上"),
    ("driveway", "garage"): ("车库门前", "车库旁边"),
    ("backyard", "lawn"): ("后院的草坪上", "后院的草地上", "后院里"),
    ("backyard", "fence"): ("后院的篱笆旁", "后院的栅栏边"),
}
COLOUR_ZH = {
    "black": "黑色", "white": "白色", "grey": "灰色", "brown": "棕色", "orange": "橘色",
    "yellow": "黄色", "red": "红色", "blue": "蓝色", "green": "绿色", "silver": "银色",
}
# Verb + 在 + location: "一只猫趴在沙发上"
VERB_ZH: dict[tuple[str, str], str] = {
    ("person", "standing"): "站在",
    ("person", "walking"): "走在",
    ("person", "sitting"): "坐在",
    ("dog", "standing"): "站在",
    ("dog", "sitting"): "蹲在",
    ("dog", "lying"): "趴在",
    ("cat", "standing"): "站在",
    ("cat", "sitting"): "蹲在",
    ("cat", "lying"): "趴在",
    ("bicycle", "parked"): "停在",
    ("car", "parked"): "停在",
    ("package", "placed"): "放在",
}
LIGHTING_ZH = {
    "day": ("", "白天，", "白天，"),
    "night": ("夜里，", "晚上，", "深夜里，"),
    "lights_on": ("晚上开着灯，", "夜里亮着灯，", "灯亮着，"),
}


def _noun_phrase_zh(g: ObjectGroup, synonym: int = 0, with_colour: bool = True) -> str:
    forms = NOUN_ZH[g.kind]
    measure, noun = forms[synonym % len(forms)]
    if with_colour and g.kind in COLOURED_KINDS:
        noun = f"{COLOUR_ZH[g.colour]}的{noun}"
    phrase = f"{NUMBER_ZH[g.count]}{measure}{noun}"
    if with_colour and g.kind == "person" and synonym:
        phrase = f"{NUMBER_ZH[g.count]}{measure}穿{COLOUR_ZH[g.colour][0]}衣服的人"
    return phrase


def canonical_zh(scene: Scene) -> str:
    prefix = LIGHTING_ZH[scene.lighting][0]
    if not scene.groups:
        return f"{prefix}{PLACE_ZH[scene.place]}空无一人"
    clauses = [
        f"{SPOT_ZH[(scene.place, spot)][0]}有{join_zh([_noun_phrase_zh(g) for g in groups])}"
        for spot, groups in _by_spot(scene)
    ]
    return prefix + "，".join(clauses)


def _paraphrases_zh(scene: Scene, rng: np.random.Generator) -> list[str]:
    place = scene.place
    pick = lambda n: int(rng.integers(n))  # noqa: E731
    spot_phrase = lambda spot: SPOT_ZH[(place, spot)][pick(len(SPOT_ZH[(place, spot)]))]  # noqa: E731
    prefix = lambda: LIGHTING_ZH[scene.lighting][pick(3)]  # noqa: E731
    where = PLACE_ZH[place]
    if not scene.groups:
        return [
            f"{prefix()}{where}一个人也没有",
            f"{prefix()}{where}空荡荡的",
            f"{prefix()}{where}什么也没有",
            f"{prefix()}{where}没有人也没有动物",
            f"{prefix()}摄像头拍到{where}空无一人",
            f"{prefix()}{where}静悄悄的，没有人",
        ]
    spots = _by_spot(scene)
    out: list[str] = []
    # "一个人站在前门口，一个包裹放在门廊上"
    verb_clauses = [
        f"{_noun_phrase_zh(g, pick(3))}{VERB_ZH[(g.kind, g.pose)]}{spot_phrase(s)}"
        for s, gs in spots
        for g in gs
    ]
    out.append(prefix() + "，".join(verb_clauses))
    # "摄像头拍到前门口有一个人和一只狗"
    out.append(prefix() + "摄像头拍到" + "，".join(
        f"{spot_phrase(s)}有{join_zh([_noun_phrase_zh(g, pick(3)) for g in gs])}"
        for s, gs in spots))
    # "可以看到前门口有..." / "前门口出现了..."
    out.append(prefix() + "，".join(
        f"{spot_phrase(s)}出现了{join_zh([_noun_phrase_zh(g, pick(3)) for g in gs])}"
        for s, gs in spots))
    # "有人站在前门口" / reversed order
    rev = []
    for s, gs in reversed(spots):
        for g in reversed(gs):
            if g.kind == "person" and g.count == 1 and pick(2):
                rev.append(f"有人{VERB_ZH[(g.kind, g.pose)]}{spot_phrase(s)}")
            else:
                rev.append(f"{spot_phrase(s)}有{_noun_phrase_zh(g, 1 + pick(2))}")
    out.append(prefix() + "，".join(rev))
    # "画面中，前门口有..."
    out.append(prefix() + "画面中" + "，".join(
        f"{spot_phrase(s)}有{join_zh([_noun_phrase_zh(g, pick(3)) for g in gs])}"
        for s, gs in spots))
    return out


# ------------------------------------------------------------------------------------------ public
CANONICAL = {"en": canonical_en, "zh": canonical_zh}
_PARAPHRASES = {"en": _paraphrases_en, "zh": _paraphrases_zh}


def write_captions(scene: Scene, language: str, rng: np.random.Generator, n: int = 5) -> list[str]:
    """`n` distinct reference captions: the canonical one first, then paraphrases.

    Paraphrase structures are shuffled and re-drawn with other synonyms until `n` distinct
    captions exist (bounded: a scene always has more structures than the 5..8 asked for).
    """
    captions = [CANONICAL[language](scene)]
    for _ in range(20):
        candidates = _PARAPHRASES[language](scene, rng)
        for i in rng.permutation(len(candidates)):
            if len(captions) >= n:
                return captions
            if candidates[i] not in captions:
                captions.append(candidates[i])
    return captions
