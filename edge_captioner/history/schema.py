"""The store's tables, the text index this SQLite build allows, and opening a store file (a damaged
one is moved aside and a new one begun).

Captions repeat a few sentences all day (the facts bundles say canonical sentences; a heartbeat
repeats the last one), so a caption row holds the ids of its text and of its facts, each stored
once: the text index then covers the distinct sentences only, and a year of one camera stays
small (benchmarks/history_bench.py). Times are Unix seconds (UTC), as REAL. The indexes by facts
and by text hold the camera and the time too, so that "the newest 20 captions with a dog" is
found in the index alone (query.py) rather than by reading every caption with a dog.

Text search, chosen when the store is created and kept with it (`meta.text_index`):
  trigram    FTS5's trigram tokenizer (SQLite >= 3.34): substrings, any script, so Chinese,
             which has no spaces between words, is found too; terms of 3 characters or more
  unicode61  FTS5 without trigram: whole words (English); Chinese falls back to LIKE
  like       no FTS5 in this build: LIKE over the distinct sentences
A term shorter than the index can use (a Chinese word of one or two characters: 狗, 箱子) is
searched with LIKE over the distinct sentences, which are few (query.py).
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"  # 2: events.ended (an end that was not the object's: "camera_lost")
SYNC_PRAGMAS = {"normal": "NORMAL", "full": "FULL"}
BUSY_TIMEOUT_MS = 200  # a reader never holds the writer up for long in WAL; do not wait for one

TABLES = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS texts(
    id INTEGER PRIMARY KEY, text TEXT NOT NULL, language TEXT NOT NULL, UNIQUE(text, language));
CREATE TABLE IF NOT EXISTS facts(id INTEGER PRIMARY KEY, found TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS fact_kinds(
    kind TEXT NOT NULL, facts_id INTEGER NOT NULL, count INTEGER NOT NULL,
    PRIMARY KEY(kind, facts_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS captions(
    id INTEGER PRIMARY KEY, camera TEXT NOT NULL, ts REAL NOT NULL, seq INTEGER NOT NULL,
    text_id INTEGER NOT NULL, facts_id INTEGER, confidence REAL,
    UNIQUE(camera, ts, seq));
CREATE INDEX IF NOT EXISTS captions_ts ON captions(ts);
CREATE INDEX IF NOT EXISTS captions_facts ON captions(facts_id, camera, ts);
CREATE INDEX IF NOT EXISTS captions_text ON captions(text_id, camera, ts);
CREATE TABLE IF NOT EXISTS events(
    id TEXT PRIMARY KEY, type TEXT NOT NULL, camera TEXT NOT NULL, zone TEXT,
    start REAL NOT NULL, end REAL, duration_s REAL, kinds TEXT NOT NULL, objects TEXT NOT NULL,
    sentence TEXT, language TEXT, model TEXT, snapshot TEXT, ended TEXT);
CREATE INDEX IF NOT EXISTS events_start ON events(start);
CREATE INDEX IF NOT EXISTS events_type ON events(type, start);
"""

# the text indexes follow their tables through triggers (FTS5 external content)
FTS = """
CREATE VIRTUAL TABLE IF NOT EXISTS texts_fts USING fts5(
    text, content='texts', content_rowid='id'{tokenize});
CREATE TRIGGER IF NOT EXISTS texts_ai AFTER INSERT ON texts BEGIN
    INSERT INTO texts_fts(rowid, text) VALUES (new.id, new.text); END;
CREATE TRIGGER IF NOT EXISTS texts_ad AFTER DELETE ON texts BEGIN
    INSERT INTO texts_fts(texts_fts, rowid, text) VALUES ('delete', old.id, old.text); END;
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(
    sentence, content='events', content_rowid='rowid'{tokenize});
CREATE TRIGGER IF NOT EXISTS events_ai AFTER INSERT ON events BEGIN
    INSERT INTO events_fts(rowid, sentence) VALUES (new.rowid, coalesce(new.sentence, '')); END;
CREATE TRIGGER IF NOT EXISTS events_ad AFTER DELETE ON events BEGIN
    INSERT INTO events_fts(events_fts, rowid, sentence)
    VALUES ('delete', old.rowid, coalesce(old.sentence, '')); END;
CREATE TRIGGER IF NOT EXISTS events_au AFTER UPDATE OF sentence ON events BEGIN
    INSERT INTO events_fts(events_fts, rowid, sentence)
    VALUES ('delete', old.rowid, coalesce(old.sentence, ''));
    INSERT INTO events_fts(rowid, sentence) VALUES (new.rowid, coalesce(new.sentence, '')); END;
"""


class Damaged(Exception):
    """The file is not a healthy store."""


def best_text_index() -> str:
    """trigram, unicode61 or like: the best text index this Python's SQLite can build."""
    probe = sqlite3.connect(":memory:")
    try:
        for name, tokenize in (("trigram", ", tokenize='trigram'"), ("unicode61", "")):
            try:
                probe.execute(f"CREATE VIRTUAL TABLE t_{name} USING fts5(x{tokenize})")
                return name
            except sqlite3.OperationalError:
                continue
        return "like"
    finally:
        probe.close()


def connect(path: Path | str, *, sync: str = "normal", read_only: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (transactions are explicit), WAL, the sync policy's
    `synchronous`. Read-only connections see the writer's committed rows (WAL)."""
    if read_only:
        conn = sqlite3.connect(f"{Path(path).absolute().as_uri()}?mode=ro", uri=True,
                               isolation_level=None, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    if not read_only:
        # before WAL, whose switch writes the header of a new file: freed pages can then be given
        # back (retention shrinks the file); a no-op on an existing store
        conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={SYNC_PRAGMAS[sync]}")
    return conn


def text_index(conn: sqlite3.Connection) -> str:
    row = conn.execute("SELECT value FROM meta WHERE key='text_index'").fetchone()
    return row[0] if row else "like"


def create(conn: sqlite3.Connection) -> str:
    """Make the tables if missing; the store's text index (kept from its creation)."""
    conn.executescript("BEGIN;" + TABLES + "COMMIT;")
    row = conn.execute("SELECT value FROM meta WHERE key='text_index'").fetchone()
    if row is not None:
        upgrade(conn)
        return row[0]
    index = best_text_index()
    tokenize = {"trigram": ", tokenize='trigram'", "unicode61": ""}.get(index)
    script = "BEGIN;"
    if tokenize is not None:
        script += FTS.format(tokenize=tokenize)
    script += (f"INSERT INTO meta VALUES ('schema', '{SCHEMA_VERSION}');"
               f"INSERT INTO meta VALUES ('text_index', '{index}'); COMMIT;")
    conn.executescript(script)
    return index


def upgrade(conn: sqlite3.Connection) -> None:
    """A store an earlier version made, brought to SCHEMA_VERSION in place (its rows kept)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(events)")}
    if "ended" not in columns:
        conn.executescript("BEGIN; ALTER TABLE events ADD COLUMN ended TEXT; COMMIT;")
    conn.execute("UPDATE meta SET value = ? WHERE key = 'schema' AND value != ?",
                 (SCHEMA_VERSION, SCHEMA_VERSION))


def check(conn: sqlite3.Connection) -> None:
    """Damaged unless SQLite's quick_check finds the file whole."""
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise Damaged(str(exc)) from None
    if [r[0] for r in rows] != ["ok"]:
        raise Damaged("; ".join(str(r[0]) for r in rows[:3]))


def move_aside(path: Path, why: str, now: float | None = None) -> Path:
    """Rename a damaged store (and its WAL) out of the way; the name says when."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    path.rename(aside)
    wal, shm = path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")
    if wal.exists():  # its transactions belong to the damaged file
        wal.rename(aside.with_name(aside.name + "-wal"))
    shm.unlink(missing_ok=True)  # an index of that WAL, rebuilt by SQLite
    log.warning("history: %s is damaged (%s); moved aside to %s and a new store begun", path, why,
                aside.name)
    return aside


def open_store(path: Path, sync: str) -> tuple[sqlite3.Connection, str]:
    """(connection, text index) of the store at `path`, made if missing; a damaged file is moved
    aside (one warning) and a new store begun. OSError / sqlite3.Error when even a new one cannot
    be made (a full or read-only disk)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists() and path.stat().st_size > 0:
        conn = None
        try:
            conn = connect(path, sync=sync)
            check(conn)
            return conn, create(conn)
        except (Damaged, sqlite3.DatabaseError) as exc:
            if conn is not None:
                conn.close()
            if isinstance(exc, sqlite3.OperationalError) and _disk_trouble(exc):
                raise
            move_aside(path, str(exc))
    conn = connect(path, sync=sync)
    return conn, create(conn)


def _disk_trouble(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return any(words in text for words in ("disk is full", "disk i/o", "readonly", "unable to open"))
