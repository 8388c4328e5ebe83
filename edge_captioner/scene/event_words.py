"""The sentences of events (service/events.py), in English and Chinese. Pure.

Built from the captions' own words (words.py: nouns, measure words, places), so an event names a
thing and a place as a caption would. A place is said only when events.py gives one: the zone the
object is in, when that zone is named after a place (zones.py); otherwise nothing is said of where.

en: "a person arrived at the front door"; "a person left after 2 minutes"; "a person passed by";
    "a box was left at the front door"; "a box was taken"; "a person has been lying down for 30
    seconds in the kitchen"; "the person got up after 45 seconds"; "a person has been at the
    front door for 1 minute".
zh: "前门口来了一个人"; "一个人离开了，停留了2分钟"; "一个人经过"; "前门口留下了一个箱子";
    "一个箱子被拿走了"; "厨房里有一个人躺了30秒"; "那个人起来了，躺了45秒"; "前门口有一个人停留了1分钟".
An event ended because the camera was lost says so, and not that anyone left or got up: "the camera
was lost; a person had been at the front door for 2 minutes"; "摄像头断开了，前门口有一个人停留了2分钟".
"""

from __future__ import annotations

from .phrase import check_language
from .words import NOUN_EN, NOUN_ZH, PLACE_EN, PLACE_ZH, article

# event type -> the phases it has words for
KINDS_OF_EVENT = ("arrived", "passed_by", "box_left", "box_taken", "possible_fall", "lingering")


def duration_en(seconds: float) -> str:
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s} second{'s' if s != 1 else ''}"
    if s < 3600:
        m = s // 60
        return f"{m} minute{'s' if m != 1 else ''}"
    h, m = divmod(s // 60, 60)
    hours = f"{h} hour{'s' if h != 1 else ''}"
    return hours if not m else f"{hours} {m} minute{'s' if m != 1 else ''}"


def duration_zh(seconds: float) -> str:
    s = max(int(round(seconds)), 0)
    if s < 60:
        return f"{s}秒"
    if s < 3600:
        return f"{s // 60}分钟"
    h, m = divmod(s // 60, 60)
    return f"{h}小时" + (f"{m}分钟" if m else "")


def _one_en(kind: str) -> str:
    singular = NOUN_EN[kind][0]
    return f"{article(singular)} {singular}"


def _one_zh(kind: str) -> str:
    measure, noun = NOUN_ZH[kind]
    return f"一{measure}{noun}"


def sentence(event_type: str, phase: str, kind: str, place: str | None, duration_s: float,
             lang: str, *, gone: bool = False, lost: bool = False) -> str:
    """The sentence of one event message. place: one of facts.PLACES or None (nothing said of
    where); gone: an end that came because the object went out of view, not because it changed;
    lost: an end that came because the camera was lost (what happened is not known)."""
    check_language(lang)
    if event_type not in KINDS_OF_EVENT or phase not in ("start", "end"):
        raise ValueError(f"no words for event {event_type!r} {phase!r}")
    if lost:
        return _lost_en(event_type, kind, PLACE_EN.get(place), duration_s) if lang == "en" else \
            _lost_zh(event_type, kind, PLACE_ZH.get(place), duration_s)
    if lang == "en":
        return _en(event_type, phase, kind, PLACE_EN.get(place), duration_s, gone)
    return _zh(event_type, phase, kind, PLACE_ZH.get(place), duration_s, gone)


def _en(event_type: str, phase: str, kind: str, where: str | None, duration_s: float,
        gone: bool) -> str:
    one, at = _one_en(kind), f" {where}" if where else ""
    took = duration_en(duration_s)
    if event_type == "arrived":
        return f"{one} arrived{at}" if phase == "start" else f"{one} left{at} after {took}"
    if event_type == "passed_by":
        return f"{one} passed by{at}"
    if event_type == "box_left":
        return f"{one} was left{at}"
    if event_type == "box_taken":
        return f"{one} was taken{at}"
    if event_type == "possible_fall":
        if phase == "start":
            return f"{one} has been lying down for {took}{at}"
        return (f"the person lying down is out of view after {took}" if gone
                else f"the person got up after {took}")
    if phase == "start":  # lingering
        return f"{one} has been{at or ' in view'} for {took}"
    return f"the person left after {took}"


def _lost_en(event_type: str, kind: str, where: str | None, duration_s: float) -> str:
    took = duration_en(duration_s)
    if event_type == "possible_fall":
        return f"the camera was lost; the person had been lying down for {took}"
    return f"the camera was lost; {_one_en(kind)} had been {where or 'in view'} for {took}"


def _lost_zh(event_type: str, kind: str, where: str | None, duration_s: float) -> str:
    took = duration_zh(duration_s)
    if event_type == "possible_fall":
        return f"摄像头断开了，那个人已躺了{took}"
    return f"摄像头断开了，{where or '画面里'}有{_one_zh(kind)}停留了{took}"


def _zh(event_type: str, phase: str, kind: str, where: str | None, duration_s: float,
        gone: bool) -> str:
    one, at = _one_zh(kind), where or ""
    took = duration_zh(duration_s)
    if event_type == "arrived":
        return f"{at}来了{one}" if phase == "start" else f"{at}{one}离开了，停留了{took}"
    if event_type == "passed_by":
        return f"{one}从{at}经过" if at else f"{one}经过"
    if event_type == "box_left":
        return f"{at}留下了{one}"
    if event_type == "box_taken":
        return f"{at}{one}被拿走了"
    if event_type == "possible_fall":
        if phase == "start":
            return f"{at or '画面里'}有{one}躺了{took}"
        return f"躺着的人已不在画面里，躺了{took}" if gone else f"那个人起来了，躺了{took}"
    if phase == "start":  # lingering
        return f"{at or '画面里'}有{one}停留了{took}"
    return f"那个人离开了，停留了{took}"
