"""The one sentence that answers a question, in the bundle's language (English or Chinese); pure:
the answer rows, the clock and the local zone in, text out.

    --kind dog --event left --last   the dog last went out at 16:42 at the back door
                                     狗最近一次出去是在16:42，在back door。
    --event box_left --since today   a parcel was delivered 2 times; the last time at 11:05 at the
                                     front door
    --kind dog (captions)            a dog was last seen at 16:40 at the backyard: "a dog in the
                                     backyard"
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from ..scene.facts import ANIMALS
from ..scene.words import NOUN_EN, NOUN_ZH, PLACE_EN, PLACE_ZH
from .query import ANY_EVENT, Answer

# (English subject when no kind is asked, past verb; Chinese subject, verb)
EVENT_WORDS = {
    "arrived": ("someone", "arrived", "有人", "到达"),
    "left": ("someone", "left", "有人", "离开"),
    "passed_by": ("someone", "passed by", "有人", "经过"),
    "box_left": ("a parcel", "was delivered", "包裹", "送达"),
    "box_taken": ("a parcel", "was taken", "包裹", "被取走"),
    "possible_fall": ("someone", "possibly fell", "有人", "可能摔倒"),
    "lingering": ("someone", "lingered", "有人", "逗留"),
}
ANIMAL_LEFT = ("went out", "出去")  # a pet "went out" rather than "left"


def clock_text(ts: float, now: float, tz: tzinfo | None, language: str) -> str:
    """16:42 today; yesterday at 16:42; on 3 Dec at 16:42 (昨天16:42, 12月3日16:42)."""
    when, today = datetime.fromtimestamp(ts, tz), datetime.fromtimestamp(now, tz)
    hm = when.strftime("%H:%M")
    days = (today.date() - when.date()).days
    if language == "zh":
        return hm if days == 0 else f"昨天{hm}" if days == 1 else f"{when.month}月{when.day}日{hm}"
    if days == 0:
        return f"at {hm}"
    if days == 1:
        return f"yesterday at {hm}"
    return f"on {when.day} {when.strftime('%b')} at {hm}"


def place_text(name: str | None, language: str, preposition: str = "at") -> str:
    """Where: a zone or camera name said as words ("at the back door", 在back door); the places
    the captions know in their own words ("in the kitchen", 厨房里)."""
    if not name:
        return ""
    words = name.replace("_", " ").replace("-", " ")
    if language == "zh":
        return PLACE_ZH.get(name, "在" + words)
    return PLACE_EN.get(name, f"{preposition} the {words}")


def subject(kind: str | None, event: str | None, language: str) -> str:
    if kind is not None and kind not in ("person", "box"):
        return NOUN_ZH[kind][1] if language == "zh" else f"the {NOUN_EN[kind][0]}"
    english, _, chinese, _ = EVENT_WORDS.get(event or "", ("someone", "", "有人", ""))
    if kind == "box":
        english, chinese = "a parcel", "包裹"
    return chinese if language == "zh" else english


def verb(kind: str | None, event: str, language: str) -> str:
    if event == "left" and kind in ANIMALS:
        return ANIMAL_LEFT[1] if language == "zh" else ANIMAL_LEFT[0]
    words = EVENT_WORDS[event]
    return words[3] if language == "zh" else words[1]


def answer_sentence(answer: Answer, now: float, tz: tzinfo | None, language: str) -> str:
    query = answer.query
    if not answer.rows:
        if language == "zh":
            return "没有找到相符的事件。" if query.event else "没有找到相符的描述。"
        return "No matching events found." if query.event else "No matching captions found."
    if query.event is None:
        return _caption_sentence(answer, now, tz, language)
    return _event_sentence(answer, now, tz, language)


def _event_sentence(answer: Answer, now: float, tz: tzinfo | None, language: str) -> str:
    query, row = answer.query, answer.rows[0]
    event = row["type"] if query.event == ANY_EVENT else query.event
    kind = query.kinds[0] if query.kinds else next(iter(row["kinds"]), None)
    who, did = subject(kind, event, language), verb(kind, event, language)
    when = clock_text(row["ts"], now, tz, language)
    where = place_text(row["zone"] or row["camera"], language)
    once = query.last or answer.total == 1
    if language == "zh":
        if once:
            return f"{who}最近一次{did}是在{when}，{where}。"
        return f"{who}{did}了{answer.total}次，最近一次是在{when}，{where}。"
    if once:
        # "was last taken", not "last was taken"
        head = (f"{who} was last {did[4:]} {when} {where}" if did.startswith("was ")
                else f"{who} last {did} {when} {where}")
    else:
        head = f"{who} {did} {answer.total} times; the last time {when} {where}"
    return head[0].upper() + head[1:] + "."


def _caption_sentence(answer: Answer, now: float, tz: tzinfo | None, language: str) -> str:
    query, row = answer.query, answer.rows[0]
    when = clock_text(row["ts"], now, tz, language)
    where = place_text(row["camera"], language)
    kind = query.kinds[0] if query.kinds else None
    if language == "zh":
        what = NOUN_ZH[kind][1] if kind else "相符的画面"
        if query.last or answer.total == 1:
            return f"最近一次看到{what}是在{when}，{where}：“{row['caption']}”。"
        return f"有{answer.total}条描述相符，最近一次是在{when}，{where}：“{row['caption']}”。"
    if kind is None:
        head = (f"the last matching caption was {when} {where}" if query.last or answer.total == 1
                else f"{answer.total} captions match; the last {when} {where}")
    elif query.last or answer.total == 1:
        head = f"a {NOUN_EN[kind][0]} was last seen {when} {where}"
    else:
        head = f"{answer.total} captions with a {NOUN_EN[kind][0]}; the last {when} {where}"
    return f"{head[0].upper()}{head[1:]}: \"{row['caption']}\"."
