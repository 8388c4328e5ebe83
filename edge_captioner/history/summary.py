"""The day's summary: one sentence from the day's events and captions, in the bundle's language,
counted, not written by a language model; pure (rows, clock and zone in; text and counts out).

    Today: 2 parcels delivered (one taken at 18:10), 5 visitors at the front door, the dog went
    out 3 times, no one in the garage
    今天：送达2个包裹（1个在18:10被取走），前门口有5位访客，狗出去了3次，在garage没有人

What is counted (docs/history.md): parcels delivered (box_left) and taken (box_taken, with the
time of the last); people arriving, by zone (else camera); vehicles arriving and animals going
out, by kind; people passing by; lingering; possible falls (with the time of the last); for a
camera without events, what its captions saw; and each camera where no person was seen at all.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from ..scene.facts import ANIMALS, KINDS, VEHICLES
from ..scene.words import NOUN_EN, NOUN_ZH
from .answer import place_text


@dataclass(frozen=True)
class Day:
    """What the history holds for one day: its events (query.event_row dicts), and per camera
    the kinds its captions named with how many captions named each."""

    events: list[dict]
    seen: dict[str, dict[str, int]]  # camera -> kind -> captions naming it
    cameras: tuple[str, ...]  # the board's cameras, in configuration order


@dataclass
class Summary:
    sentence: str
    date: str
    counts: dict = field(default_factory=dict)

    def payload(self, language: str, generated: str) -> dict:
        return {"date": self.date, "summary": self.sentence, "language": language,
                "generated": generated, **self.counts}


def day_start(now: float, tz: tzinfo | None) -> float:
    local = datetime.fromtimestamp(now, tz)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _hm(ts: float, tz: tzinfo | None) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M")


def _times(n: int) -> str:
    return "once" if n == 1 else "twice" if n == 2 else f"{n} times"


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def summarize(day: Day, now: float, tz: tzinfo | None, language: str) -> Summary:
    zh = language == "zh"
    events = sorted(day.events, key=lambda e: e["ts"])
    by_type: dict[str, list[dict]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    clauses: list[str] = []

    delivered, taken = by_type.get("box_left", []), by_type.get("box_taken", [])
    if delivered or taken:
        last = _hm(taken[-1]["ts"], tz) if taken else ""
        if zh:
            text = f"送达{len(delivered)}个包裹" if delivered else ""
            if taken:
                took = (f"1个在{last}被取走" if len(taken) == 1
                        else f"{len(taken)}个被取走，最后一个在{last}")
                text = f"{text}（{took}）" if text else took
        elif delivered:
            text = _plural(len(delivered), "parcel", "parcels") + " delivered"
            if taken:
                text += (f" (one taken at {last})" if len(taken) == 1
                         else f" ({len(taken)} taken, the last at {last})")
        else:
            text = (f"one parcel taken at {last}" if len(taken) == 1
                    else f"{len(taken)} parcels taken, the last at {last}")
        clauses.append(text)

    visitors = Counter(e["zone"] or e["camera"] for e in by_type.get("arrived", [])
                       if "person" in e["kinds"])
    for where, n in visitors.items():
        clauses.append(f"{place_text(where, language)}有{n}位访客" if zh
                       else f"{_plural(n, 'visitor', 'visitors')} {place_text(where, language)}")

    vehicles = Counter(k for e in by_type.get("arrived", []) for k in e["kinds"] if k in VEHICLES)
    for kind, n in _ordered(vehicles):
        clauses.append(f"{NOUN_ZH[kind][1]}到达了{n}次" if zh
                       else f"a {NOUN_EN[kind][0]} arrived {_times(n)}")

    pets = Counter(k for e in by_type.get("left", []) for k in e["kinds"] if k in ANIMALS)
    for kind, n in _ordered(pets):
        clauses.append(f"{NOUN_ZH[kind][1]}出去了{n}次" if zh
                       else f"the {NOUN_EN[kind][0]} went out {_times(n)}")

    passing = len(by_type.get("passed_by", []))
    if passing:
        clauses.append(f"{passing}人经过" if zh
                       else _plural(passing, "person", "people") + " passed by")
    lingering = len(by_type.get("lingering", []))
    if lingering:
        clauses.append(f"有人逗留{lingering}次" if zh else f"someone lingered {_times(lingering)}")
    falls = by_type.get("possible_fall", [])
    if falls:
        fall = falls[-1]
        where = place_text(fall["zone"] or fall["camera"], language)
        clauses.append(f"{len(falls)}次可能摔倒（最近一次{_hm(fall['ts'], tz)}，{where}）" if zh
                       else f"{_plural(len(falls), 'possible fall', 'possible falls')} (the last "
                            f"at {_hm(fall['ts'], tz)} {where})")

    with_events = {e["camera"] for e in events}
    for camera in day.cameras:
        seen = day.seen.get(camera, {})
        if camera not in with_events and seen:
            names = [k for k in KINDS if seen.get(k)]
            said = ("、".join(NOUN_ZH[k][1] for k in names) if zh else
                    ", ".join("people" if k == "person" else f"a {NOUN_EN[k][0]}" for k in names))
            clauses.append(f"{place_text(camera, language)}看到{said}" if zh
                           else f"{said} seen {place_text(camera, language)}")
    people_at = {e["camera"] for e in events if "person" in e["kinds"]}
    quiet = [c for c in day.cameras if c not in people_at and not day.seen.get(c, {}).get("person")]
    for camera in quiet:
        clauses.append(f"{place_text(camera, language)}没有人" if zh
                       else f"no one {place_text(camera, language, 'in')}")

    if zh:
        sentence = "今天：" + ("，".join(clauses) if clauses else "没有任何记录") + "。"
    else:
        sentence = "Today: " + (", ".join(clauses) if clauses else "nothing recorded") + "."
    counts = {
        "events": {t: len(v) for t, v in by_type.items()},
        "parcels": {"delivered": len(delivered), "taken": len(taken)},
        "visitors": dict(visitors), "vehicles": dict(vehicles), "went_out": dict(pets),
        "quiet": quiet,
    }
    return Summary(sentence, datetime.fromtimestamp(now, tz).date().isoformat(), counts)


def _ordered(counter: Counter) -> list[tuple[str, int]]:
    return sorted(counter.items(), key=lambda item: KINDS.index(item[0]))
