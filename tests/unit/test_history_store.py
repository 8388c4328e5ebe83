"""The history store on real SQLite files: recording is idempotent, events are completed by their
end message, retention by age and size, a damaged file is moved aside, a full database is one
warning and captioning goes on; the recording sink records before it publishes."""

from __future__ import annotations

import json
import logging
import shutil
import sqlite3
import time
from datetime import UTC, datetime, timedelta

import pytest

from edge_captioner.history import schema
from edge_captioner.history.query import Query, parse_query, run_query, text_match
from edge_captioner.history.recording import RecordingSink
from edge_captioner.history.store import HistoryStore, Limits

T0 = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)


def caption(seq: int, text: str = "a dog in the backyard", camera: str = "backyard",
            at: datetime | None = None, kinds: dict | None = None, language: str = "en") -> dict:
    when = at or T0 + timedelta(seconds=seq)
    return {"camera": camera, "caption": text, "confidence": 0.9, "language": language,
            "timestamp": when.isoformat(timespec="milliseconds"), "model": "m", "latency_ms": 50.0,
            "seq": seq, "found": {"kinds": {"dog": 1} if kinds is None else kinds, "postures": [],
                                  "place": None, "objects": [{"label": "dog", "score": 0.8}]}}


def event(event_id: str, kind: str = "left", start: datetime = T0, end: datetime | None = None,
          objects: tuple = ("dog",), zone: str | None = "back_door", camera: str = "backyard",
          sentence: str | None = "the dog went out") -> dict:
    return {"id": event_id, "type": kind, "phase": "end" if end else "start", "camera": camera,
            "zone": zone, "start": start.isoformat(), "end": end.isoformat() if end else None,
            "duration_s": (end - start).total_seconds() if end else None,
            "objects": [{"kind": k, "track": i} for i, k in enumerate(objects)],
            "snapshot": None, "sentence": sentence, "language": "en", "model": "m"}


@pytest.fixture
def clock():
    now = {"t": (T0 + timedelta(hours=12)).timestamp()}
    fake = lambda: now["t"]  # noqa: E731
    fake.now = now
    return fake


def test_a_caption_recorded_twice_is_stored_once(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    for _ in range(3):
        assert store.record_caption(caption(1))
    store.record_caption(caption(2))
    assert store.conn.execute("SELECT count(*) FROM captions").fetchone()[0] == 2
    # the same seq of another run (a restart numbers from 1 again) is another caption
    store.record_caption(caption(1, at=T0 + timedelta(hours=1)))
    assert store.conn.execute("SELECT count(*) FROM captions").fetchone()[0] == 3
    # one sentence and one set of facts, however many captions say them
    assert store.conn.execute("SELECT count(*) FROM texts").fetchone()[0] == 1
    assert store.conn.execute("SELECT count(*) FROM facts").fetchone()[0] == 1
    found = json.loads(store.conn.execute("SELECT found FROM facts").fetchone()[0])
    assert found == {"kinds": {"dog": 1}, "place": None, "postures": []}  # no per-detection list


def test_an_event_end_completes_its_start_row(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.record_event(event("e1"), snapshot=b"\xff\xd8jpeg")
    store.record_event(event("e1", end=T0 + timedelta(seconds=90), sentence="the dog went out "
                             "through the back door"))
    rows = store.conn.execute("SELECT id, end, duration_s, sentence, snapshot FROM events").fetchall()
    assert len(rows) == 1
    event_id, end, duration, sentence, snapshot = rows[0]
    assert (event_id, duration) == ("e1", 90.0)
    assert end == (T0 + timedelta(seconds=90)).timestamp()
    assert sentence.endswith("back door")
    assert snapshot is not None and open(snapshot, "rb").read() == b"\xff\xd8jpeg"


def test_retention_by_age_deletes_rows_and_their_snapshots(tmp_path, clock):
    store = HistoryStore(tmp_path / "h.sqlite3", limits=Limits(keep_days=2), clock=clock)
    store.record_caption(caption(1, at=T0))
    store.record_event(event("old", start=T0), snapshot=b"jpeg")
    store.record_caption(caption(2, at=T0 + timedelta(days=2), text="no one in view", kinds={}))
    picture = store.conn.execute("SELECT snapshot FROM events").fetchone()[0]
    clock.now["t"] = (T0 + timedelta(days=2, hours=1)).timestamp()
    assert store.prune() == 2
    assert store.conn.execute("SELECT seq FROM captions").fetchall() == [(2,)]
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    assert not (tmp_path / "snapshots" / "old.jpg").exists() and picture
    # the sentence and facts no caption uses any more went too
    assert store.conn.execute("SELECT text FROM texts").fetchall() == [("no one in view",)]


def test_retention_by_size_drops_snapshots_first_then_the_oldest_rows(tmp_path, clock):
    store = HistoryStore(tmp_path / "h.sqlite3", limits=Limits(keep_days=3650, max_mb=1),
                         clock=clock)
    store.record_event(event("e1"), snapshot=b"x" * 600_000)
    store.record_event(event("e2", start=T0 + timedelta(minutes=1)), snapshot=b"y" * 600_000)
    store.prune()
    assert not (tmp_path / "snapshots" / "e1.jpg").exists()  # the older picture went
    assert (tmp_path / "snapshots" / "e2.jpg").exists()
    assert store.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 2  # the rows stay
    # now the rows: thousands of distinct captions outgrow 1 MB
    for i in range(12_000):
        store.record_caption(caption(i, text=f"caption number {i} of a long day", at=T0 +
                                     timedelta(seconds=i)))
    before = store.conn.execute("SELECT count(*) FROM captions").fetchone()[0]
    store.prune()
    after = store.conn.execute("SELECT min(seq), count(*) FROM captions").fetchone()
    pictures = sum(p.stat().st_size for p in (tmp_path / "snapshots").glob("*.jpg"))
    assert pictures == 0  # the last picture went before any row
    assert store.store_bytes() <= 1024 * 1024
    assert after[1] < before and after[0] > 0  # the oldest went first


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty header"])
def test_a_damaged_store_is_moved_aside_and_a_new_one_begun(tmp_path, caplog, damage):
    path = tmp_path / "history.sqlite3"
    store = HistoryStore(path)
    for i in range(2000):
        store.record_caption(caption(i, text=f"caption {i}"))
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    data = path.read_bytes()
    if damage == "garbage":
        path.write_bytes(b"this is not a database at all" * 100)
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 3])
    else:
        path.write_bytes(b"\0" * 100 + data[100:])
    with caplog.at_level(logging.WARNING):
        store = HistoryStore(path)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "moved aside" in warnings[0].getMessage()
    aside = [p for p in tmp_path.glob("history.sqlite3.corrupt-*") if not p.name.endswith("-wal")]
    assert len(aside) == 1 and aside[0].stat().st_size > 0
    assert store.conn.execute("SELECT count(*) FROM captions").fetchone()[0] == 0
    assert store.record_caption(caption(1))


def test_a_full_database_is_one_warning_and_captions_still_go_out(tmp_path, caplog):
    store = HistoryStore(tmp_path / "h.sqlite3")
    published = []

    class Inner:
        def publish_caption(self, event, snapshot=None):
            published.append(event.payload()["seq"])

    class Event:
        def __init__(self, seq):
            self.seq = seq

        def payload(self):
            return caption(self.seq, text=f"a distinct sentence {self.seq} " + "x" * 400)

    sink = RecordingSink(Inner(), store)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    # SQLite's own limit on the file: the same "database or disk is full" as a full SD card
    store.conn.execute(f"PRAGMA max_page_count={pages + 3}")
    with caplog.at_level(logging.WARNING):
        for seq in range(1, 201):
            sink.publish_caption(Event(seq))
    assert published == list(range(1, 201))  # captioning went on
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "database or disk is full" in warnings[0], warnings
    assert store.stats.dropped > 0 and store.stats.captions > 0
    store.conn.execute("PRAGMA max_page_count=1073741823")
    with caplog.at_level(logging.WARNING):
        sink.publish_caption(Event(201))
    assert "recording again" in caplog.records[-1].getMessage()


def test_the_sink_records_before_it_publishes(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    seen = []

    class Inner:
        def publish_caption(self, event, snapshot=None):
            seen.append(store.conn.execute("SELECT count(*) FROM captions").fetchone()[0])

        def publish_state(self, camera, state):
            seen.append(("state", camera, state))

    class Event:
        def payload(self):
            return caption(7)

    sink = RecordingSink(Inner(), store)
    sink.publish_caption(Event())
    sink.publish_state("backyard", "lost")
    assert seen == [1, ("state", "backyard", "lost")]

    class TrackerEvent:
        def payload(self):
            return event("e9")

    sink.publish_event(TrackerEvent())  # an inner sink without events (before issue 30) is fine
    assert store.conn.execute("SELECT id FROM events").fetchall() == [("e9",)]


def test_chinese_text_is_found_with_trigrams_and_short_words_with_like(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite3")
    assert store.text_index == schema.best_text_index() == "trigram"
    store.record_caption(caption(1, text="后院里有一只狗", language="zh"))
    store.record_caption(caption(2, text="前门口有一个箱子", kinds={"box": 1}, language="zh"))
    store.record_caption(caption(3, text="a dog in the backyard"))
    now = T0.timestamp()
    for text, expected in (("狗", {1}), ("箱子", {2}), ("一只狗", {1}), ("有一", {1, 2}),
                           ("DOG", {3}), ("dog yard", {3}), ("do", {3}), ("cat", set())):
        answer = run_query(store.conn, parse_query({"text": text}, now), store.text_index)
        assert {r["seq"] for r in answer.rows} == expected, text
    # which way each is searched
    assert "MATCH" in text_match("一只狗", "trigram", "text", "texts_fts", "id")[0]
    assert "LIKE" in text_match("狗", "trigram", "text", "texts_fts", "id")[0]
    assert "LIKE" in text_match("狗", "unicode61", "text", "texts_fts", "id")[0]
    assert "MATCH" in text_match("dog", "unicode61", "text", "texts_fts", "id")[0]
    # a kind by its Chinese name
    answer = run_query(store.conn, parse_query({"kind": "狗"}, now), store.text_index)
    assert {r["seq"] for r in answer.rows} == {1, 3}


def test_a_store_without_fts5_searches_with_like(tmp_path, monkeypatch):
    monkeypatch.setattr(schema, "best_text_index", lambda: "like")
    store = HistoryStore(tmp_path / "h.sqlite3")
    assert store.text_index == "like"
    assert not store.conn.execute("SELECT name FROM sqlite_master WHERE name='texts_fts'").fetchall()
    store.record_caption(caption(1, text="后院里有一只狗", language="zh"))
    answer = run_query(store.conn, parse_query({"text": "一只狗"}, 0), store.text_index)
    assert [r["seq"] for r in answer.rows] == [1]


@pytest.mark.parametrize("fields, error", [
    ({"kind": "unicorn"}, "kind: unknown kind 'unicorn'"),
    ({"event": "exploded"}, "event: unknown event 'exploded'"),
    ({"since": "soon"}, "since: expected a time"),
    ({"since": "1h", "until": "2h"}, "until: must be after since"),
    ({"limit": 0}, "limit: expected an integer 1..1000"),
    ({"last": "yes"}, "last: expected true or false"),
    ({"colour": "red"}, "colour: unknown field"),
    ({"text": 3}, "text: expected a string"),
])
def test_a_bad_question_names_its_field(fields, error):
    with pytest.raises(ValueError, match="^" + error.replace("(", r"\(")):
        parse_query(fields, T0.timestamp())


def test_times_of_a_question():
    now = T0.timestamp()  # 08:00 UTC
    query = parse_query({"since": "24h", "until": "2026-12-05T07:00:00+00:00"}, now, UTC)
    assert query.since == now - 86400
    assert query.until == now - 3600
    assert parse_query({"since": "today"}, now, UTC).since == now - 8 * 3600
    assert parse_query({"since": "yesterday"}, now, UTC).since == now - 32 * 3600
    assert parse_query({"since": "2026-12-05T06:30"}, now, UTC).since == now - 5400  # local
    assert parse_query({"last": True}, now) == Query(last=True, limit=1)


def test_reading_while_recording(tmp_path):
    """WAL: a reader on another connection sees every committed caption, and never blocks."""
    store = HistoryStore(tmp_path / "h.sqlite3")
    reader = schema.connect(store.path, read_only=True)
    reader.execute("BEGIN")
    assert reader.execute("SELECT count(*) FROM captions").fetchone()[0] == 0
    assert store.record_caption(caption(1))  # the writer is not held up by the open read
    reader.execute("COMMIT")
    assert reader.execute("SELECT count(*) FROM captions").fetchone()[0] == 1
    with pytest.raises(sqlite3.OperationalError):
        reader.execute("DELETE FROM captions")


def test_the_maintenance_thread_checkpoints_and_prunes_off_the_camera_threads(tmp_path, clock,
                                                                             monkeypatch):
    from edge_captioner.history import store as store_module

    monkeypatch.setattr(store_module, "CHECKPOINT_EVERY_S", 0.05)
    store = HistoryStore(tmp_path / "h.sqlite3", limits=Limits(keep_days=1), clock=clock)
    assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0  # not on a writer
    store.record_caption(caption(1, at=T0))

    def in_main_file() -> int:
        # the main file alone, without its WAL: what a checkpoint has copied
        copy = tmp_path / f"copy-{time.monotonic_ns()}.sqlite3"
        shutil.copyfile(tmp_path / "h.sqlite3", copy)
        try:
            return sqlite3.connect(copy).execute("SELECT count(*) FROM captions").fetchone()[0]
        except sqlite3.OperationalError:  # not even the tables yet
            return 0

    wait_for(lambda: in_main_file() == 1)
    clock.now["t"] = (T0 + timedelta(days=3)).timestamp()  # the caption is now too old
    store._last_prune -= store_module.PRUNE_EVERY_S  # and an hour has passed
    wait_for(lambda: store.conn.execute("SELECT count(*) FROM captions").fetchone()[0] == 0)
    store.close()
    assert not store._maintenance.is_alive()


def wait_for(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)


def test_the_event_machines_visit_end_answers_when_the_dog_last_went_out(tmp_path, clock):
    """service/events.py says a departure as the arrival's end message (type "arrived", phase
    "end"): the history answers `--kind dog --event left --last` from it, at its end time, and the
    day's summary counts it as the dog going out."""
    from edge_captioner.history.answer import answer_sentence
    from edge_captioner.history.query import day_rows
    from edge_captioner.service.events import Event, EventObject

    came, went = T0 + timedelta(hours=2), T0 + timedelta(hours=2, minutes=7)
    visit = dict(id="v1", type="arrived", camera="backyard", zone="back_door", start=came,
                 objects=(EventObject("dog", 3),), language="en", model="m")
    store = HistoryStore(tmp_path / "h.sqlite3")
    store.record_event(Event(**visit, phase="start", end=None, sentence="a dog arrived").payload())
    store.record_event(Event(**visit, phase="end", end=went, sentence="the dog left").payload())
    query = parse_query({"kind": "dog", "event": "left", "last": True}, clock())
    answer = run_query(store.conn, query, store.text_index)
    assert [(r["type"], r["ts"]) for r in answer.rows] == [("left", went.timestamp())]
    assert "went out" in answer_sentence(answer, clock(), UTC, "en")
    assert "10:07" in answer_sentence(answer, clock(), UTC, "en")
    # an arrival that has not ended is no departure
    store.record_event(Event(**{**visit, "id": "v2", "start": went + timedelta(hours=1)},
                             phase="start", end=None, sentence="a dog arrived").payload())
    assert run_query(store.conn, query, store.text_index).rows[0]["id"] == "v1"
    events, _ = day_rows(store.conn, T0.timestamp(), (T0 + timedelta(days=1)).timestamp())
    assert [e["type"] for e in events].count("left") == 1
    # a visit that ended because the camera was lost is no departure: nobody saw the dog go
    lost = {**visit, "id": "v3", "start": went + timedelta(minutes=30)}
    store.record_event(Event(**lost, phase="start", end=None, sentence="a dog arrived").payload())
    store.record_event(Event(**lost, phase="end", end=went + timedelta(minutes=40),
                             sentence="the camera was lost", camera_lost=True).payload())
    assert run_query(store.conn, query, store.text_index).rows[0]["id"] == "v1"
    events, _ = day_rows(store.conn, T0.timestamp(), (T0 + timedelta(days=1)).timestamp())
    assert [e["type"] for e in events].count("left") == 1


def test_a_store_of_the_first_schema_is_upgraded_in_place_with_its_rows(tmp_path):
    path = tmp_path / "h.sqlite3"
    store = HistoryStore(path)
    store.record_event({"id": "e1", "type": "arrived", "camera": "door",
                        "start": "2026-12-01T10:00:00Z", "objects": [{"kind": "person"}]})
    store.conn.executescript("ALTER TABLE events DROP COLUMN ended; "
                             "UPDATE meta SET value = '1' WHERE key = 'schema';")
    store.close()
    again = HistoryStore(path)
    assert "ended" in {row[1] for row in again.conn.execute("PRAGMA table_info(events)")}
    assert again.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone() == ("2",)
    assert again.conn.execute("SELECT id FROM events").fetchall() == [("e1",)]
    assert again.record_event({"id": "e1", "type": "arrived", "camera": "door",
                               "start": "2026-12-01T10:00:00Z", "end": "2026-12-01T10:05:00Z",
                               "camera_lost": True})
    assert again.conn.execute("SELECT ended FROM events").fetchall() == [("camera_lost",)]
