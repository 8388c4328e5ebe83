"""What the session has to deliver, and handing it to the client in order (the delivery model).

Captions
--------
paho's own queue can neither be bounded with drop-oldest nor inspected, so captions wait in OUR
bounded deque until they are handed to the client. At most `queue_limit` captions are held
unconfirmed; beyond that the OLDEST waiting one is dropped, counted (`stats()["dropped"]`) and
logged. A single "pump" hands captions over in order while connected, at most `window` at a time.
A handed-over caption stays on our books (`_inflight`, by message id) until the client confirms it
(`confirm(mid)`: paho's on_publish, the PUBACK for QoS 1). When the connection drops first, paho
would re-send its copy after the next CONNACK, but only after its on_connect returned, behind
anything published there: so `connected()` takes the client's copies back (`drop_out_messages`)
and puts ours back at the head of the queue, in order. Nothing handed over is lost, and the order
holds across reconnects; a duplicate (the broker got it, the PUBACK got lost) is what QoS 1 allows.

Latest-value slots
------------------
Status, states, snapshots and discovery configs are latest-value topics: each has one slot that
keeps only the newest payload, with at most one copy in flight; a value set while a copy is in
flight goes out when that copy is confirmed (never an older value after a newer one). On every
(re)connect the slots marked `republish` are sent again, so a broker that lost its retained store
(no persistence, restarted) is repaired. The status slot says ONLINE from each connect until
`close()`, which says OFFLINE.

Threading: the client calls back on its network thread while holding its own locks; captions and
states come from other threads. `_lock` guards our books and is never held while calling into the
client, and only one thread pumps at a time (others leave a request the pumping thread picks up),
so no lock order between our lock and the client's can deadlock and the hand-over order is the
queue order.

The client is anything with paho's `publish(topic, payload, qos, retain)` (returning an object with
`rc` and `mid`) and `drop_out_messages()`: tests drive the books with a fake one.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import paho.mqtt.client as mqtt

from . import topics

log = logging.getLogger(__name__)

CAPTION_WINDOW = 20  # captions handed to the client and not yet confirmed
DROP_LOG_EVERY_S = 10.0  # while dropping, one WARNING per this period (with the running count)
HANDING_WAIT_S = 5.0  # at a connect, how long a hand-over still inside client.publish() is awaited


class PublishInfo(Protocol):
    rc: int  # mqtt.MQTT_ERR_SUCCESS, or MQTT_ERR_NO_CONN when the client holds it for a reconnect
    mid: int


class OutboxClient(Protocol):
    """The part of paho's Client the outbox uses."""

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> PublishInfo: ...

    def drop_out_messages(self) -> None: ...


@dataclass(eq=False)  # identity: two equal captions are still two messages
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    slot: str | None = None  # the latest-value slot it belongs to; None for a caption
    journal_id: int | None = None  # its line in the journal (journal.py), if it has one


@dataclass(frozen=True)
class Latest:
    """A value for a latest-value topic; qos, retain and republish count when its slot is made."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    republish: bool = False


@dataclass(eq=False)
class _Slot:
    """The newest payload of a latest-value topic, and whether it still has to go out."""

    topic: str
    qos: int
    retain: bool
    republish: bool  # send again on every (re)connect (repairs a broker's lost retained store)
    payload: bytes | None = None
    dirty: bool = False  # `payload` has not been handed to the client since it was set
    inflight: bool = False  # a copy is with the client, not yet confirmed


@dataclass(frozen=True)
class Reconnected:
    queued: int  # captions waiting at the connect
    unreported_drops: int  # dropped since the last report (while the broker was away)
    dropped: int  # in total


@dataclass(frozen=True)
class Closed:
    status_delivered: bool  # OFFLINE confirmed by the broker
    undelivered: list[Message]  # captions, in queue order


class Outbox:
    """Thread-safe books of what is to be delivered; `pump` hands it to the client."""

    def __init__(self, client: OutboxClient, *, status_topic: str, queue_limit: int,
                 window: int = CAPTION_WINDOW, captions: Iterable[Message] = ()) -> None:
        self.client = client
        self.status_topic = status_topic
        self.queue_limit = queue_limit
        self.window = max(1, window)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # books changed: an ack, a hand-over, (dis)connect
        self._connected = False
        self._closed = False
        self._pending: deque[Message] = deque(captions)
        self._handing: list[Message] = []  # taken from the books, inside client.publish() right now
        self._inflight: dict[int, Message] = {}  # mid -> handed over, not yet confirmed (in order)
        self._early_acks: set[int] = set()  # confirmed before client.publish() returned the mid
        self._sent = 0
        self._dropped = 0
        self._dropped_logged = 0
        self._drop_logged_at = -math.inf
        self._slots: dict[str, _Slot] = {}  # in the order they were made: the order they go out
        self._pumping = False
        self._pump_requested = False
        self.declare(status_topic, qos=1, retain=True, republish=True)

    # -- filling the books ---------------------------------------------------------------------------
    def declare(self, topic: str, *, qos: int, retain: bool, republish: bool,
                payload: bytes | None = None) -> None:
        """Make a latest-value slot; a payload given here first goes out at the next connect."""
        with self._lock:
            self._slots[topic] = _Slot(topic, qos, retain, republish, payload)

    def set_latest(self, value: Latest) -> None:
        with self._lock:
            self._set(value)
        self.pump()

    def add_caption(self, message: Message, latest: Latest | None = None) -> bool:
        """Queue a caption (and set a latest value with it); False, and nothing queued, once closed."""
        with self._lock:
            if self._closed:
                return False
            self._pending.append(message)
            # Only captions not yet handed to the client can be dropped (those handed over are
            # bounded by the window and will be delivered).
            overflow = min(self._caption_count() - max(self.queue_limit, 0), len(self._pending))
            for _ in range(max(overflow, 0)):
                self._pending.popleft()
                self._dropped += 1
            if overflow > 0:
                self._log_drops()
            if latest is not None:
                self._set(latest)
        self.pump()
        return True

    def resend(self, slots: Iterable[str]) -> None:
        """Send these slots' values again (e.g. discovery, when Home Assistant comes back)."""
        with self._lock:
            for topic in slots:
                self._slots[topic].dirty = True
        self.pump()

    # -- the client's news (call from its callbacks) ---------------------------------------------------
    def connected(self) -> Reconnected:
        """The client is connected: take its unconfirmed copies back, to be sent first, and mark the
        republish slots. Does not pump: call pump() once the session is set up (subscribed)."""
        with self._lock:
            # A thread inside client.publish() (it cannot hand over more: we are not connected)
            # must be done before the client's copies are taken back, or its message would be lost.
            give_up = time.monotonic() + HANDING_WAIT_S
            while self._handing and time.monotonic() < give_up:
                self._changed.wait(0.05)
        self.client.drop_out_messages()  # paho would re-send these after on_connect: we do, first
        with self._lock:
            self._take_back(list(self._inflight.values()))
            self._inflight.clear()
            self._early_acks.clear()
            self._connected = True
            unreported = self._dropped - self._dropped_logged
            self._dropped_logged = self._dropped
            if not self._closed:
                self._slots[self.status_topic].payload = topics.ONLINE.encode()
            for slot in self._slots.values():
                if slot.republish and slot.payload is not None:
                    slot.dirty = True
            self._changed.notify_all()
            return Reconnected(self._caption_count(), unreported, self._dropped)

    def disconnected(self) -> tuple[bool, int]:
        """The connection is gone (what is in flight stays on the books): (whether it was
        connected, captions queued)."""
        with self._lock:
            was_connected, self._connected = self._connected, False
            self._changed.notify_all()
            return was_connected, self._caption_count()

    def confirm(self, mid: int) -> Message | None:
        """The broker confirmed message `mid`: off the books, and the next one may go."""
        with self._lock:
            message = self._inflight.pop(mid, None)
            if message is None:
                if self._handing:  # the pumping thread has not recorded this mid yet
                    self._early_acks.add(mid)
                return None
            self._confirmed(message)
        self.pump()
        return message

    # -- the end -------------------------------------------------------------------------------------
    def close(self, drain_until: float, deadline: float) -> Closed | None:
        """Deliver queued captions (while connected) until `drain_until`, then accept no more and
        say OFFLINE, waiting for its confirmation until `deadline` (time.monotonic()). None when
        already closed."""
        with self._lock:
            if self._closed:
                return None
            while self._connected and self._caption_count() and time.monotonic() < drain_until:
                self._changed.wait(min(0.1, max(drain_until - time.monotonic(), 0)))
            self._closed = True
            status = self._slots[self.status_topic]
            status.payload, status.dirty = topics.OFFLINE.encode(), True
        self.pump()
        with self._lock:
            while self._connected and (status.dirty or status.inflight) and time.monotonic() < deadline:
                self._changed.wait(min(0.1, max(deadline - time.monotonic(), 0)))
            # in queue order: handed over (unconfirmed), being handed over, waiting
            undelivered = [m for m in [*self._inflight.values(), *self._handing, *self._pending]
                           if m.slot is None]
            return Closed(not (status.dirty or status.inflight), undelivered)

    @property
    def slot_count(self) -> int:
        with self._lock:
            return len(self._slots)

    @property
    def closed(self) -> bool:
        with self._lock:
            return self._closed

    def stats(self) -> dict:
        with self._lock:
            return {
                "queued": self._caption_count(),  # captions accepted, not yet confirmed by the broker
                "inflight": self._inflight_captions(),  # of which handed to the client
                "sent": self._sent,
                "dropped": self._dropped,
                "connected": self._connected,
            }

    # -- books (call with _lock held) ----------------------------------------------------------------
    def _set(self, value: Latest) -> None:
        slot = self._slots.get(value.topic)
        if slot is None:
            slot = self._slots[value.topic] = _Slot(value.topic, value.qos, value.retain, value.republish)
        slot.payload, slot.dirty = value.payload, True

    def _inflight_captions(self) -> int:
        return sum(1 for m in self._inflight.values() if m.slot is None)

    def _caption_count(self) -> int:
        handing = sum(1 for m in self._handing if m.slot is None)
        return len(self._pending) + handing + self._inflight_captions()

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._drop_logged_at >= DROP_LOG_EVERY_S:
            log.warning("MQTT: caption queue full (queue_limit %d): dropped the oldest; %d dropped so far",
                        self.queue_limit, self._dropped)
            self._drop_logged_at = now
            self._dropped_logged = self._dropped

    def _take_batch(self) -> list[Message]:
        """What may be handed over now, in order: dirty slots, then captions up to the window."""
        if not self._connected:
            return []
        batch = []
        for slot in self._slots.values():
            if slot.dirty and not slot.inflight and slot.payload is not None:
                slot.dirty, slot.inflight = False, True
                batch.append(Message(slot.topic, slot.payload, slot.qos, slot.retain, slot.topic))
        room = self.window - self._inflight_captions()
        while room > 0 and self._pending:
            batch.append(self._pending.popleft())
            room -= 1
        return batch

    def _confirmed(self, message: Message) -> None:
        if message.slot is None:
            self._sent += 1
        else:
            self._slots[message.slot].inflight = False  # if dirty, the newer value goes out next
        self._changed.notify_all()

    def _take_back(self, messages: list[Message]) -> None:
        """Messages the client does not hold (any more) go back on the books, in their order."""
        captions = [m for m in messages if m.slot is None]
        self._pending.extendleft(reversed(captions))
        for message in messages:
            if message.slot is not None:
                slot = self._slots[message.slot]
                slot.inflight = False
                slot.dirty = slot.payload is not None

    # -- the pump ----------------------------------------------------------------------------------
    def pump(self) -> None:
        """Hand over whatever may go now. Re-entrant from the client's callbacks; one pumper at a time."""
        with self._lock:
            self._pump_requested = True
            if self._pumping:
                return  # the pumping thread sees the request and goes round once more
            self._pumping = True
        try:
            while True:
                with self._lock:
                    self._take_back(self._handing)  # what a broken-off round did not hand over
                    self._handing = []
                    if not self._pump_requested:
                        # Deciding to stop and stopping under one lock: no request slips between.
                        self._pumping = False
                        self._early_acks.clear()  # none can belong to a hand-over any more
                        self._changed.notify_all()
                        return
                    self._pump_requested = False
                    self._handing = self._take_batch()
                    batch = list(self._handing)
                for message in batch:
                    if not self._hand_over(message):
                        break
        except BaseException:
            with self._lock:
                self._take_back(self._handing)
                self._handing = []
                self._pumping = False
                self._changed.notify_all()
            raise

    def _hand_over(self, message: Message) -> bool:
        """client.publish() one message and put it on the in-flight books; False: stop this round."""
        try:
            info = self.client.publish(message.topic, message.payload, message.qos, message.retain)
        except (ValueError, TypeError) as exc:
            # A topic or payload paho refuses (e.g. a camera name with a wildcard): it never will.
            log.error("MQTT: cannot publish to %r: %s; message dropped", message.topic, exc)
            with self._lock:
                self._handing.remove(message)
                if message.slot is None:
                    self._dropped += 1
                else:
                    self._slots[message.slot].inflight = False
                self._changed.notify_all()
            return True
        # NO_CONN: paho holds the message for the reconnect, so it is on the books like any other.
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("MQTT: paho did not take a message for %s (%s); will retry", message.topic,
                        mqtt.error_string(info.rc))
            return False
        with self._lock:
            self._handing.remove(message)
            if info.mid in self._early_acks:
                self._early_acks.discard(info.mid)
                self._confirmed(message)
            else:
                self._inflight[info.mid] = message
            self._changed.notify_all()
        return True
