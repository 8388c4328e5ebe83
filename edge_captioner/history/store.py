"""`HistoryStore`: the board's captions and events in SQLite (schema.py), written on the camera
threads as they publish.

Recording is a short synchronous transaction (benchmarks/history_bench.py measures it), taken
before the caption is handed to MQTT: whatever the broker acknowledged is already in the store,
and with WAL a committed transaction survives a SIGKILL whatever the sync policy. What may take
longer is left to a maintenance thread: the WAL checkpoint (every CHECKPOINT_EVERY_S, between two
captions; SQLite's automatic checkpoint, which would run inside whichever commit fills the WAL,
is off) and retention (hourly). The sync policy (`history.sync`) decides what
a power cut may lose:
  normal  synchronous=NORMAL: no fsync per caption; the WAL is synced at each checkpoint, so a
          power cut may lose the captions of the last CHECKPOINT_EVERY_S, never the file's
          consistency
  full    synchronous=FULL: an fsync per caption; a power cut loses nothing recorded
Recording is idempotent: a caption is keyed by (camera, timestamp, seq), an event by its id (its
end message completes the start's row), so a caption recorded twice is stored once.

Recording never raises into the caption loop: an SQLite or disk error (`database or disk is
full`) gives one WARNING, the caption goes on to MQTT unrecorded (counted), and the next one is
tried again; "recording again" is logged when one succeeds.

Retention (at open, then hourly, on the maintenance thread): rows older than `keep_days` go,
with their snapshots; then, while the store and the snapshots together exceed `max_mb`, the
oldest snapshots go first, then the oldest 5 % of the rows at a time. Freed pages are given back
to the file system (auto_vacuum=INCREMENTAL).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from . import schema
from .paths import snapshot_directory

log = logging.getLogger(__name__)

PRUNE_EVERY_S = 3600.0
CHECKPOINT_EVERY_S = 30.0
PRUNE_SHARE = 0.05  # of the rows, deleted at a time while over max_mb
DAY_S = 86400.0
SAFE_ID = re.compile(r"[^A-Za-z0-9_.-]")


def unix_time(iso: object) -> float | None:
    """An ISO 8601 time of a payload as Unix seconds; None when missing or not a time."""
    if not isinstance(iso, str):
        return None
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.timestamp() if when.tzinfo is not None else None


def facts_json(found: object) -> str | None:
    """What a caption's `found` says, without the per-detection list (large, and not asked)."""
    if not isinstance(found, dict):
        return None
    kept = {key: found.get(key) for key in ("kinds", "postures", "place")}
    return json.dumps(kept, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def event_kinds(objects: object) -> str:
    """' dog person ': the kinds of an event's objects, spaced for an exact word match."""
    kinds = sorted({str(o.get("kind")) for o in objects or [] if isinstance(o, dict) and o.get("kind")})
    return f" {' '.join(kinds)} " if kinds else " "


@dataclass
class Limits:
    keep_days: int = 365
    max_mb: int = 200
    snapshots: bool = True


@dataclass
class RecordStats:
    captions: int = 0
    events: int = 0
    dropped: int = 0  # not recorded: a disk or database error
    pruned: int = 0
    failing: bool = field(default=False, repr=False)


class HistoryStore:
    """Thread-safe: the camera threads record through one connection under a lock."""

    def __init__(self, path: Path, *, sync: str = "normal", limits: Limits | None = None,
                 clock: Callable[[], float] = time.time, maintenance: bool = True) -> None:
        self.path = Path(path)
        self.sync = sync
        self.limits = limits or Limits()
        self.clock = clock
        self.snapshots = snapshot_directory(self.path)
        self.stats = RecordStats()
        self._lock = threading.Lock()
        self.conn, self.text_index = schema.open_store(self.path, sync)
        self._texts: dict[tuple[str, str], int] = {}
        self._facts: dict[str, int] = {}
        self._last_prune = -float("inf")
        self.closed = False  # at a stop: what still arrives (a pool's captions) is not recorded
        self.conn.execute("PRAGMA wal_autocheckpoint=0")  # the maintenance thread's job
        self.prune()
        self._stop = threading.Event()
        self._maintenance: threading.Thread | None = None
        if maintenance:
            self._maintenance = threading.Thread(target=self._maintain, name="history-maintenance",
                                                 daemon=True)
            self._maintenance.start()

    # -- recording ----------------------------------------------------------------------------------
    def record_caption(self, payload: dict) -> bool:
        """Record a published caption (its MQTT payload); False when it could not be (logged)."""
        ts = unix_time(payload.get("timestamp"))
        if ts is None or not payload.get("camera") or not isinstance(payload.get("seq"), int):
            log.warning("history: caption without camera, timestamp or seq not recorded")
            return False
        with self._lock:
            if self.closed:
                return False
            done = self._write(lambda: self._insert_caption(payload, ts))
            if done:
                self.stats.captions += 1
        return done

    def record_event(self, payload: dict, snapshot: bytes | None = None) -> bool:
        """Record an event message (start or end: the same id is one row); its snapshot, if any,
        as a JPEG file."""
        start = unix_time(payload.get("start"))
        if start is None or not payload.get("id") or not payload.get("type") \
                or not payload.get("camera"):
            log.warning("history: event without id, type, camera or start not recorded")
            return False
        picture = self._save_snapshot(str(payload["id"]), snapshot) if snapshot else None
        with self._lock:
            if self.closed:
                return False
            done = self._write(lambda: self._upsert_event(payload, start, picture))
            if done:
                self.stats.events += 1
        return done

    def _write(self, work: Callable[[], None]) -> bool:
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                work()
                self.conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self.stats.dropped += 1
            # the interned ids may belong to a rolled-back transaction
            self._texts.clear()
            self._facts.clear()
            if not self.stats.failing:
                log.warning("history: cannot record (%s); captioning goes on, unrecorded until it "
                            "can (%s)", exc, self.path)
            self.stats.failing = True
            return False
        if self.stats.failing:
            log.warning("history: recording again (%d not recorded meanwhile)", self.stats.dropped)
            self.stats.failing = False
        return True

    def _insert_caption(self, payload: dict, ts: float) -> None:
        text_id = self._intern_text(str(payload.get("caption", "")), str(payload.get("language", "")))
        found = facts_json(payload.get("found"))
        facts_id = self._intern_facts(found, payload["found"]) if found is not None else None
        confidence = payload.get("confidence")
        self.conn.execute(
            "INSERT OR IGNORE INTO captions(camera, ts, seq, text_id, facts_id, confidence) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (str(payload["camera"]), ts, payload["seq"], text_id, facts_id,
             float(confidence) if isinstance(confidence, int | float) else None))

    def _intern_text(self, text: str, language: str) -> int:
        key = (text, language)
        if key not in self._texts:
            self.conn.execute("INSERT OR IGNORE INTO texts(text, language) VALUES (?, ?)", key)
            self._texts[key] = self.conn.execute(
                "SELECT id FROM texts WHERE text=? AND language=?", key).fetchone()[0]
        return self._texts[key]

    def _intern_facts(self, found: str, raw: dict) -> int:
        if found not in self._facts:
            cur = self.conn.execute("INSERT OR IGNORE INTO facts(found) VALUES (?)", (found,))
            facts_id = self.conn.execute("SELECT id FROM facts WHERE found=?", (found,)).fetchone()[0]
            if cur.rowcount:
                kinds = raw.get("kinds") if isinstance(raw.get("kinds"), dict) else {}
                self.conn.executemany(
                    "INSERT OR IGNORE INTO fact_kinds(kind, facts_id, count) VALUES (?, ?, ?)",
                    [(str(k), facts_id, int(n)) for k, n in kinds.items()
                     if isinstance(n, int) and n > 0])
            self._facts[found] = facts_id
        return self._facts[found]

    def _upsert_event(self, payload: dict, start: float, snapshot: str | None) -> None:
        objects = payload.get("objects") if isinstance(payload.get("objects"), list) else []
        duration = payload.get("duration_s")
        self.conn.execute(
            "INSERT INTO events(id, type, camera, zone, start, end, duration_s, kinds, objects, "
            "sentence, language, model, snapshot, ended) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET end=coalesce(excluded.end, end), "
            "duration_s=coalesce(excluded.duration_s, duration_s), zone=coalesce(excluded.zone, zone), "
            "kinds=CASE WHEN excluded.kinds = ' ' THEN kinds ELSE excluded.kinds END, "
            "objects=CASE WHEN excluded.objects = '[]' THEN objects ELSE excluded.objects END, "
            "sentence=coalesce(excluded.sentence, sentence), "
            "snapshot=coalesce(excluded.snapshot, snapshot), ended=coalesce(excluded.ended, ended)",
            (str(payload["id"]), str(payload["type"]), str(payload["camera"]), payload.get("zone"),
             start, unix_time(payload.get("end")),
             float(duration) if isinstance(duration, int | float) else None,
             event_kinds(objects), json.dumps(objects, ensure_ascii=False, separators=(",", ":")),
             payload.get("sentence"), payload.get("language"), payload.get("model"), snapshot,
             # an end because the camera was lost is no departure (query.py LEFT_ROWS)
             "camera_lost" if payload.get("camera_lost") is True else None))

    def _save_snapshot(self, event_id: str, jpeg: bytes) -> str | None:
        if not self.limits.snapshots:
            return None
        path = self.snapshots / f"{SAFE_ID.sub('_', event_id)[:120]}.jpg"
        try:
            self.snapshots.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp")
            with open(temporary, "wb") as out:
                out.write(jpeg)
                if self.sync == "full":
                    out.flush()
                    os.fsync(out.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            log.warning("history: snapshot of event %s not kept: %s", event_id, exc)
            return None
        return str(path)

    # -- retention -----------------------------------------------------------------------------------
    def _maintain(self) -> None:
        while not self._stop.wait(CHECKPOINT_EVERY_S):
            with self._lock:
                if self.closed:
                    return
                try:
                    # on the writer's own connection, between two captions: a second connection
                    # checkpointing beside it was seen to hold the writer off for seconds under
                    # load. A few captions' pages: milliseconds.
                    self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:
                    log.debug("history: checkpoint failed: %s", exc)
            if self.clock() - self._last_prune >= PRUNE_EVERY_S:
                self.prune()

    def prune(self) -> int:
        """Apply keep_days and max_mb now; the number of rows deleted."""
        with self._lock:
            self._last_prune = self.clock()
            if self.closed:
                return 0
            try:
                deleted = self._prune_age() + self._prune_size()
            except (sqlite3.Error, OSError) as exc:
                log.warning("history: retention failed (%s); tried again in an hour", exc)
                return 0
            self._texts.clear()
            self._facts.clear()
            self.stats.pruned += deleted
            return deleted

    def _prune_age(self) -> int:
        cutoff = self.clock() - self.limits.keep_days * DAY_S
        return self._delete_before(cutoff)

    def _delete_before(self, cutoff: float) -> int:
        pictures = [r[0] for r in self.conn.execute(
            "SELECT snapshot FROM events WHERE coalesce(end, start) < ? AND snapshot IS NOT NULL",
            (cutoff,))]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            deleted = self.conn.execute("DELETE FROM captions WHERE ts < ?", (cutoff,)).rowcount
            deleted += self.conn.execute("DELETE FROM events WHERE coalesce(end, start) < ?",
                                         (cutoff,)).rowcount
            if deleted:
                # sentences and facts no caption uses any more
                self.conn.execute("DELETE FROM texts WHERE id NOT IN (SELECT text_id FROM captions)")
                self.conn.execute("DELETE FROM fact_kinds WHERE facts_id NOT IN "
                                  "(SELECT facts_id FROM captions WHERE facts_id IS NOT NULL)")
                self.conn.execute("DELETE FROM facts WHERE id NOT IN "
                                  "(SELECT facts_id FROM captions WHERE facts_id IS NOT NULL)")
            self.conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")
            raise
        for picture in pictures:
            with contextlib.suppress(OSError):
                os.unlink(picture)
        if deleted:
            self._give_back()
        return deleted

    def _give_back(self) -> None:
        if self.text_index != "like":
            # FTS5 keeps deleted entries until its segments are merged
            for table in ("texts_fts", "events_fts"):
                self.conn.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
        # run to the end by sqlite3_exec: Python's execute() steps it once, freeing one page
        self.conn.executescript("PRAGMA incremental_vacuum;")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def store_bytes(self) -> int:
        """The store's live pages (the file once freed pages are given back) and its WAL."""
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        wal = self.path.with_name(self.path.name + "-wal")
        return (pages - free) * size + (wal.stat().st_size if wal.exists() else 0)

    def snapshot_files(self) -> list[os.DirEntry]:
        if not self.snapshots.is_dir():
            return []
        return [e for e in os.scandir(self.snapshots) if e.is_file() and e.name.endswith(".jpg")]

    def _prune_size(self) -> int:
        bound = self.limits.max_mb * 1024 * 1024
        pictures = sorted(self.snapshot_files(), key=lambda e: e.stat().st_mtime)
        pictures_bytes = sum(e.stat().st_size for e in pictures)
        total = self.store_bytes() + pictures_bytes
        # the snapshots first: the text of a year is worth more than the pictures of a week
        while total > bound and pictures:
            oldest = pictures.pop(0)
            with contextlib.suppress(OSError):
                size = oldest.stat().st_size
                os.unlink(oldest.path)
                total -= size
                self.conn.execute("UPDATE events SET snapshot=NULL WHERE snapshot=?", (oldest.path,))
        deleted = 0
        while total > bound:
            rows = self.conn.execute("SELECT count(*) FROM captions").fetchone()[0]
            if rows == 0:
                break
            skip = max(int(rows * PRUNE_SHARE), 1) - 1
            cutoff = self.conn.execute("SELECT ts FROM captions ORDER BY ts LIMIT 1 OFFSET ?",
                                       (skip,)).fetchone()[0]
            gone = self._delete_before(cutoff + 1e-6)
            if not gone:
                break
            deleted += gone
            total = self.store_bytes() + sum(e.stat().st_size for e in self.snapshot_files())
        if deleted:
            log.info("history: %d oldest row(s) deleted to stay under history.max_mb (%d MB)",
                     deleted, self.limits.max_mb)
        return deleted

    def close(self) -> None:
        self._stop.set()
        if self._maintenance is not None and self._maintenance is not threading.current_thread():
            self._maintenance.join(5.0)
        with self._lock, contextlib.suppress(sqlite3.Error):
            if not self.closed:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self.closed = True
            self.conn.close()


def open_history(path: Path | None, *, sync: str, limits: Limits,
                 clock: Callable[[], float] = time.time) -> HistoryStore | None:
    """The store, or None (one WARNING) when it cannot be kept: captioning goes on without it."""
    if path is None:
        return None
    try:
        return HistoryStore(path, sync=sync, limits=limits, clock=clock)
    except (OSError, sqlite3.Error) as exc:
        log.warning("history: cannot keep the history in %s (%s); captioning goes on without it",
                    path, exc)
        return None
