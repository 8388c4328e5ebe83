"""The history with real processes, a real SQLite file and a real Mosquitto.

The questions, written down before the day was scripted (the day: three cameras, front_door,
backyard and garage, today in UTC; the times below are UTC and the CLI runs with TZ=UTC):

  1. When did the dog last go out?
     `--kind dog --event left --last`: the 16:42 one, "The dog last went out at 16:42 at the back
     door."
  2. How many parcels were delivered today?
     `--event box_left --since today`: 2 (11:02, 08:06), "A parcel was delivered 2 times; the
     last time at 11:02 at the front door."
  3. Was the parcel picked up?
     `--event box_taken --last`: yes, at 18:10, "A parcel was last taken at 18:10 at the front
     door."
  4. Who came to the front door this afternoon?
     `--event arrived --kind person --camera front_door --since <today>T12:00`: 3 visitors
     (17:30, 14:20, 13:00), "Someone arrived 3 times; the last time at 17:30 at the front door."
  5. When did a camera last say "dog ... backyard"?
     `dog backyard --camera backyard --last` (the caption text): 16:40, 'The last matching
     caption was at 16:40 in the backyard: "a dog in the backyard".'

The summary by hand: parcels: 2 delivered, 1 taken (18:10); people arriving at the front door:
08:05, 11:00, 13:00, 14:20, 17:30 = 5; the dog went out 09:30, 12:15, 16:42 = 3; 1 passer-by
(15:00); no person at all in the backyard (a dog only) nor in the garage (empty captions).
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edge_captioner.config.parse import parse_document
from edge_captioner.history import service as history_service
from edge_captioner.history.service import HistoryService
from edge_captioner.history.store import HistoryStore
from support.daemons import (
    CAMERA,
    STARTUP_S,
    captions,
    child_env,
    cli,
    wait_captions,
    wait_until,
    write_config,
)
from support.mosquitto import MQTTCollector, publish
from support.paths import REPO

DAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
CAMERAS = ("front_door", "backyard", "garage")

QUESTIONS = [  # (CLI arguments, MQTT request, ids or seqs expected newest first, total, answer)
    (["--kind", "dog", "--event", "left", "--last"],
     {"kind": "dog", "event": "left", "last": True},
     ["dog-3"], 3, "The dog last went out at 16:42 at the back door."),
    (["--event", "box_left", "--since", "today"],
     {"event": "box_left", "since": "today"},
     ["parcel-2", "parcel-1"], 2,
     "A parcel was delivered 2 times; the last time at 11:02 at the front door."),
    (["--event", "box_taken", "--last"], {"event": "box_taken", "last": True},
     ["taken-1"], 1, "A parcel was last taken at 18:10 at the front door."),
    (["--event", "arrived", "--kind", "person", "--camera", "front_door", "--since",
      (DAY + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M")],
     {"event": "arrived", "kind": ["person"], "camera": "front_door",
      "since": (DAY + timedelta(hours=12)).strftime("%Y-%m-%dT%H:%M")},
     ["visit-5", "visit-4", "visit-3"], 3,
     "Someone arrived 3 times; the last time at 17:30 at the front door."),
    (["dog", "backyard", "--camera", "backyard", "--last"],
     {"text": "dog backyard", "camera": "backyard", "last": True},
     [3], 3, 'The last matching caption was at 16:40 in the backyard: "a dog in the backyard".'),
]
SUMMARY = ("Today: 2 parcels delivered (one taken at 18:10), 5 visitors at the front door, the dog "
           "went out 3 times, 1 person passed by, no one in the backyard, no one in the garage.")


def at(hhmm: str) -> datetime:
    hours, minutes = map(int, hhmm.split(":"))
    return DAY + timedelta(hours=hours, minutes=minutes)


def event(event_id: str, kind: str, start: str, objects: tuple, camera: str = "front_door",
          zone: str | None = "front_door", minutes: float | None = 2.0) -> list[dict]:
    """The start message and (unless ongoing) the end message of one event, as issue 30 sends."""
    begin = at(start)
    first = {"id": event_id, "type": kind, "phase": "start", "camera": camera, "zone": zone,
             "start": begin.isoformat(), "end": None, "duration_s": None,
             "objects": [{"kind": k, "track": i} for i, k in enumerate(objects)],
             "snapshot": None, "sentence": f"{kind} {' '.join(objects)}", "language": "en",
             "model": "m"}
    if minutes is None:
        return [first]
    end = begin + timedelta(minutes=minutes)
    return [first, {**first, "phase": "end", "end": end.isoformat(), "duration_s": minutes * 60}]


def caption(camera: str, hhmm: str, seq: int, text: str, kinds: dict) -> dict:
    return {"camera": camera, "caption": text, "confidence": 0.9, "language": "en",
            "timestamp": at(hhmm).isoformat(timespec="milliseconds"), "model": "m",
            "latency_ms": 40.0, "seq": seq,
            "found": {"kinds": kinds, "postures": [], "place": None, "objects": []}}


def script_day(store: HistoryStore) -> None:
    messages = (
        event("visit-1", "arrived", "08:05", ("person",))
        + event("parcel-1", "box_left", "08:06", ("box", "person"))
        + event("leave-1", "left", "08:10", ("person",))
        + event("dog-1", "left", "09:30", ("dog",), "backyard", "back_door")
        + event("visit-2", "arrived", "11:00", ("person",))
        + event("parcel-2", "box_left", "11:02", ("box", "person"))
        + event("dog-2", "left", "12:15", ("dog",), "backyard", "back_door")
        + event("visit-3", "arrived", "13:00", ("person",))
        + event("visit-4", "arrived", "14:20", ("person",))
        + event("passer-1", "passed_by", "15:00", ("person",), zone=None)
        + event("dog-3", "left", "16:42", ("dog",), "backyard", "back_door", minutes=1)
        + event("visit-5", "arrived", "17:30", ("person",), minutes=None)  # still there
        + event("taken-1", "box_taken", "18:10", ("box", "person")))
    for message in messages:
        assert store.record_event(message)
    captions = [
        caption("front_door", "08:05", 1, "a person at the front door", {"person": 1}),
        caption("front_door", "08:06", 2, "a person and a box at the front door",
                {"person": 1, "box": 1}),
        caption("backyard", "09:29", 1, "a dog in the backyard", {"dog": 1}),
        caption("backyard", "12:14", 2, "a dog in the backyard", {"dog": 1}),
        caption("backyard", "16:40", 3, "a dog in the backyard", {"dog": 1}),
        caption("backyard", "16:45", 4, "no one in the backyard", {}),
    ] + [caption("garage", f"{h:02d}:00", h, "no one in view", {}) for h in range(8, 21)]
    for payload in captions:
        assert store.record_caption(payload)


@pytest.fixture
def day_store(tmp_path):
    store = HistoryStore(tmp_path / "history.sqlite3")
    script_day(store)
    yield store
    store.close()


def ask_cli(store_path, args) -> dict:
    done = cli("history", "--db", store_path, "--json", *args, env=child_env(TZ="UTC"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check(reply: dict, expected_ids, total: int, sentence: str) -> None:
    ids = [r.get("id", r.get("seq")) for r in reply["results"]]
    assert ids == expected_ids, reply
    assert reply["total"] == total
    assert reply["answer"] == sentence


def test_five_questions_by_the_cli(day_store):
    for args, _request, ids, total, sentence in QUESTIONS:
        check(ask_cli(day_store.path, args), ids, total, sentence)
    # the same as a person reads it: the rows in local time, then the sentence
    done = cli("history", "--db", day_store.path, "--kind", "dog", "--event", "left", "--last",
               env=child_env(TZ="UTC"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{at('16:42'):%Y-%m-%d} 16:42:00  backyard/back_door  left  dog")
    assert lines[-1] == QUESTIONS[0][4]


@pytest.mark.parametrize("args, error", [
    (["--kind", "unicorn"], "--kind: unknown kind 'unicorn'"),
    (["--event", "exploded"], "--event: unknown event 'exploded'"),
    (["--since", "soon"], "--since: expected a time"),
    (["--since", "1h", "--until", "2h"], "--until: must be after since"),
])
def test_bad_arguments_are_one_line_and_exit_2(day_store, args, error):
    done = cli("history", "--db", day_store.path, *args)
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and error in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_missing_store_is_one_line_and_exit_2(tmp_path):
    done = cli("history", "--db", tmp_path / "nothing.sqlite3")
    assert done.returncode == 2 and "no history there" in done.stderr


# -- over MQTT ---------------------------------------------------------------------------------------
def service_for(names, port: int, store: HistoryStore, protocol: str, clock,
                member: str | None = None) -> HistoryService:
    config = parse_document({
        "device_id": names.device_id,
        "mqtt": {"host": "127.0.0.1", "port": port, "base_topic": names.base_topic,
                 "protocol": protocol, "discovery": {"prefix": names.prefix},
                 "client_id": f"{names.device_id}-{member or 'board'}"},
        "cameras": [{"name": c, "source": "sample"} for c in CAMERAS],
        "history": {"summary_at": "21:00"},
        **({"workers": {"group": names.device_id, "member_id": member}} if member else {}),
    })
    return HistoryService(config, store, "en", "default-en", "test", clock=clock, tz=UTC)


class Asker:
    """An MQTT 5 client that asks questions with a response topic and correlation data."""

    def __init__(self, port: int, reply_topic: str, protocol=mqtt.MQTTv5) -> None:
        self.replies: dict[bytes | None, dict] = {}
        self.cond = threading.Condition()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=protocol,
                                  client_id=f"asker-{uuid.uuid4().hex[:8]}")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(reply_topic, qos=1)
        time.sleep(0.3)

    def _on_message(self, client, userdata, message) -> None:
        if message.topic.endswith("/history/query"):
            return  # our own question (subscribed to the whole base)
        correlation = getattr(message.properties, "CorrelationData", None)
        with self.cond:
            self.replies[correlation or json.loads(message.payload).get("id")] = {
                "topic": message.topic, **json.loads(message.payload)}
            self.cond.notify_all()

    def ask(self, topic: str, request: dict, key, properties=None, timeout: float = 10.0) -> dict:
        self.client.publish(topic, json.dumps(request), qos=1, properties=properties)
        with self.cond:
            assert self.cond.wait_for(lambda: key in self.replies, timeout), f"no answer to {request}"
            return self.replies[key]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_five_questions_over_mqtt5_answer_as_the_cli_does(day_store, names, shared_port):
    now = at("21:00").timestamp()
    service = service_for(names, shared_port, day_store, "5", lambda: now)
    service.start()
    reply_topic = f"{names.base}/asker/replies"
    asker = Asker(shared_port, reply_topic)
    try:
        for i, (args, request, ids, total, sentence) in enumerate(QUESTIONS):
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = reply_topic
            properties.CorrelationData = f"q{i}".encode()
            reply = asker.ask(service.query_topic, request, f"q{i}".encode(), properties)
            check(reply, ids, total, sentence)
            from_cli = ask_cli(day_store.path, args)
            assert reply["results"] == from_cli["results"] and reply["answer"] == from_cli["answer"]
            assert reply["topic"] == reply_topic and reply["language"] == "en"
        # a question that cannot be asked: an error naming the field, on the same way back
        properties = Properties(PacketTypes.PUBLISH)
        properties.ResponseTopic = reply_topic
        properties.CorrelationData = b"bad"
        reply = asker.ask(service.query_topic, {"kind": "unicorn", "id": 7}, b"bad", properties)
        assert reply["error"].startswith("kind: unknown kind 'unicorn'") and reply["id"] == 7
    finally:
        asker.close()
        service.stop()


def test_in_a_pool_one_member_answers_each_question(day_store, names, shared_port, tmp_path):
    now = at("21:00").timestamp()
    other = HistoryStore(tmp_path / "other.sqlite3")
    script_day(other)  # each member keeps the pool's history
    members = [service_for(names, shared_port, store, "5", lambda: now, member)
               for store, member in ((day_store, "a"), (other, "b"))]
    for member in members:
        member.start()
    reply_topic = f"{names.base}/asker/replies"
    asker = Asker(shared_port, reply_topic)
    got = []
    asker.client.on_message = lambda client, userdata, message: got.append(message)
    try:
        time.sleep(0.5)
        for i in range(6):
            properties = Properties(PacketTypes.PUBLISH)
            properties.ResponseTopic = reply_topic
            properties.CorrelationData = f"p{i}".encode()
            asker.client.publish(members[0].query_topic, json.dumps(QUESTIONS[0][1]), qos=1,
                                 properties=properties)
        deadline = time.monotonic() + 10
        while len(got) < 6 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # room for a second answer to any of them
    finally:
        asker.close()
        for member in members:
            member.stop()
    correlations = sorted(m.properties.CorrelationData for m in got)
    assert correlations == [f"p{i}".encode() for i in range(6)]  # each answered once
    assert {json.loads(m.payload)["answer"] for m in got} == {QUESTIONS[0][4]}


def test_mqtt_311_answers_to_reply_to_or_the_answer_topic(day_store, names, shared_port):
    now = at("21:00").timestamp()
    service = service_for(names, shared_port, day_store, "3.1.1", lambda: now)
    service.start()
    asker = Asker(shared_port, f"{names.base}/#", protocol=mqtt.MQTTv311)
    try:
        args, request, ids, total, sentence = QUESTIONS[0]
        reply = asker.ask(service.query_topic, {**request, "id": "a1",
                                                "reply_to": f"{names.base}/mine"}, "a1")
        assert reply["topic"] == f"{names.base}/mine"
        check(reply, ids, total, sentence)
        reply = asker.ask(service.query_topic, {**request, "id": "a2"}, "a2")
        assert reply["topic"] == f"{names.base}/history/answer"
        check(reply, ids, total, sentence)
    finally:
        asker.close()
        service.stop()


def test_the_daily_summary_at_its_time_retained_with_its_sensor(day_store, names, shared_port,
                                                                monkeypatch):
    monkeypatch.setattr(history_service, "SUMMARY_CHECK_S", 0.05)
    now = {"t": at("20:59").timestamp()}
    service = service_for(names, shared_port, day_store, "5", lambda: now["t"])
    with MQTTCollector(shared_port, [f"{names.base}/summary",
                                     f"{names.prefix}/sensor/{names.device_id}/summary/config"]) as sub:
        service.start()
        try:
            time.sleep(0.5)
            assert not sub.on(f"{names.base}/summary")  # not before 21:00
            now["t"] = at("21:00").timestamp() + 1
            sub.wait_for(lambda m: m.topic == f"{names.base}/summary", timeout=5)
        finally:
            service.stop()
    summary = json.loads(sub.on(f"{names.base}/summary")[0].payload)
    assert summary["summary"] == SUMMARY
    assert summary["date"] == DAY.date().isoformat()
    assert summary["parcels"] == {"delivered": 2, "taken": 1}
    assert summary["visitors"] == {"front_door": 5} and summary["went_out"] == {"dog": 1 * 3}
    assert summary["quiet"] == ["backyard", "garage"]
    config = json.loads(sub.on(f"{names.prefix}/sensor/{names.device_id}/summary/config")[0].payload)
    assert config["state_topic"] == f"{names.base}/summary"
    assert config["unique_id"] == f"{names.device_id}_summary"
    # retained: what Home Assistant reads when it starts later
    with MQTTCollector(shared_port, [f"{names.base}/summary"]) as late:
        late.wait_for(lambda m: m.retain, timeout=5)
    assert json.loads(late.messages[0].payload)["summary"] == SUMMARY


# -- kill -9 ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sync", ["normal", "full"])
def test_every_acknowledged_caption_survives_kill_9_once(tmp_path, sync):
    path = tmp_path / "history.sqlite3"
    writer = [sys.executable, str(REPO / "tests" / "support" / "history_writer.py"), str(path)]
    proc = subprocess.Popen(writer + ["100000", sync], stdout=subprocess.PIPE, text=True,
                            env=child_env(), cwd=REPO)
    acked = []
    for line in proc.stdout:
        acked.append(int(line.split()[1]))
        if len(acked) >= 400:
            break
    os.kill(proc.pid, signal.SIGKILL)  # in the middle of the burst
    proc.wait(10)
    acked += [int(line.split()[1]) for line in proc.stdout.read().splitlines() if line.startswith("ack")]
    assert proc.returncode == -signal.SIGKILL and acked[-1] < 100000

    store = HistoryStore(path)  # reopened as the next run does: whole, nothing moved aside
    assert not list(tmp_path.glob("*.corrupt-*"))
    stored = [r[0] for r in store.conn.execute("SELECT seq FROM captions ORDER BY seq")]
    assert set(acked) <= set(stored)  # every acknowledged caption is there
    assert len(stored) == len(set(stored))  # none twice
    assert stored == list(range(1, len(stored) + 1))
    assert len(stored) - len(acked) <= 1  # at most the one recorded, not yet handed on
    store.close()

    # the next run records the same captions again (same timestamps): still once each
    again = subprocess.run(writer + [str(len(stored) + 50), sync], capture_output=True, text=True,
                           env=child_env(), cwd=REPO, timeout=120)
    assert again.returncode == 0, again.stderr
    store = HistoryStore(path)
    rows = store.conn.execute("SELECT count(*), count(DISTINCT seq) FROM captions").fetchone()
    assert rows == (len(stored) + 50, len(stored) + 50)
    print(f"sync={sync}: {len(acked)} acknowledged before SIGKILL, {len(stored)} stored")


def test_the_daemon_records_what_it_publishes_and_survives_a_damaged_store_and_kill_9(
        names, tmp_path, run_daemon, shared_port):
    """The real daemon on the sample clip: a garbage history file is moved aside at start (one
    warning) and captioning goes on; every caption the broker delivered before a SIGKILL is in
    the history, once; the next run keeps the store."""
    state = tmp_path / "state"
    state.mkdir()
    (state / "history.sqlite3").write_bytes(b"garbage, not SQLite " * 200)
    config = write_config(tmp_path / "config.yaml", names, "default-en", shared_port,
                          mqtt={"retain": False}, source="sample", interval_s=0.3, heartbeat_s=0.6)
    with MQTTCollector(shared_port, [names.topic("caption")]) as sub:
        daemon = run_daemon(config, STATE_DIRECTORY=str(state))
        wait_captions(sub, names, 8, STARTUP_S + 30, daemon)
        daemon.kill()  # SIGKILL
        time.sleep(0.5)
        delivered = captions(sub, names)
    log = daemon.log()
    assert log.count("is damaged") == 1 and "moved aside" in log
    assert len(list(state.glob("history.sqlite3.corrupt-*"))) == 1

    store = HistoryStore(state / "history.sqlite3")
    rows = store.conn.execute(
        "SELECT c.seq, c.ts, t.text FROM captions c JOIN texts t ON t.id = c.text_id").fetchall()
    stored = {(seq, round(ts, 3)): text for seq, ts, text in rows}
    assert len(stored) == len(rows)  # none twice
    for payload in delivered:
        key = (payload["seq"], round(datetime.fromisoformat(payload["timestamp"]).timestamp(), 3))
        assert stored.get(key) == payload["caption"], payload
    assert len(rows) >= len(delivered)
    store.close()
    done = cli("history", "--db", state / "history.sqlite3", "--camera", CAMERA, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["total"] == len(rows)


def test_a_pool_member_records_the_other_members_captions(names, tmp_path, run_daemon, shared_port):
    """In a pool a member's history holds the captions other members publish for the pool's
    cameras (it follows their caption topics already), as well as its own, each once."""
    config = write_config(tmp_path / "config.yaml", names, "default-en", shared_port,
                          mqtt={"retain": False, "protocol": "5"}, source="sample", interval_s=0.5,
                          heartbeat_s=1.0)
    document = yaml.safe_load(config.read_text())
    document["workers"] = {"group": names.device_id, "member_id": "w1"}
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    state = tmp_path / "state"
    path = state / "history.sqlite3"

    def stored(seq: int) -> bool:
        if not path.exists():
            return False
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
        try:
            return conn.execute("SELECT count(*) FROM captions WHERE seq = ?", (seq,)).fetchone()[0] == 1
        finally:
            conn.close()

    with MQTTCollector(shared_port, [names.topic("caption")]) as sub:
        daemon = run_daemon(config, STATE_DIRECTORY=str(state))
        wait_captions(sub, names, 2, STARTUP_S + 30, daemon)
        other = {"camera": CAMERA, "caption": "a dog in the backyard", "confidence": 0.8,
                 "language": "en", "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
                 "model": "default-en", "latency_ms": 50.0, "seq": 100_000, "worker": "w2",
                 "found": {"kinds": {"dog": 1}, "postures": [], "place": None, "objects": []}}
        publish(shared_port, names.topic("caption"), json.dumps(other))
        wait_until(lambda: stored(100_000), 15, "the other member's caption in the history", daemon)
        daemon.kill()
        delivered = captions(sub, names)
    store = HistoryStore(path)
    rows = store.conn.execute("SELECT seq, count(*) FROM captions GROUP BY camera, ts, seq").fetchall()
    store.close()
    assert all(n == 1 for _, n in rows)
    assert {p["seq"] for p in delivered} <= {seq for seq, _ in rows}  # its own and the other's
    assert 100_000 in {seq for seq, _ in rows}
