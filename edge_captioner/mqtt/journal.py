"""The persistent outbox: every caption is on disk from the moment it is queued until the broker
acknowledges it, so a SIGKILL, the watchdog's SIGABRT, the OOM killer or a power cut lose nothing
already captured; the next run delivers them first, in order, with their own `timestamp` and `seq`.

The journal is one append-only JSON-lines file per device in the service's state directory:
`mqtt.spool_dir` if configured, else `$STATE_DIRECTORY` (systemd sets it for `StateDirectory=`; the
first one if several), else none (memory only, as before). Its lines:

    {"id": 7, "topic": "...", "payload": "<base64>", "qos": 1, "retain": false}   a queued caption
    {"ack": 7}                                                                      its PUBACK came

A caption line is written, flushed and fsync'd before the caption is queued (one fsync per caption:
captions come at most a few a second, an SD card's fsync takes milliseconds), so a power cut loses
no caption already queued; an ack line is written without fsync (a lost ack means a duplicate,
which QoS 1 allows). When the dead lines (acknowledged, dropped over the bound, acks) outnumber
the live ones (and at start and at a clean stop) the file is rewritten with the live captions
only: to a temporary file, fsync'd, moved over the journal with os.replace, the directory
fsync'd; a crash at any point leaves the old or the new file, whole.

Reading is line by line, in binary: a line that is not UTF-8, not JSON or not a caption is skipped
and counted (never the rest of the file), as is a torn last line (no newline: the crash came while
writing it); captions for another base topic (the configuration changed) are logged and left out.
The journal holds at most `queue_limit` live captions, the newest (as the queue drops the oldest).

A write that fails (ENOSPC, EROFS, EIO) gives one WARNING and the journal goes memory-only for the
rest of the run: the captions stay queued in memory, and nothing already on disk is truncated or
removed (a failed rewrite leaves the old file).

`parse` is pure (bytes in, entries out); `Journal` does the file I/O.
"""

from __future__ import annotations

import base64
import binascii
import errno
import json
import logging
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

Spooled = tuple[str, bytes, int, bool]  # topic, payload, qos, retain


def journal_path(spool_dir: str | None, device_id: str) -> Path | None:
    directory = spool_dir or (os.environ.get("STATE_DIRECTORY") or "").split(":")[0]
    return Path(directory) / f"captions-{device_id}.jsonl" if directory else None


DISK_TROUBLE = (errno.ENOSPC, errno.EROFS, errno.EIO, errno.EDQUOT)  # not the configuration's fault


def check_writable(directory: str | os.PathLike) -> OSError | None:
    """None when a journal can be kept in `directory` (made if missing); else the error."""
    path = Path(directory)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        with open(probe, "wb") as out:
            out.write(b"x")
            out.flush()
            os.fsync(out.fileno())
        probe.unlink()
    except OSError as exc:
        return exc
    return None


@dataclass(frozen=True)
class Entry:
    id: int
    topic: str
    payload: bytes
    qos: int
    retain: bool


@dataclass
class Replay:
    entries: list[Entry] = field(default_factory=list)  # live, in order, the newest `limit`
    invalid: int = 0  # lines skipped: not UTF-8, not JSON, not a caption or an ack
    torn: bool = False  # the last line had no newline (skipped)
    foreign: list[str] = field(default_factory=list)  # topics of captions for another base topic
    acked: int = 0
    dropped: int = 0  # live captions over `limit` (the oldest)


def encode_entry(entry: Entry) -> bytes:
    return (json.dumps({"id": entry.id, "topic": entry.topic,
                        "payload": base64.b64encode(entry.payload).decode("ascii"),
                        "qos": entry.qos, "retain": entry.retain}, separators=(",", ":"))
            + "\n").encode("utf-8")


def encode_ack(entry_id: int) -> bytes:
    return b'{"ack":%d}\n' % entry_id


def _decode(line: bytes, next_id: int) -> Entry | int | None:
    """An Entry, an acknowledged id (int), or None (invalid)."""
    try:
        obj = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(obj, dict):
        return None
    if "ack" in obj:
        ack = obj["ack"]
        return ack if type(ack) is int and len(obj) == 1 else None
    try:
        entry_id = obj.get("id", next_id)  # a spool of an older version has no ids
        topic, payload, qos, retain = obj["topic"], obj["payload"], obj["qos"], obj["retain"]
        if (type(entry_id) is not int or not isinstance(topic, str) or not isinstance(payload, str)
                or type(qos) is not int or qos not in (0, 1, 2) or type(retain) is not bool):
            return None
        data = base64.b64decode(payload, validate=True)
    except (KeyError, ValueError, binascii.Error):
        return None
    return Entry(entry_id, topic, data, qos, retain)


def parse(data: bytes, base: str, limit: int) -> Replay:
    """The live captions in a journal's bytes for base topic `base`, in order, at most `limit`."""
    replay = Replay()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    elif lines:
        lines.pop()  # torn: the crash came while it was written
        replay.torn = True
    live: OrderedDict[int, Entry] = OrderedDict()
    next_id = 1
    for line in lines:
        if not line.strip():
            continue
        item = _decode(line, next_id)
        if item is None:
            replay.invalid += 1
        elif isinstance(item, int):
            if live.pop(item, None) is not None:
                replay.acked += 1
        elif not item.topic.startswith(base + "/"):
            replay.foreign.append(item.topic)
        else:
            live.pop(item.id, None)
            live[item.id] = item
            next_id = max(next_id, item.id + 1)
    entries = list(live.values())
    keep = max(limit, 0)
    replay.dropped = max(len(entries) - keep, 0)
    replay.entries = entries[len(entries) - keep:] if keep else []
    return replay


class Journal:
    """The journal file of one publisher; thread-safe. Memory-only after a failed write."""

    def __init__(self, path: Path | None, limit: int) -> None:
        self.path = path
        self.limit = max(limit, 0)
        self._lock = threading.Lock()
        self._live: OrderedDict[int, bytes] = OrderedDict()  # id -> its line, unacknowledged
        self._next_id = 1
        self._dead = 0  # lines in the file that are not live (acked, dropped, acks themselves)
        self._file = None
        self._failed = path is None
        self._closed = False
        self.loaded_ids: list[int] = []  # the ids of what load() returned, in its order

    # -- start ---------------------------------------------------------------------------------------
    def load(self, base: str) -> list[Spooled]:
        """The captions the last run left, for `base`, in order; the journal is then rewritten with
        only those and kept open for appending."""
        if self.path is None:
            return []
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            self._fail(f"cannot read {self.path}: {exc.strerror or exc}")
            return []
        replay = parse(data, base, self.limit)
        if replay.invalid or replay.torn:
            log.warning("MQTT: %s: %d invalid line(s) skipped%s", self.path, replay.invalid,
                        "; its last line was cut short (a crash while writing it), skipped"
                        if replay.torn else "")
        if replay.foreign:
            log.warning("MQTT: %s: %d caption(s) for another base topic than %s left out (e.g. %s)",
                        self.path, len(replay.foreign), base, replay.foreign[0])
        if replay.dropped:
            log.warning("MQTT: %s: %d oldest caption(s) over queue_limit (%d) dropped", self.path,
                        replay.dropped, self.limit)
        self.loaded_ids = [entry.id for entry in replay.entries]
        with self._lock:
            for entry in replay.entries:
                self._live[entry.id] = encode_entry(entry)
                self._next_id = max(self._next_id, entry.id + 1)
            if replay.invalid or replay.foreign:
                self._keep_copy(data)
            self._rewrite()
            self._open()
        return [(e.topic, e.payload, e.qos, e.retain) for e in replay.entries]

    def _keep_copy(self, data: bytes) -> None:
        """A journal with lines we could not use is kept, once, beside it (for a person to read)."""
        copy = self.path.with_name(self.path.name + ".skipped")
        try:
            copy.write_bytes(data)
        except OSError:
            pass

    # -- running -------------------------------------------------------------------------------------
    def add(self, topic: str, payload: bytes, qos: int, retain: bool) -> int | None:
        """Write a caption (fsync'd); its id, or None when the journal is memory-only."""
        with self._lock:
            if self._failed or self._closed:
                return None
            entry_id = self._next_id
            self._next_id += 1
            line = encode_entry(Entry(entry_id, topic, payload, qos, retain))
            self._live[entry_id] = line
            while len(self._live) > self.limit:  # as the queue drops the oldest
                self._live.popitem(last=False)
                self._dead += 1
            if not self._write(line, sync=True):
                return None
            self._compact_if_due()  # the broker away for days: the bound drops, the file must too
            return entry_id

    def ack(self, entry_id: int | None) -> None:
        """The broker has the caption: an ack line (not fsync'd), and a rewrite once most are dead."""
        if entry_id is None:
            return
        with self._lock:
            if self._failed or self._closed or self._live.pop(entry_id, None) is None:
                return
            self._dead += 2
            if self._write(encode_ack(entry_id), sync=False):
                self._compact_if_due()

    def close(self) -> int:
        """At a clean stop: rewrite with the live captions only; how many are kept on disk."""
        with self._lock:
            if self._failed or self._closed:
                return 0
            self._closed = True
            self._rewrite()
            if self._file is not None:
                self._file.close()
                self._file = None
            return 0 if self._failed else len(self._live)

    @property
    def on_disk(self) -> bool:
        with self._lock:
            return not self._failed

    # -- file I/O (with _lock held) ------------------------------------------------------------------
    def _compact_if_due(self) -> None:
        """Rewrite once the dead lines outnumber the live ones (and 64): the file stays under about
        twice `limit` captions, and a rewrite comes once per as many lines as it writes."""
        if self._dead > max(len(self._live), 64):
            self._rewrite()
            self._open()

    def _fail(self, why: str) -> None:
        if not self._failed:
            log.warning("MQTT: caption journal: %s; captions are now kept in memory only (until "
                        "the next start); what is on disk is left as it is", why)
        self._failed = True
        if self._file is not None:
            try:
                self._file.close()
            except OSError:
                pass
            self._file = None

    def _open(self) -> None:
        if self._failed:
            return
        try:
            self._file = open(self.path, "ab")
        except OSError as exc:
            self._fail(f"cannot open {self.path}: {exc.strerror or exc}")

    def _write(self, data: bytes, sync: bool) -> bool:
        if self._file is None:
            self._fail("not open")
            return False
        try:
            self._file.write(data)
            self._file.flush()
            if sync:
                os.fsync(self._file.fileno())
        except OSError as exc:
            # A partial line may be left: the next start skips it as torn (or invalid). No
            # truncation, so nothing already written is at risk.
            self._fail(f"cannot write {self.path}: {exc.strerror or exc}")
            return False
        return True

    def _rewrite(self) -> None:
        """The file becomes the live lines, atomically (temp file, fsync, replace, fsync the dir)."""
        if self._failed:
            return
        tmp = self.path.with_name(self.path.name + ".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as out:
                out.write(b"".join(self._live.values()))
                out.flush()
                os.fsync(out.fileno())
            if self._file is not None:
                self._file.close()
                self._file = None
            os.replace(tmp, self.path)
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
        except OSError as exc:
            try:
                tmp.unlink()
            except OSError:
                pass
            self._fail(f"cannot rewrite {self.path}: {exc.strerror or exc}")
            return
        self._dead = 0
