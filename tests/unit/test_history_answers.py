"""The pure parts of the history: the answer sentences and the day's summary in English and
Chinese from hand-made rows and a fake clock, when the summary is due, its Home Assistant sensor."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from edge_captioner.history.answer import answer_sentence, clock_text
from edge_captioner.history.query import Answer, Query
from edge_captioner.history.service import next_summary
from edge_captioner.history.summary import Day, summarize
from edge_captioner.mqtt.discovery import summary_discovery

DAY = datetime(2026, 12, 5, tzinfo=UTC)
NOW = (DAY + timedelta(hours=21)).timestamp()


def at(hhmm: str, day: int = 0) -> float:
    hours, minutes = map(int, hhmm.split(":"))
    return (DAY + timedelta(days=day, hours=hours, minutes=minutes)).timestamp()


def ev(kind: str, hhmm: str, kinds: list[str], camera: str = "front_door",
       zone: str | None = "front_door") -> dict:
    return {"what": "event", "id": f"{kind}-{hhmm}", "type": kind, "camera": camera, "zone": zone,
            "ts": at(hhmm), "kinds": kinds, "duration_s": None, "sentence": None}


DOG_OUT = ev("left", "16:42", ["dog"], "backyard", "back_door")


@pytest.mark.parametrize("query, rows, total, language, expected", [
    (Query(kinds=("dog",), event="left", last=True), [DOG_OUT], 3, "en",
     "The dog last went out at 16:42 at the back door."),
    (Query(kinds=("dog",), event="left", last=True), [DOG_OUT], 3, "zh",
     "狗最近一次出去是在16:42，在back door。"),
    (Query(event="box_left"), [ev("box_left", "11:02", ["box", "person"])] * 2, 2, "en",
     "A parcel was delivered 2 times; the last time at 11:02 at the front door."),
    (Query(event="box_left"), [ev("box_left", "11:02", ["box", "person"])] * 2, 2, "zh",
     "包裹送达了2次，最近一次是在11:02，前门口。"),
    (Query(event="box_taken", last=True), [ev("box_taken", "18:10", ["box", "person"])], 1, "en",
     "A parcel was last taken at 18:10 at the front door."),
    (Query(event="arrived", kinds=("person",)), [ev("arrived", "17:30", ["person"])], 1, "en",
     "Someone last arrived at 17:30 at the front door."),
    (Query(event="any", last=True), [ev("possible_fall", "14:03", ["person"], "kitchen", None)],
     5, "en", "Someone last possibly fell at 14:03 in the kitchen."),
    (Query(event="left"), [], 0, "en", "No matching events found."),
    (Query(kinds=("dog",)), [], 0, "zh", "没有找到相符的描述。"),
])
def test_answer_sentences(query, rows, total, language, expected):
    assert answer_sentence(Answer(query, rows, total), NOW, UTC, language) == expected


def test_caption_answers_and_the_day_said():
    row = {"what": "caption", "camera": "backyard", "ts": at("16:40", -1),
           "caption": "a dog in the backyard"}
    assert answer_sentence(Answer(Query(kinds=("dog",), last=True), [row], 9), NOW, UTC, "en") == \
        'A dog was last seen yesterday at 16:40 in the backyard: "a dog in the backyard".'
    row_zh = {**row, "caption": "后院里有一只狗"}
    assert answer_sentence(Answer(Query(kinds=("dog",), last=True), [row_zh], 9), NOW, UTC, "zh") \
        == "最近一次看到狗是在昨天16:40，后院里：“后院里有一只狗”。"
    assert clock_text(at("09:00", -3), NOW, UTC, "en") == "on 2 Dec at 09:00"
    assert clock_text(at("09:00", -3), NOW, UTC, "zh") == "12月2日09:00"


def scripted_day() -> Day:
    events = [ev("arrived", "08:05", ["person"]), ev("box_left", "08:06", ["box", "person"]),
              ev("left", "09:30", ["dog"], "backyard", "back_door"),
              ev("arrived", "11:00", ["person"]), ev("box_left", "11:02", ["box", "person"]),
              ev("arrived", "12:00", ["car"], "driveway", None),
              ev("left", "12:15", ["dog"], "backyard", "back_door"),
              ev("box_taken", "18:10", ["box", "person"]),
              ev("possible_fall", "19:20", ["person"], "kitchen", None)]
    seen = {"front_door": {"person": 4, "box": 2}, "backyard": {"dog": 3}, "garage": {},
            "living_room": {"cat": 2}}
    return Day(events, seen, ("front_door", "backyard", "driveway", "kitchen", "garage",
                              "living_room"))


def test_the_summary_matches_a_hand_count_in_english_and_chinese():
    day = scripted_day()
    english = summarize(day, NOW, UTC, "en")
    assert english.sentence == (
        "Today: 2 parcels delivered (one taken at 18:10), 2 visitors at the front door, a car "
        "arrived once, the dog went out twice, 1 possible fall (the last at 19:20 in the kitchen), "
        "a cat seen in the living room, no one in the backyard, no one in the driveway, no one in "
        "the garage, no one in the living room.")
    chinese = summarize(day, NOW, UTC, "zh")
    assert chinese.sentence == (
        "今天：送达2个包裹（1个在18:10被取走），前门口有2位访客，汽车到达了1次，狗出去了2次，"
        "1次可能摔倒（最近一次19:20，厨房里），客厅里看到猫，后院里没有人，车道上没有人，在garage没有人，"
        "客厅里没有人。")
    assert english.counts["parcels"] == {"delivered": 2, "taken": 1}
    assert english.counts["events"] == {"arrived": 3, "box_left": 2, "left": 2, "box_taken": 1,
                                        "possible_fall": 1}
    assert english.date == "2026-12-05"
    payload = english.payload("en", "2026-12-05T21:00:00+00:00")
    assert payload["summary"] == english.sentence and payload["language"] == "en"


def test_an_empty_day():
    day = Day([], {}, ())
    assert summarize(day, NOW, UTC, "en").sentence == "Today: nothing recorded."
    assert summarize(day, NOW, UTC, "zh").sentence == "今天：没有任何记录。"


def test_when_the_summary_is_due():
    assert next_summary(at("20:59"), "21:00", UTC) == at("21:00")
    assert next_summary(at("21:00"), "21:00", UTC) == at("21:00", 1)  # just sent: tomorrow's
    assert next_summary(at("23:30"), "07:05", UTC) == at("07:05", 1)


def test_the_summary_sensor():
    topic, payload = summary_discovery("porch", "ec/porch", "default-en", "1.0", "ha")
    assert topic == "ha/sensor/porch/summary/config"
    config = json.loads(payload)
    assert config["state_topic"] == config["json_attributes_topic"] == "ec/porch/summary"
    assert config["value_template"] == "{{ value_json.summary[:255] }}"
    assert config["availability"][0]["topic"] == "ec/porch/status"
    assert config["device"]["identifiers"] == ["edge_captioner_porch"]
    assert summary_discovery("porch", "ec/porch", "m", "1.0", "ha", enabled=False)[1] == b""
