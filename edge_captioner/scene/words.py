"""The words of the captions, in English and Chinese: one table per thing said, shared by the
writer (phrase.py) and the reader (read.py), so that what is written is what is read back.

English is written without punctuation (the decoder's vocabulary has none: bundle/vocab.py drops
it), so every phrase is told apart by its words alone. Chinese puts the place first and counts
with measure words ("前门口有两个人和一辆卡车").
"""

from __future__ import annotations

from .facts import MANY

LANGUAGES = ("en", "zh")

# ----------------------------------------------------------------------------------------- English
NOUN_EN = {  # kind -> (singular, plural)
    "person": ("person", "people"), "car": ("car", "cars"), "truck": ("truck", "trucks"),
    "bus": ("bus", "buses"), "motorcycle": ("motorcycle", "motorcycles"),
    "bicycle": ("bicycle", "bicycles"), "dog": ("dog", "dogs"), "cat": ("cat", "cats"),
    "bird": ("bird", "birds"), "box": ("box", "boxes"), "backpack": ("backpack", "backpacks"),
    "handbag": ("handbag", "handbags"), "suitcase": ("suitcase", "suitcases"),
    "umbrella": ("umbrella", "umbrellas"),
}
NUMBER_EN = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight",
             9: "nine", MANY: "many"}
SPOT_EN = {"sofa": "on the sofa", "bed": "on the bed", "chair": "on a chair"}
POSTURE_EN = {"standing": "standing", "sitting": "sitting", "lying": "lying"}
LYING_NOWHERE_EN = "lying down"  # "on the floor" is not said: no detector finds the floor
# people whose posture is not known, beside people whose posture is ("and another person")
OTHER_ONE_EN, OTHER_MANY_EN = "another", "other"
PLACE_EN = {
    "front_door": "at the front door", "living_room": "in the living room",
    "kitchen": "in the kitchen", "driveway": "in the driveway", "backyard": "in the backyard",
}
NOBODY_EN = "no one"
NO_PLACE_EN = "in view"


def article(word: str) -> str:
    return "an" if word[0] in "aeiou" else "a"


# ----------------------------------------------------------------------------------------- Chinese
NOUN_ZH = {  # kind -> (measure word, noun)
    "person": ("个", "人"), "car": ("辆", "汽车"), "truck": ("辆", "卡车"),
    "bus": ("辆", "公交车"), "motorcycle": ("辆", "摩托车"), "bicycle": ("辆", "自行车"),
    "dog": ("只", "狗"), "cat": ("只", "猫"), "bird": ("只", "鸟"), "box": ("个", "箱子"),
    "backpack": ("个", "背包"), "handbag": ("个", "手提包"), "suitcase": ("个", "行李箱"),
    "umbrella": ("把", "雨伞"),
}
NUMBER_ZH = {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九",
             MANY: "很多"}
# a person's posture as an attribute before 人: 一个站着的人, 两个坐在沙发上的人
POSE_ZH = {
    ("standing", None): "站着的", ("sitting", None): "坐着的", ("sitting", "sofa"): "坐在沙发上的",
    ("sitting", "bed"): "坐在床上的", ("sitting", "chair"): "坐在椅子上的",
    ("lying", None): "躺着的", ("lying", "sofa"): "躺在沙发上的", ("lying", "bed"): "躺在床上的",
}
OTHER_ZH = "另外"  # 另外一个人, 另外两个人: people whose posture is not known
PLACE_ZH = {
    "front_door": "前门口", "living_room": "客厅里", "kitchen": "厨房里", "driveway": "车道上",
    "backyard": "后院里",
}
NO_PLACE_ZH = "画面里"
THERE_IS_ZH, NOBODY_ZH = "有", "没有人"
AND_ZH = "和"
