"""The persistent outbox's journal (edge_captioner/mqtt/journal.py): what survives a crash, a torn
or damaged line, a foreign topic, the bound, and a disk that refuses writes."""

from __future__ import annotations

import errno
import json
import logging

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_captioner.mqtt import journal
from edge_captioner.mqtt.journal import Entry, Journal, encode_ack, encode_entry, parse

BASE = "edge_captioner/dev1"
TOPIC = f"{BASE}/cam/caption"


def lines(*entries: Entry | int) -> bytes:
    return b"".join(encode_ack(e) if isinstance(e, int) else encode_entry(e) for e in entries)


def entry(k: int, topic: str = TOPIC) -> Entry:
    return Entry(k, topic, json.dumps({"seq": k}).encode(), 1, False)


def payloads(replay) -> list[bytes]:
    return [e.payload for e in replay.entries]


def test_live_captions_in_order_without_the_acknowledged():
    replay = parse(lines(entry(1), entry(2), entry(3), 2, entry(4)), BASE, 100)
    assert [e.id for e in replay.entries] == [1, 3, 4]
    assert replay.invalid == 0 and not replay.torn and replay.acked == 1


def test_a_torn_last_line_is_skipped_never_the_rest():
    data = lines(entry(1), entry(2)) + encode_entry(entry(3))[:17]
    replay = parse(data, BASE, 100)
    assert [e.id for e in replay.entries] == [1, 2]
    assert replay.torn and replay.invalid == 0


def test_one_invalid_byte_in_the_middle_skips_that_line_only():
    good = lines(entry(1), entry(2), entry(3))
    middle = good.index(b"\n") + 5  # inside the second line
    data = good[:middle] + b"\xff" + good[middle + 1:]
    replay = parse(data, BASE, 100)
    assert [e.id for e in replay.entries] == [1, 3]
    assert replay.invalid == 1 and not replay.torn


def test_invalid_lines_are_counted_one_by_one():
    data = (lines(entry(1)) + b"not json\n" + b'{"topic": 1}\n' + b"[1]\n" + b'{"ack": "x"}\n'
            + b'{"id": 5, "topic": "' + TOPIC.encode() + b'", "payload": "@@", "qos": 1, "retain": false}\n'
            + lines(entry(2)))
    replay = parse(data, BASE, 100)
    assert [e.id for e in replay.entries] == [1, 2]
    assert replay.invalid == 5


def test_foreign_topics_are_left_out_and_named():
    replay = parse(lines(entry(1), entry(2, "other/dev2/cam/caption"), entry(3)), BASE, 100)
    assert [e.id for e in replay.entries] == [1, 3]
    assert replay.foreign == ["other/dev2/cam/caption"]


def test_the_newest_queue_limit_are_kept():
    replay = parse(lines(*(entry(k) for k in range(1, 11))), BASE, 4)
    assert [e.id for e in replay.entries] == [7, 8, 9, 10] and replay.dropped == 6


def test_a_spool_of_the_previous_version_still_loads():
    old = b"".join(json.dumps({"topic": TOPIC, "payload": "MQ==", "qos": 1, "retain": True}).encode()
                   + b"\n" for _ in range(3))
    assert payloads(parse(old, BASE, 100)) == [b"1", b"1", b"1"]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(0, 2000))
def test_untrusted_bytes_never_raise_and_damage_stays_local(noise, where):
    """Any bytes: parse never raises; noise inserted between whole lines (ending in a newline)
    never costs a good caption on either side of it."""
    before, after = lines(entry(1), entry(2)), lines(entry(3), entry(4))
    parse(noise, BASE, 100)
    parse(before[:where] + noise + after, BASE, 100)
    noise = b"x" + noise.replace(b"\n", b"\nx") + b"\n"  # no noise line can be a caption or an ack
    replay = parse(before + noise + after, BASE, 100)
    assert [e.id for e in replay.entries] == [1, 2, 3, 4]


def test_a_journal_survives_a_crash_and_delivers_only_the_unacknowledged(tmp_path):
    path = tmp_path / "captions-dev1.jsonl"
    first = Journal(path, limit=100)
    assert first.load(BASE) == []
    ids = [first.add(TOPIC, b"%d" % k, 1, False) for k in range(5)]
    first.ack(ids[0])
    first.ack(ids[1])
    # no close(): the process was killed
    second = Journal(path, limit=100)
    assert [p for _, p, _, _ in second.load(BASE)] == [b"2", b"3", b"4"]
    assert second.loaded_ids == ids[2:]
    new = second.add(TOPIC, b"5", 1, False)
    assert new > max(ids)
    for k in second.loaded_ids:
        second.ack(k)
    assert second.close() == 1
    assert [p for _, p, _, _ in Journal(path, limit=100).load(BASE)] == [b"5"]


def test_the_file_stays_bounded(tmp_path):
    path = tmp_path / "captions-dev1.jsonl"
    j = Journal(path, limit=10)
    j.load(BASE)
    for _ in range(2000):
        j.ack(j.add(TOPIC, b"x" * 100, 1, False))
    assert path.stat().st_size < 200 * 250  # bounded by the live ones and the rewrite threshold
    for _ in range(2000):  # the broker away: nothing acknowledged, the oldest dropped
        j.add(TOPIC, b"y" * 100, 1, False)
    assert path.stat().st_size < 200 * 250
    assert len(Journal(path, limit=10).load(BASE)) == 10


def test_damaged_lines_are_logged_counted_and_kept_aside(tmp_path, caplog):
    path = tmp_path / "captions-dev1.jsonl"
    good = lines(entry(1), entry(2), entry(3, "other/dev2/cam/caption"), entry(4))
    path.write_bytes(good[:10] + b"\xff" + good[11:] + b'{"id": 9, "to')
    with caplog.at_level(logging.WARNING, logger="edge_captioner.mqtt"):
        loaded = Journal(path, limit=100).load(BASE)
    assert [p for _, p, _, _ in loaded] == [entry(2).payload, entry(4).payload]
    assert "1 invalid line(s) skipped" in caplog.text and "cut short" in caplog.text
    assert "other/dev2/cam/caption" in caplog.text
    assert (tmp_path / "captions-dev1.jsonl.skipped").exists()


def test_a_failed_write_warns_once_keeps_memory_and_leaves_the_disk(tmp_path, monkeypatch, caplog):
    path = tmp_path / "captions-dev1.jsonl"
    j = Journal(path, limit=100)
    j.load(BASE)
    j.add(TOPIC, b"kept", 1, False)
    on_disk = path.read_bytes()

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(journal.os, "fsync", full)
    with caplog.at_level(logging.WARNING, logger="edge_captioner.mqtt"):
        assert j.add(TOPIC, b"a", 1, False) is None
        assert j.add(TOPIC, b"b", 1, False) is None
        j.ack(1)
        assert j.close() == 0
    assert caplog.text.count("memory only") == 1 and "No space left" in caplog.text
    assert not j.on_disk
    monkeypatch.undo()
    assert path.read_bytes().startswith(on_disk)  # nothing on disk truncated
    assert [p for _, p, _, _ in Journal(path, limit=100).load(BASE)][0] == b"kept"


def test_a_failed_rewrite_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "captions-dev1.jsonl"
    path.write_bytes(lines(entry(1), entry(2)))

    def refuse(src, dst):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(journal.os, "replace", refuse)
    loaded = Journal(path, limit=100).load(BASE)
    assert len(loaded) == 2  # still delivered from memory
    assert path.read_bytes() == lines(entry(1), entry(2))
    assert not (tmp_path / "captions-dev1.jsonl.tmp").exists()


@pytest.mark.parametrize("bad", ["/proc/nope", "/dev/null/x"])
def test_check_writable_refuses_what_cannot_hold_a_journal(bad):
    assert journal.check_writable(bad) is not None


def test_check_writable_accepts_a_directory_it_can_make(tmp_path):
    assert journal.check_writable(tmp_path / "a" / "b") is None
    assert list((tmp_path / "a" / "b").iterdir()) == []
