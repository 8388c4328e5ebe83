#!/usr/bin/env python3
"""The history store's size and speed (docs/history.md "Size and speed").

    PYTHONPATH=. python benchmarks/history_bench.py [--days 365] [--per-day 1000]
        [--events-per-day 40] [--query-rows 100000] [--json FILE]

1. A year of one camera at the default settings, recorded through the real `HistoryStore`, one
   transaction per caption as the daemon does (sync normal): the bytes of the store at the end,
   and how long one recording takes (p50, p99). The rows per day are an assumption, from the
   publish rule (caption_event.py): a heartbeat every heartbeat_s = 300 s is 288 captions a day
   on a still scene; each change of the caption publishes one more. --per-day 1000 assumes
   ~700 changes a day on top (a busy front door: one every ~80 s for 16 waking hours), with the
   sentences a facts bundle says (a few hundred distinct ones) and --events-per-day events (start
   and end messages, one row each). Snapshots are left out: they take what max_mb leaves and go
   first (store.py).
2. Queries over a store of --query-rows captions: the five kinds of question of the service
   test and two text searches (English through the trigram index, Chinese through LIKE), each
   through `run_query` (the count and the rows, as the CLI and MQTT answer), median and max of
   20 runs after one warm-up.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge_captioner.history.query import parse_query, run_query
from edge_captioner.history.store import HistoryStore, Limits
from edge_captioner.scene.facts import make_facts
from edge_captioner.scene.phrase import canonical

START = datetime(2026, 1, 1, tzinfo=UTC)
KINDS_SEEN = ("person", "car", "dog", "cat", "box", "bicycle")


def vocabulary(rng: random.Random, language: str, size: int = 300) -> list[tuple[str, dict]]:
    """(sentence, kinds) pairs as a facts bundle says them: canonical sentences of random facts."""
    found: dict[str, dict] = {}
    while len(found) < size:
        counts = {k: rng.choice((1, 1, 1, 2, 3)) for k in rng.sample(KINDS_SEEN, rng.randint(0, 3))}
        facts = make_facts(counts, {}, rng.choice((None, "front_door")))
        found.setdefault(canonical(facts, language), counts)
    return list(found.items())


def fill(store: HistoryStore, days: int, per_day: int, events_per_day: int, seed: int = 1,
         language: str = "en") -> list[float]:
    rng = random.Random(seed)
    words = vocabulary(rng, language)
    timings: list[float] = []
    seq = 0
    for day in range(days):
        base = START + timedelta(days=day)
        for i in range(per_day):
            seq += 1
            text, kinds = words[rng.randrange(len(words))]
            when = base + timedelta(seconds=i * 86400 / per_day)
            payload = {"camera": "front_door", "caption": text, "confidence": 0.9,
                       "language": language, "timestamp": when.isoformat(timespec="milliseconds"),
                       "model": "default-en", "latency_ms": 80.0, "seq": seq,
                       "found": {"kinds": kinds, "postures": [], "place": "front_door",
                                 "objects": []}}
            began = time.perf_counter()
            store.record_caption(payload)
            timings.append(time.perf_counter() - began)
        for i in range(events_per_day):
            start = base + timedelta(seconds=(i + 0.5) * 86400 / events_per_day)
            kind = rng.choice(("arrived", "left", "passed_by", "box_left", "box_taken"))
            objects = [{"kind": rng.choice(("person", "dog", "box", "car")), "track": i}]
            message = {"id": f"{day}-{i}", "type": kind, "phase": "start", "camera": "front_door",
                       "zone": "front_door", "start": start.isoformat(), "end": None,
                       "duration_s": None, "objects": objects, "snapshot": None,
                       "sentence": f"{objects[0]['kind']} {kind}", "language": language,
                       "model": "m"}
            store.record_event(message)
            store.record_event({**message, "phase": "end",
                                "end": (start + timedelta(seconds=60)).isoformat(),
                                "duration_s": 60.0})
    return timings


def ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return round(ordered[min(int(q * len(ordered)), len(ordered) - 1)] * 1000, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--per-day", type=int, default=1000)
    parser.add_argument("--events-per-day", type=int, default=40)
    parser.add_argument("--query-rows", type=int, default=100_000)
    parser.add_argument("--json", metavar="FILE")
    args = parser.parse_args()
    report: dict = {"assumption": {"captions_per_day": args.per_day, "days": args.days,
                                   "events_per_day": args.events_per_day}}
    with tempfile.TemporaryDirectory() as scratch:
        limits = Limits(keep_days=400, max_mb=10_000, snapshots=False)  # measure, do not prune
        year_clock = {"t": START.timestamp()}
        store = HistoryStore(Path(scratch) / "year.sqlite3", limits=limits,
                             clock=lambda: year_clock["t"])
        began = time.perf_counter()
        timings = fill(store, args.days, args.per_day, args.events_per_day)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = store.path.stat().st_size
        report["year"] = {
            "captions": store.conn.execute("SELECT count(*) FROM captions").fetchone()[0],
            "events": store.conn.execute("SELECT count(*) FROM events").fetchone()[0],
            "distinct_sentences": store.conn.execute("SELECT count(*) FROM texts").fetchone()[0],
            "bytes": size, "mb": round(size / 1024 / 1024, 1),
            "bytes_per_caption": round(size / max(len(timings), 1), 1),
            "record_ms_p50": ms(timings, 0.5), "record_ms_p99": ms(timings, 0.99),
            "fill_s": round(time.perf_counter() - began, 1), "text_index": store.text_index,
        }
        store.close()

        days = max(args.query_rows // args.per_day, 1)
        store = HistoryStore(Path(scratch) / "query.sqlite3", limits=limits,
                             clock=lambda: START.timestamp())
        fill(store, days, args.query_rows // days, args.events_per_day, seed=2)
        zh = vocabulary(random.Random(3), "zh", 50)
        for i, (text, kinds) in enumerate(zh):  # a few Chinese captions to find among them
            store.record_caption({"camera": "backyard", "caption": text, "language": "zh",
                                  "timestamp": (START + timedelta(days=days, seconds=i)).isoformat(),
                                  "seq": i + 1, "confidence": 0.9, "found": {"kinds": kinds}})
        now = (START + timedelta(days=days + 1)).timestamp()
        questions = {
            "dog last went out (--kind dog --event left --last)":
                {"kind": "dog", "event": "left", "last": True},
            "parcels in the last week (--event box_left --since 7d)":
                {"event": "box_left", "since": "7d"},
            "parcel taken (--event box_taken --last)": {"event": "box_taken", "last": True},
            "people arriving at the front door (--event arrived --kind person --camera ...)":
                {"event": "arrived", "kind": "person", "camera": "front_door"},
            "captions with a dog, last (--kind dog --last)": {"kind": "dog", "last": True},
            "captions with a cat and a box in 30 days (--kind cat --kind box --since 30d)":
                {"kind": ["cat", "box"], "since": "30d"},
            "text 'dog' (trigram)": {"text": "dog"},
            "text '狗' (LIKE)": {"text": "狗"},
        }
        rows = store.conn.execute("SELECT count(*) FROM captions").fetchone()[0]
        report["queries"] = {"captions": rows, "ms": {}}
        for name, fields in questions.items():
            query = parse_query(fields, now, UTC)
            run_query(store.conn, query, store.text_index)
            runs = []
            for _ in range(20):
                began = time.perf_counter()
                answer = run_query(store.conn, query, store.text_index)
                runs.append(time.perf_counter() - began)
            report["queries"]["ms"][name] = {"median": round(statistics.median(runs) * 1000, 2),
                                             "max": round(max(runs) * 1000, 2),
                                             "total": answer.total}
        store.close()
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
