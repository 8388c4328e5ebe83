"""The history on MQTT: questions on `<base>/history/query` answered, the daily summary published
on `<base>/summary` (retained) with its Home Assistant sensor (docs/contract.md "MQTT").

A question is a JSON object with the fields of `edge-captioner history` (query.py: text, kind,
event, camera, since, until, last, limit), and optionally `id` (echoed in the answer). The answer
goes, QoS 1, not retained:
  MQTT 5     to the request's Response Topic, with its Correlation Data
  otherwise  to the request's `reply_to` field, else to `<base>/history/answer`
It is JSON: `id`, `query`, `total`, `results`, `answer` (one sentence in the bundle's language), or
`id` and `error` (one line naming the field) for a question that cannot be asked.

The service has its own MQTT connection (client id `<client_id>-history`): an answer must carry
MQTT 5 properties per message and must never wait behind the caption outbox, and the folder stays
removable. Questions are answered on a thread of their own, never in paho's callback, with a
read connection of their own (WAL: readers never block the recording camera threads).
"""

from __future__ import annotations

import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..mqtt import topics
from ..mqtt.client import connect_async, make_client
from ..mqtt.commands import MAX_COMMAND_BYTES
from ..mqtt.discovery import summary_discovery
from . import schema
from .answer import answer_sentence
from .paths import history_path
from .query import QueryError, day_rows, parse_query, run_query
from .store import HistoryStore, Limits, open_history
from .summary import Day, day_start, summarize

if TYPE_CHECKING:
    from ..config import Config

log = logging.getLogger(__name__)

MAX_QUESTION_BYTES = MAX_COMMAND_BYTES
SUMMARY_CHECK_S = 30.0  # how often the summary thread looks at the clock (a clock that jumps)


def next_summary(now: float, at: str, tz: tzinfo | None) -> float:
    """The next time (Unix seconds) the local clock reads `at` ("21:00") after `now`."""
    hours, minutes = (int(x) for x in at.split(":"))
    local = datetime.fromtimestamp(now, tz)
    when = local.replace(hour=hours, minute=minutes, second=0, microsecond=0)
    if when.timestamp() <= now:
        when = (local + timedelta(days=1)).replace(hour=hours, minute=minutes, second=0,
                                                    microsecond=0)
    return when.timestamp()


def answer_question(conn: sqlite3.Connection, payload: bytes, now: float, tz: tzinfo | None,
                    language: str) -> dict:
    """The answer to one request payload (pure but for the read connection)."""
    try:
        request = json.loads(payload)
    except ValueError:
        return {"id": None, "error": "not JSON: expected an object such as "
                                     '{"kind": "dog", "event": "left", "last": true}'}
    if not isinstance(request, dict):
        return {"id": None, "error": "expected a JSON object"}
    reply = {"id": request.get("id")}
    try:
        query = parse_query(request, now, tz)
    except QueryError as exc:
        return {**reply, "error": str(exc)}
    answer = run_query(conn, query, schema.text_index(conn))
    return {**reply, "query": query.to_json(), "total": answer.total,
            "results": [{k: v for k, v in row.items() if k != "ts"} for row in answer.rows],
            "answer": answer_sentence(answer, now, tz, language), "language": language}


class HistoryService:
    """The store, and the MQTT side of it; `start` and `stop` with the daemon."""

    def __init__(self, config: Config, store: HistoryStore, language: str, model_name: str,
                 sw_version: str, *, clock: Callable[[], float] = time.time,
                 tz: tzinfo | None = None) -> None:
        self.config = config
        self.store = store
        self.language = language
        self.clock = clock
        self.tz = tz
        self.base = topics.device_base(config.mqtt.base_topic, config.device_id)
        self.query_topic = topics.history_query_topic(self.base)
        self.ha_status_topic = topics.ha_status_topic(config.mqtt.discovery.prefix)
        discovery = config.mqtt.discovery
        self.discovery = summary_discovery(
            config.device_id, self.base, model_name, sw_version, discovery.prefix,
            discovery.enabled and config.history.summary_at is not None)
        self.client = make_client(config.mqtt, f"{config.mqtt.client_id or config.device_id}-history",
                                  log)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self._questions: queue.SimpleQueue = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._readers = threading.local()  # one read connection per thread (questions, summary)

    @classmethod
    def for_daemon(cls, config: Config, language: str, model_name: str,
                   sw_version: str) -> HistoryService | None:
        """The daemon's history, or None when it is off or cannot be kept (one log line)."""
        settings = config.history
        if not settings.enabled:
            return None
        path = history_path(settings.path, config.mqtt.spool_dir)
        if path is None:
            log.info("history: off (no state directory: set history.path or mqtt.spool_dir, or run "
                     "as the service, whose StateDirectory= keeps it)")
            return None
        store = open_history(path, sync=settings.sync, limits=Limits(
            settings.keep_days, settings.max_mb, settings.snapshots))
        if store is None:
            return None
        log.info("history: %s (text search: %s)", path, store.text_index)
        return cls(config, store, language, model_name, sw_version)

    # -- life ------------------------------------------------------------------------------------
    def start(self) -> None:
        for target, name in ((self._answer_loop, "history-questions"),
                             (self._summary_loop, "history-summary")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        connect_async(self.client, self.config.mqtt)
        self.client.loop_start()

    def stop(self) -> None:
        self._stop.set()
        self._questions.put(None)
        for thread in self._threads:
            thread.join(2.0)
        self.client.disconnect()
        self.client.loop_stop()
        self.store.close()

    # -- MQTT (paho's network thread: nothing slow here) -------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("history: the broker refused the history connection: %s", reason_code)
            return
        client.subscribe([(self._query_filter(), 1), (self.ha_status_topic, 1)])
        topic, payload = self.discovery
        client.publish(topic, payload, qos=1, retain=True)

    def _query_filter(self) -> str:
        """In a pool every member keeps the pool's history: a shared subscription lets one of them
        answer each question (MQTT 5, which a pool needs anyway)."""
        workers = self.config.workers
        if workers is None:
            return self.query_topic
        return f"$share/{workers.group}-history/{self.query_topic}"

    def _on_message(self, client, userdata, message) -> None:
        if message.topic == self.ha_status_topic:
            if bytes(message.payload).strip() == b"online":
                client.publish(*self.discovery, qos=1, retain=True)
            return
        if message.retain or not message.payload:
            return  # a retained question would be answered again at every reconnect
        if len(message.payload) > MAX_QUESTION_BYTES:
            log.warning("history: question over %d bytes ignored", MAX_QUESTION_BYTES)
            return
        self._questions.put((bytes(message.payload), getattr(message, "properties", None)))

    # -- answering ------------------------------------------------------------------------------
    def _answer_loop(self) -> None:
        while (item := self._questions.get()) is not None:
            payload, properties = item
            try:
                self.answer(payload, properties)
            except Exception:  # noqa: BLE001 - one bad question must not end the service
                log.exception("history: answering a question failed")

    def _read(self) -> sqlite3.Connection:
        conn = getattr(self._readers, "conn", None)
        if conn is None:
            conn = self._readers.conn = schema.connect(self.store.path, read_only=True)
        return conn

    def answer(self, payload: bytes, properties: Properties | None) -> None:
        reply = answer_question(self._read(), payload, self.clock(), self.tz, self.language)
        response_topic = getattr(properties, "ResponseTopic", None) if properties else None
        out = None
        if response_topic and topics.valid_reply_topic(response_topic):
            topic = response_topic
            correlation = getattr(properties, "CorrelationData", None)
            if correlation is not None:
                out = Properties(PacketTypes.PUBLISH)
                out.CorrelationData = correlation
        else:
            try:
                asked = json.loads(payload)
            except ValueError:
                asked = None
            wanted = asked.get("reply_to") if isinstance(asked, dict) else None
            topic = wanted if topics.valid_reply_topic(wanted) else topics.history_answer_topic(self.base)
        if "error" in reply:
            log.info("history: question refused: %s", reply["error"])
        self.client.publish(topic, topics.json_bytes(reply), qos=1, retain=False, properties=out)

    # -- the daily summary ---------------------------------------------------------------------------
    def summary(self, now: float) -> dict:
        """The summary of the day up to `now` (local midnight onwards), as published."""
        conn = self._read()
        events, seen = day_rows(conn, day_start(now, self.tz), now)
        day = Day(events, seen, tuple(c.name for c in self.config.cameras))
        result = summarize(day, now, self.tz, self.language)
        local = datetime.fromtimestamp(now, self.tz) if self.tz else datetime.fromtimestamp(now).astimezone()
        generated = local.isoformat(timespec="seconds")
        return result.payload(self.language, generated)

    def publish_summary(self, now: float | None = None) -> dict:
        payload = self.summary(self.clock() if now is None else now)
        self.client.publish(topics.summary_topic(self.base), topics.json_bytes(payload), qos=1,
                            retain=True)
        log.info("history: summary: %s", payload["summary"])
        return payload

    def _summary_loop(self) -> None:
        at = self.config.history.summary_at
        if at is None:
            return
        due = next_summary(self.clock(), at, self.tz)
        while not self._stop.wait(min(SUMMARY_CHECK_S, max(due - self.clock(), 0.05))):
            if self.clock() >= due:
                try:
                    self.publish_summary(due)
                except (sqlite3.Error, OSError) as exc:
                    log.warning("history: the summary could not be made: %s", exc)
                due = next_summary(self.clock(), at, self.tz)

