"""`edge-captioner history`: ask the board's history from a terminal (docs/history.md).

One line per match, newest first, in local time, then the sentence that answers:

    2026-12-05 16:42:07  back_door  left  dog  (60 s)  the dog went out through the back door
    The dog last went out at 16:42 at the back door.

With --json one object: the question, the rows (times in UTC), the total and the sentence, as
the MQTT answer gives them. A wrong option is one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path

from ..errors import BadInput
from ..history import schema
from ..history.answer import answer_sentence
from ..history.paths import history_path
from ..history.query import QueryError, parse_query, run_query

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def _clean(value: object) -> str:
    """One line of printable text (as `watch` prints): a stored sentence or camera name cannot
    break the one-line-per-match output or send escape sequences to the terminal."""
    text = " ".join(str(value).split())
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def cmd_history(args: argparse.Namespace) -> int:
    path = _store_path(args)
    fields = {"text": " ".join(args.text) or None, "kind": args.kind or [], "event": args.event,
              "camera": args.camera, "since": args.since, "until": args.until, "last": args.last,
              "limit": args.limit}
    now = time.time()
    try:
        query = parse_query(fields, now)
    except QueryError as exc:
        raise BadInput(f"--{exc}") from None
    conn = open_reader(path)
    try:
        answer = run_query(conn, query, schema.text_index(conn))
        language = store_language(conn)
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"{path}: cannot read the history ({exc})") from None
    finally:
        conn.close()
    sentence = answer_sentence(answer, now, None, language)
    if args.json:
        print(json.dumps(answer_json(answer, sentence), ensure_ascii=False))
        return 0
    for row in answer.rows:
        print(format_row(row))
    print(sentence)
    return 0


def _store_path(args: argparse.Namespace) -> Path:
    if args.db:
        return Path(args.db)
    from .support import chosen_config

    config = chosen_config(args)
    path = history_path(config.history.path, config.mqtt.spool_dir, console=True)
    assert path is not None  # console=True: the service's state directory at least
    return path


def open_reader(path: Path) -> sqlite3.Connection:
    try:
        present = path.is_file()
    except OSError as exc:  # the service's state directory is private to its user
        raise BadInput(f"{path}: {exc.strerror or exc} (run as the service's user, e.g. sudo -u "
                       "edge-captioner)") from None
    if not present:
        raise BadInput(f"{path}: no history there (is the daemon running with history enabled? "
                       "--db FILE names the store)")
    try:
        conn = schema.connect(path, read_only=True)
        conn.execute("SELECT 1 FROM captions LIMIT 1").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BadInput(f"{path}: cannot read the history ({exc}; run as the service's user, "
                       "e.g. sudo -u edge-captioner)") from None
    return conn


def store_language(conn: sqlite3.Connection) -> str:
    """The language of the newest caption: the bundle's, which the answer is said in."""
    row = conn.execute("SELECT language FROM texts ORDER BY id DESC LIMIT 1").fetchone()
    return "zh" if row and row[0] == "zh" else "en"


def answer_json(answer, sentence: str) -> dict:
    rows = [{k: v for k, v in row.items() if k != "ts"} for row in answer.rows]
    return {"query": answer.query.to_json(), "total": answer.total, "results": rows,
            "answer": sentence}


def format_row(row: dict) -> str:
    when = datetime.fromtimestamp(row["ts"]).strftime(TIME_FORMAT)
    if row["what"] == "caption":
        kinds = ", ".join(f"{k} {n}" for k, n in row["kinds"].items())
        return f"{when}  {_clean(row['camera'])}  {_clean(row['caption'])}" + \
            (f"  ({_clean(kinds)})" if kinds else "")
    where = row["camera"] + (f"/{row['zone']}" if row["zone"] else "")
    took = f"  ({row['duration_s']:.0f} s)" if row["duration_s"] is not None else "  (ongoing)"
    return (f"{when}  {_clean(where)}  {row['type']}  {_clean(' '.join(row['kinds']))}{took}  "
            f"{_clean(row['sentence'] or '')}").rstrip()
