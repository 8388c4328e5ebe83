"""Frigate's MQTT API, as far as captioning its events needs it: pure functions, no broker.

Frigate (docs/docs/integrations/mqtt.md in blakeblackshear/frigate) publishes, under its
topic_prefix (default "frigate"):

* `frigate/events`: JSON `{"type": "new"|"update"|"end", "before": {...}, "after": {...}}` per
  change of a tracked object; `after` has `id`, `camera`, `label`, `sub_label` (null, a string in
  older versions, `[name, score]` in newer ones), `score`, `top_score`, `false_positive`,
  `has_snapshot`, `end_time`, and the time of its best snapshot: `snapshot.frame_time` (0.14 and
  later) or `snapshot_time` (earlier). Not retained. "update" comes with a better snapshot or a
  zone change; "end" when the object is gone.
* `frigate/<camera>/<label>/snapshot`: a JPEG, RETAINED, of the best current object of that label
  on that camera; it carries no event id, and it is published in the same frame-processing pass
  as the event message, just before or just after it. So an event is paired with the snapshot of
  its camera and label that arrives within PAIR_WINDOW_S of it (`SnapshotPairer`). With two people
  in view the picture is the better of the two: a caption describes the scene either way.
* `frigate/available`: "online" / "offline" / "stopped".

Frigate has no MQTT topic that sets an event's text (`<camera>/object_descriptions/set` only
turns its own GenAI descriptions on or off); its HTTP API does: `POST /api/events/<id>/description`
with `{"description": text}` and `POST /api/events/<id>/sub_label` with `{"subLabel": text}` (at
most 100 characters), both for the admin role (`description_request` builds the first).
"""

from __future__ import annotations

import json
import math
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

DEFAULT_PREFIX = "frigate"
EVENT_TYPES = ("new", "update", "end")
PAIR_WINDOW_S = 5.0  # an event and its camera/label snapshot arrive this close together, or not at all
REMEMBERED_EVENTS = 512  # per source: events whose last captioned snapshot is remembered


@dataclass(frozen=True)
class FrigateEvent:
    type: str  # new | update | end
    id: str
    camera: str
    label: str
    sub_label: str | None
    score: float | None
    snapshot_time: float | None  # when its best snapshot was taken (changes with a better one)
    has_snapshot: bool  # Frigate will keep a snapshot file (its MQTT snapshots do not depend on it)
    false_positive: bool

    def caption_fields(self) -> dict:
        """The caption payload's `frigate` object for a caption of this event's snapshot
        (docs/contract.md)."""
        return {"event_id": self.id, "camera": self.camera, "label": self.label,
                "sub_label": self.sub_label}


def events_topic(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/events"


def snapshot_topic(camera: str, label: str = "+", prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/{camera}/{label}/snapshot"


def available_topic(prefix: str = DEFAULT_PREFIX) -> str:
    return f"{prefix}/available"


def snapshot_key(topic: str, prefix: str = DEFAULT_PREFIX) -> tuple[str, str] | None:
    """(camera, label) of a `<prefix>/<camera>/<label>/snapshot` topic, else None."""
    parts = topic.split("/")
    head = prefix.split("/")
    if len(parts) != len(head) + 3 or parts[:len(head)] != head or parts[-1] != "snapshot":
        return None
    return parts[len(head)], parts[len(head) + 1]


def _text(after: dict, key: str) -> str:
    value = after.get(key)
    if not isinstance(value, str) or not value:
        raise ValueError(f"after.{key}: expected a non-empty string, got {_short(value)}")
    return value


def _number(value: Any, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{key}: expected a number, got {_short(value)}")
    return float(value)


def _sub_label(value: Any) -> str | None:
    if isinstance(value, list | tuple) and value:  # [name, score] since Frigate 0.14
        value = value[0]
    if value is None or (isinstance(value, str) and value):
        return value
    if value == "" or value == []:
        return None
    raise ValueError(f"after.sub_label: expected null, a string or [name, score], got {_short(value)}")


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_event(payload: bytes | str) -> FrigateEvent:
    """A `frigate/events` message; ValueError (one line) for anything else."""
    try:
        document = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"not JSON: {str(exc).splitlines()[0]}") from None
    if not isinstance(document, dict):
        raise ValueError(f"expected a JSON object, got {_short(document)}")
    kind = document.get("type")
    if kind not in EVENT_TYPES:
        raise ValueError(f"type: expected one of {', '.join(EVENT_TYPES)}, got {_short(kind)}")
    after = document.get("after")
    if not isinstance(after, dict):
        raise ValueError(f"after: expected an object, got {_short(after)}")
    snapshot = after.get("snapshot")
    if isinstance(snapshot, dict):
        snapshot_time = _number(snapshot.get("frame_time"), "after.snapshot.frame_time")
    elif snapshot is None:
        snapshot_time = _number(after.get("snapshot_time"), "after.snapshot_time")
    else:
        raise ValueError(f"after.snapshot: expected an object or null, got {_short(snapshot)}")
    return FrigateEvent(
        type=kind,
        id=_text(after, "id"),
        camera=_text(after, "camera"),
        label=_text(after, "label"),
        sub_label=_sub_label(after.get("sub_label")),
        score=_number(after.get("score"), "after.score"),
        snapshot_time=snapshot_time,
        has_snapshot=after.get("has_snapshot") is True,
        false_positive=after.get("false_positive") is True,
    )


# A caption of this event was made from the snapshot taken at this time (None: time unknown).
NOT_CAPTIONED = object()


def wants_caption(event: FrigateEvent, captioned: object = NOT_CAPTIONED) -> bool:
    """Whether `event` calls for a caption, given the snapshot time of the event's last caption
    (NOT_CAPTIONED if it has none): the first message that is not a false positive; an update
    with a better snapshot; the end of an event that never got one. Not `has_snapshot`: that is
    about Frigate's snapshot FILES, while its MQTT snapshots are configured apart."""
    if event.false_positive:
        return False
    if captioned is NOT_CAPTIONED:
        return True
    return event.type == "update" and event.snapshot_time is not None \
        and event.snapshot_time != captioned


@dataclass(frozen=True)
class Pair:
    event: FrigateEvent
    jpeg: bytes
    token: Hashable | None  # the event message's acknowledgement, due when its caption is


@dataclass
class _Snapshot:
    jpeg: bytes
    at: float | None  # arrival; None for a retained one (taken whenever: never paired)
    serial: int


@dataclass
class _Waiting:
    event: FrigateEvent
    at: float
    token: Hashable | None


@dataclass
class PairerOutput:
    pairs: list[Pair] = field(default_factory=list)
    done: list[Hashable | None] = field(default_factory=list)  # tokens to acknowledge now
    unpaired: list[FrigateEvent] = field(default_factory=list)  # no snapshot came in the window


class SnapshotPairer:
    """Events meet their snapshots (see the module doc). Pure: the caller says what time it is."""

    def __init__(self, window_s: float = PAIR_WINDOW_S, remembered: int = REMEMBERED_EVENTS):
        self.window_s = window_s
        self.remembered = remembered
        self._snapshots: dict[tuple[str, str], _Snapshot] = {}
        self._waiting: dict[tuple[str, str], _Waiting] = {}
        self._captioned: OrderedDict[str, tuple[float | None, int]] = OrderedDict()  # id -> (time, serial)
        self._serial = 0

    def snapshot(self, camera: str, label: str, jpeg: bytes, now: float, retained: bool = False
                 ) -> PairerOutput:
        self._serial += 1
        key = (camera, label)
        self._snapshots[key] = _Snapshot(jpeg, None if retained else now, self._serial)
        out = PairerOutput()
        waiting = self._waiting.get(key)
        if waiting is not None and not retained and now - waiting.at <= self.window_s:
            del self._waiting[key]
            self._pair(waiting.event, waiting.token, out)
        return out

    def event(self, event: FrigateEvent, now: float, token: Hashable | None = None) -> PairerOutput:
        out = PairerOutput()
        last = self._captioned.get(event.id)
        captioned = NOT_CAPTIONED if last is None else last[0]
        wanted = wants_caption(event, captioned)
        if event.type == "end":
            self._captioned.pop(event.id, None)
        if not wanted:
            out.done.append(token)
            return out
        key = (event.camera, event.label)
        snap = self._snapshots.get(key)
        fresh = snap is not None and snap.at is not None and now - snap.at <= self.window_s \
            and (last is None or last[1] != snap.serial)
        if fresh:
            self._pair(event, token, out)
            return out
        replaced = self._waiting.get(key)
        if replaced is not None:
            out.done.append(replaced.token)  # the newer event of this camera and label supersedes it
        self._waiting[key] = _Waiting(event, now, token)
        return out

    def expire(self, now: float) -> PairerOutput:
        out = PairerOutput()
        for key, waiting in list(self._waiting.items()):
            if now - waiting.at > self.window_s:
                del self._waiting[key]
                out.unpaired.append(waiting.event)
                out.done.append(waiting.token)
        return out

    def _pair(self, event: FrigateEvent, token: Hashable | None, out: PairerOutput) -> None:
        snap = self._snapshots[(event.camera, event.label)]
        out.pairs.append(Pair(event, snap.jpeg, token))
        if event.type != "end":
            self._captioned[event.id] = (event.snapshot_time, snap.serial)
            self._captioned.move_to_end(event.id)
            while len(self._captioned) > self.remembered:
                self._captioned.popitem(last=False)


def description_request(api_url: str, event_id: str, caption: str) -> tuple[str, bytes]:
    """(URL, JSON body) of the Frigate HTTP call that sets an event's description to `caption`."""
    return (f"{api_url.rstrip('/')}/api/events/{event_id}/description",
            json.dumps({"description": caption}).encode("utf-8"))
