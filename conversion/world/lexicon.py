"""The en/zh words of the synthetic world that its caption writers and readers share: the render
captions (captions.py), their reader (mentions.py) and the grounded captions
(conversion/grounded/captions.py) name the same kinds, numbers and places with these.

Writing: each kind's nouns (the first form canonical), number words, where nobody is, and how
captions list things ("a, b and c"; "甲、乙和丙"). Reading: the words that name a kind or a place,
back to that kind or place, and the Chinese phrases that say nobody is there.
"""

from __future__ import annotations

# ----------------------------------------------------------------------------------------- English
# (singular, plural); the first pair is canonical.
NOUN_EN: dict[str, tuple[tuple[str, str], ...]] = {
    "person": (("person", "people"),),
    "dog": (("dog", "dogs"), ("puppy", "puppies")),
    "cat": (("cat", "cats"), ("kitten", "kittens")),
    "bicycle": (("bicycle", "bicycles"), ("bike", "bikes")),
    "car": (("car", "cars"),),
    "package": (("package", "packages"), ("parcel", "parcels"), ("box", "boxes")),
}
NUMBER_EN = {2: "two", 3: "three"}
# Where "nobody" is, for an empty scene.
EMPTY_LOC_EN = {
    "front_door": "at the front door",
    "living_room": "in the living room",
    "kitchen": "in the kitchen",
    "driveway": "in the driveway",
    "backyard": "in the backyard",
}


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


def join_en(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


# Reading: each word that names a kind, plural forms, and each word that names a place.
NOUN_WORDS_EN = {
    "person": "person", "people": "person", "persons": "person", "someone": "person",
    "somebody": "person", "man": "person", "men": "person", "woman": "person", "women": "person",
    "visitor": "person", "visitors": "person",
    "dog": "dog", "dogs": "dog", "puppy": "dog", "puppies": "dog",
    "cat": "cat", "cats": "cat", "kitten": "cat", "kittens": "cat",
    "bicycle": "bicycle", "bicycles": "bicycle", "bike": "bicycle", "bikes": "bicycle",
    "car": "car", "cars": "car",
    "package": "package", "packages": "package", "parcel": "package", "parcels": "package",
    "box": "package", "boxes": "package",
}
PLURAL_WORDS_EN = {
    "people", "persons", "men", "women", "visitors", "dogs", "puppies", "cats", "kittens",
    "bicycles", "bikes", "cars", "packages", "parcels", "boxes",
}
PLACE_WORDS_EN = {
    "door": "front_door", "porch": "front_door", "doorstep": "front_door",
    "sofa": "living_room", "couch": "living_room", "living": "living_room",
    "kitchen": "kitchen", "counter": "kitchen",
    "driveway": "driveway", "garage": "driveway",
    "backyard": "backyard", "lawn": "backyard", "fence": "backyard", "grass": "backyard",
    "yard": "backyard", "garden": "backyard",
}


# ----------------------------------------------------------------------------------------- Chinese
# (measure word, noun); first is canonical
NOUN_ZH: dict[str, tuple[tuple[str, str], ...]] = {
    "person": (("个", "人"),),
    "dog": (("只", "狗"), ("只", "小狗")),
    "cat": (("只", "猫"), ("只", "小猫")),
    "bicycle": (("辆", "自行车"), ("辆", "单车")),
    "car": (("辆", "汽车"), ("辆", "小轿车")),
    "package": (("个", "包裹"), ("个", "快递"), ("个", "纸箱")),
}
NUMBER_ZH = {1: "一", 2: "两", 3: "三"}
PLACE_ZH = {
    "front_door": "前门口",
    "living_room": "客厅里",
    "kitchen": "厨房里",
    "driveway": "车道上",
    "backyard": "后院里",
}


def join_zh(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return "、".join(items[:-1]) + "和" + items[-1]


# Reading: each word that names a kind, longest first, so that 自行车 is read before 车 would be,
# and 车道/车库 never read as a car.
NOUN_WORDS_ZH = [
    ("自行车", "bicycle"), ("单车", "bicycle"), ("小轿车", "car"), ("小汽车", "car"),
    ("汽车", "car"), ("轿车", "car"), ("包裹", "package"), ("快递", "package"),
    ("纸箱", "package"), ("箱子", "package"), ("小狗", "dog"), ("狗", "dog"), ("小猫", "cat"),
    ("猫", "cat"), ("人", "person"),
]
# phrases that say nobody (or nothing) is there
NOBODY_ZH = ("空无一人", "一个人也没有", "没有人", "无人", "什么也没有", "没有动物", "没有车")
PLACE_WORDS_ZH = [
    ("门口", "front_door"), ("门廊", "front_door"), ("前廊", "front_door"), ("前门", "front_door"),
    ("沙发", "living_room"), ("客厅", "living_room"),
    ("厨房", "kitchen"), ("台面", "kitchen"), ("料理台", "kitchen"), ("灶台", "kitchen"),
    ("车道", "driveway"), ("车库", "driveway"),
    ("后院", "backyard"), ("草坪", "backyard"), ("草地", "backyard"), ("篱笆", "backyard"),
    ("栅栏", "backyard"),
]
