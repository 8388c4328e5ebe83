"""A question to the history and its answer rows, shared by `edge-captioner history` and
`<base>/history/query` (docs/history.md).

`parse_query` checks a question's fields once (the CLI's options and the MQTT request's JSON keys
are the same names) and raises QueryError with one line naming the field; `run_query` answers it
over a read connection. Building the SQL is pure (`caption_sql`, `event_sql`, `text_match`).

What is searched:
  without `event`  the captions: `kind` from their facts (the kinds and counts the caption states),
                   `text` in their sentence
  with `event`     the events of that type (`any`: every type): `kind` among their objects, `text`
                   in their sentence
Results are newest first; `last` keeps the newest only; `total` counts every match.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from ..scene.facts import KINDS
from ..scene.words import NOUN_EN, NOUN_ZH

EVENT_TYPES = ("arrived", "left", "passed_by", "box_left", "box_taken", "possible_fall", "lingering")
ANY_EVENT = "any"
DEFAULT_LIMIT = 20
MAX_LIMIT = 1000
MAX_TEXT_CHARS = 200
FIELDS = ("text", "kind", "event", "camera", "since", "until", "last", "limit")
DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)")
UNIT_S = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
CJK_RE = re.compile(r"[\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff]")
# every name a kind goes by: its own, the English plural, the Chinese noun (狗, 箱子)
KIND_NAMES = {**{k: k for k in KINDS}, **{NOUN_EN[k][1]: k for k in KINDS},
              **{NOUN_ZH[k][1]: k for k in KINDS}, "people": "person", "parcel": "box",
              "parcels": "box", "包裹": "box"}


class QueryError(ValueError):
    """A question that cannot be asked: one line, naming the field."""


@dataclass(frozen=True)
class Query:
    text: str | None = None
    kinds: tuple[str, ...] = ()
    event: str | None = None  # an event type, ANY_EVENT, or None: the captions
    camera: str | None = None
    since: float | None = None  # Unix seconds
    until: float | None = None
    last: bool = False
    limit: int = DEFAULT_LIMIT

    def to_json(self) -> dict:
        return {"text": self.text, "kind": list(self.kinds), "event": self.event,
                "camera": self.camera, "since": iso(self.since), "until": iso(self.until),
                "last": self.last, "limit": self.limit}


@dataclass
class Answer:
    query: Query
    rows: list[dict] = field(default_factory=list)
    total: int = 0


def iso(when: float | None) -> str | None:
    return None if when is None else _utc_iso(when)


def _utc_iso(when: float) -> str:
    return datetime.fromtimestamp(when, UTC).isoformat(timespec="milliseconds")


# -- checking a question ------------------------------------------------------------------------------
def parse_kind(name: str) -> str:
    kind = KIND_NAMES.get(name.strip().lower()) if isinstance(name, str) else None
    if kind is None:
        raise QueryError(f"kind: unknown kind {name!r} (known: {', '.join(KINDS)})")
    return kind


def parse_when(text: object, now: float, tz: tzinfo | None, name: str) -> float:
    """`24h`, `30m`, `7d`, `2w` (that long before now), `today`, `yesterday` (local midnight),
    or an ISO 8601 date or time (local unless it says its zone): Unix seconds."""
    if not isinstance(text, str) or not text.strip():
        raise QueryError(f"{name}: expected a time such as 24h, 7d, today or 2026-12-05T08:00, "
                         f"got {text!r}")
    value = text.strip().lower()
    match = DURATION_RE.fullmatch(value)
    if match:
        return now - float(match.group(1)) * UNIT_S[match.group(2)]
    local_now = datetime.fromtimestamp(now, tz)
    if value in ("today", "yesterday", "今天", "昨天"):
        midnight = local_now.replace(hour=0, minute=0, second=0, microsecond=0)
        if value in ("yesterday", "昨天"):
            midnight -= timedelta(days=1)
        return midnight.timestamp()
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise QueryError(f"{name}: expected a time such as 24h, 7d, today or 2026-12-05T08:00, "
                         f"got {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=local_now.tzinfo)
    return when.timestamp()


def parse_query(fields: Mapping, now: float, tz: tzinfo | None = None) -> Query:
    """A `Query` from the CLI's options or an MQTT request's JSON (the same names); QueryError
    names the field that is wrong. `tz`: the local zone (None: this machine's)."""
    unknown = [key for key in fields if key not in FIELDS and key not in ("id", "reply_to")]
    if unknown:
        raise QueryError(f"{unknown[0]}: unknown field (known: {', '.join(FIELDS)})")
    text = fields.get("text")
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_TEXT_CHARS:
            raise QueryError(f"text: expected a string of at most {MAX_TEXT_CHARS} characters")
        text = " ".join(text.split()) or None
    kinds = fields.get("kind") or []
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list):
        raise QueryError("kind: expected a kind or a list of kinds")
    event = fields.get("event")
    if event is not None and event not in EVENT_TYPES + (ANY_EVENT,):
        raise QueryError(f"event: unknown event {event!r} (known: "
                         f"{', '.join(EVENT_TYPES + (ANY_EVENT,))})")
    camera = fields.get("camera")
    if camera is not None and (not isinstance(camera, str) or not camera):
        raise QueryError("camera: expected a camera name")
    last = fields.get("last", False)
    if not isinstance(last, bool):
        raise QueryError("last: expected true or false")
    limit = fields.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise QueryError(f"limit: expected an integer 1..{MAX_LIMIT}")
    since = parse_when(fields["since"], now, tz, "since") if fields.get("since") is not None else None
    until = parse_when(fields["until"], now, tz, "until") if fields.get("until") is not None else None
    if since is not None and until is not None and until <= since:
        raise QueryError("until: must be after since")
    return Query(text=text, kinds=tuple(dict.fromkeys(parse_kind(k) for k in kinds)), event=event,
                 camera=camera, since=since, until=until, last=last, limit=1 if last else limit)


# -- the SQL (pure) ---------------------------------------------------------------------------------------
def _like(term: str) -> str:
    return "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def text_match(text: str, index: str, column: str, fts_table: str, key: str) -> tuple[str, list]:
    """(condition, parameters) that a row's text holds every word of `text`: the FTS5 index where
    it can serve every word, else LIKE (a term shorter than a trigram, Chinese without trigram)."""
    terms = text.split()
    fts_ok = (index == "trigram" and all(len(t) >= 3 for t in terms)) or \
             (index == "unicode61" and not any(CJK_RE.search(t) for t in terms))
    if fts_ok:
        phrase = " AND ".join('"' + t.replace('"', '""') + '"' for t in terms)
        return f"{key} IN (SELECT rowid FROM {fts_table} WHERE {fts_table} MATCH ?)", [phrase]
    return " AND ".join(f"{column} LIKE ? ESCAPE '\\'" for _ in terms), [_like(t) for t in terms]


def caption_sql(query: Query, index: str) -> tuple[str, list]:
    """(WHERE clause, parameters) over `captions c`."""
    where, params = [], []
    for kind in query.kinds:
        where.append("c.facts_id IN (SELECT facts_id FROM fact_kinds WHERE kind = ?)")
        params.append(kind)
    if query.text:
        cond, args = text_match(query.text, index, "text", "texts_fts", "id")
        where.append(f"c.text_id IN (SELECT id FROM texts WHERE {cond})")
        params += args
    where, params = _common(query, "c.camera", "c.ts", where, params)
    return " AND ".join(where) or "1", params


# An arrival's end message (service/events.py: type "arrived", phase "end") is the departure: the
# row of a visit that ended answers "left", at its end time.
# a visit's end is its departure, unless it ended because the camera was lost (events.ended)
VISIT_LEFT = "e.type = 'arrived' AND e.end IS NOT NULL AND e.ended IS NULL"
LEFT_ROWS = f"(e.type = 'left' OR ({VISIT_LEFT}))"
LEFT_TIME = "CASE WHEN e.type = 'arrived' THEN e.end ELSE e.start END"


def event_time(query: Query) -> str:
    """The column a question about these events is timed by."""
    return LEFT_TIME if query.event == "left" else "e.start"


def event_sql(query: Query, index: str) -> tuple[str, list]:
    """(WHERE clause, parameters) over `events e`."""
    where, params = [], []
    if query.event == "left":
        where.append(LEFT_ROWS)
    elif query.event not in (None, ANY_EVENT):
        where.append("e.type = ?")
        params.append(query.event)
    for kind in query.kinds:
        where.append("e.kinds LIKE ?")
        params.append(f"% {kind} %")
    if query.text:
        cond, args = text_match(query.text, index, "e.sentence", "events_fts", "e.rowid")
        where.append(cond)
        params += args
    where, params = _common(query, "e.camera", event_time(query), where, params)
    return " AND ".join(where) or "1", params


def _common(query: Query, camera: str, time: str, where: list, params: list) -> tuple[list, list]:
    if query.camera is not None:
        where.append(f"{camera} = ?")
        params.append(query.camera)
    if query.since is not None:
        where.append(f"{time} >= ?")
        params.append(query.since)
    if query.until is not None:
        where.append(f"{time} < ?")
        params.append(query.until)
    return where, params


# -- answering ------------------------------------------------------------------------------------------
def run_query(conn: sqlite3.Connection, query: Query, index: str) -> Answer:
    if query.event is None:
        where, params = caption_sql(query, index)
        total = conn.execute(f"SELECT count(*) FROM captions c WHERE {where}", params).fetchone()[0]
        # the newest ids first, from the covering indexes (schema.py), then only those rows
        rows = conn.execute(
            "SELECT c.camera, c.ts, c.seq, c.confidence, t.text, t.language, f.found "
            "FROM captions c JOIN texts t ON t.id = c.text_id LEFT JOIN facts f ON f.id = c.facts_id "
            f"WHERE c.id IN (SELECT c.id FROM captions c WHERE {where} ORDER BY c.ts DESC LIMIT ?) "
            "ORDER BY c.ts DESC", params + [query.limit]).fetchall()
        return Answer(query, [caption_row(r) for r in rows], total)
    where, params = event_sql(query, index)
    total = conn.execute(f"SELECT count(*) FROM events e WHERE {where}", params).fetchone()[0]
    time = event_time(query)
    rows = conn.execute(
        "SELECT e.id, e.type, e.camera, e.zone, e.start, e.end, e.duration_s, e.objects, "
        f"e.sentence, e.language, e.snapshot FROM events e WHERE {where} "
        f"ORDER BY {time} DESC LIMIT ?", params + [query.limit]).fetchall()
    rows = [event_row(r) for r in rows]
    if query.event == "left":
        rows = [as_departure(r) for r in rows]
    return Answer(query, rows, total)


def as_departure(row: dict) -> dict:
    """An ended visit's row as the departure it also is: type "left", timed by its end."""
    if row["type"] != "arrived" or row["end"] is None:
        return row
    return {**row, "type": "left", "ts": row["end_ts"]}


def caption_row(row: tuple) -> dict:
    camera, ts, seq, confidence, text, language, found = row
    facts = json.loads(found) if found else {}
    return {"what": "caption", "camera": camera, "time": _utc_iso(ts), "ts": ts,
            "caption": text, "language": language, "kinds": facts.get("kinds") or {},
            "seq": seq, "confidence": confidence}


def event_row(row: tuple) -> dict:
    event_id, kind, camera, zone, start, end, duration, objects, sentence, language, snap = row
    objects = json.loads(objects) if objects else []
    return {"what": "event", "id": event_id, "type": kind, "camera": camera, "zone": zone,
            "start": _utc_iso(start), "end": _utc_iso(end) if end is not None else None,
            "ts": start, "end_ts": end, "duration_s": duration,
            "kinds": sorted({o.get("kind") for o in objects if isinstance(o, dict) and o.get("kind")}),
            "sentence": sentence, "language": language, "snapshot": snap}


def day_rows(conn: sqlite3.Connection, start: float, end: float) -> tuple[list[dict], dict]:
    """The events that began in [start, end), and per camera the kinds its captions named there
    (kind -> number of captions naming it): what summary.py counts."""
    events = [event_row(r) for r in conn.execute(
        "SELECT e.id, e.type, e.camera, e.zone, e.start, e.end, e.duration_s, e.objects, "
        "e.sentence, e.language, e.snapshot FROM events e WHERE e.start >= ? AND e.start < ? "
        "ORDER BY e.start", (start, end))]
    # the visits that ended that day are its departures too
    events += [as_departure(event_row(r)) for r in conn.execute(
        "SELECT e.id, e.type, e.camera, e.zone, e.start, e.end, e.duration_s, e.objects, "
        "e.sentence, e.language, e.snapshot FROM events e WHERE "
        f"{VISIT_LEFT} AND {LEFT_TIME} >= ? AND {LEFT_TIME} < ? ORDER BY e.end",
        (start, end))]
    seen: dict[str, dict[str, int]] = {}
    for camera, kind, n in conn.execute(
            "SELECT c.camera, k.kind, count(*) FROM captions c "
            "JOIN fact_kinds k ON k.facts_id = c.facts_id WHERE c.ts >= ? AND c.ts < ? "
            "GROUP BY c.camera, k.kind", (start, end)):
        seen.setdefault(camera, {})[kind] = n
    return events, seen
