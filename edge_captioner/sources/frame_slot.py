"""The newest frame of a pushed source, and WHEN each delivered message is acknowledged.

Frames that arrive over MQTT with QoS 1 are acknowledged (PUBACK) by us, not by paho, so that a
worker killed mid-caption leaves its frame unacknowledged and the broker delivers it again (to this
worker's session when it comes back: docs/topology.md says what Mosquitto does with the others).
"Latest frame wins" decides the moment of each acknowledgement:

* a frame replaced by a newer one before the worker took it: acknowledged at once. It is stale;
  the newer frame shows the scene now, and holding it would only fill the broker's in-flight window.
* a frame the worker took (`latest`): acknowledged when the worker is done with it, which is when
  it asks for a newer one (`latest(newer_than=seq)`: it has published, queued or skipped the
  caption), or says so (`done(seq)`). So a caption is queued for publishing BEFORE its frame is
  acknowledged: at least once, never at most once.
* at stop: the frame in the worker's hands is acknowledged (the daemon stops workers, which finish
  their caption, before it stops sources); a frame nobody took is NOT (a source stopped on purpose
  then ends its session, mqtt/frames.py, so the broker drops it; after a crash, the frames in hand
  and untaken are given back to the resumed session).

At most two messages per source are ever unacknowledged (one pending, one in hand). One consumer
per slot: the frame goes to whoever takes it first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from .frames import Frame

Ack = Callable[[Hashable], None]  # acknowledges the message a token stands for


@dataclass(frozen=True)
class _Held:
    frame: Frame
    token: Hashable | None  # None: nothing to acknowledge (QoS 0, or a frame built from several)


class FrameSlot:
    def __init__(self, ack: Ack):
        self._ack = ack
        self._cond = threading.Condition()
        self._pending: _Held | None = None  # newest, not taken yet
        self._in_hand: dict[int, _Held] = {}  # seq -> taken, not done
        self._stopped = False
        self.superseded = 0  # frames acknowledged unseen because a newer one came first

    def put(self, frame: Frame, token: Hashable | None) -> Frame | None:
        """A new frame (seq larger than every earlier one); the one it replaces is acknowledged
        and returned."""
        with self._cond:
            if self._stopped:
                return None  # not acknowledged: the broker gives it again to the next session
            replaced, self._pending = self._pending, _Held(frame, token)
            if replaced is not None:
                self.superseded += 1
            self._cond.notify_all()
        if replaced is None:
            return None
        self._acknowledge([replaced])
        return replaced.frame

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None:
        """The newest frame once its seq is > `newer_than` (None after `timeout`, or when stopped).
        Frames taken earlier with seq <= `newer_than` are done: acknowledged now."""
        with self._cond:
            finished = [held for seq, held in self._in_hand.items() if seq <= newer_than]
            for held in finished:
                del self._in_hand[held.frame.seq]
        self._acknowledge(finished)
        with self._cond:
            ready = lambda: self._stopped or (  # noqa: E731 - a predicate, named for wait_for
                self._pending is not None and self._pending.frame.seq > newer_than)
            if not self._cond.wait_for(ready, timeout) or self._stopped:
                return None
            held, self._pending = self._pending, None
            self._in_hand[held.frame.seq] = held
            return held.frame

    def done(self, seq: int) -> None:
        """The worker is done with frame `seq` (captioned and queued, or skipped)."""
        with self._cond:
            held = self._in_hand.pop(seq, None)
        self._acknowledge([held] if held else [])

    def stop(self) -> int:
        """Acknowledge the frames in hand, keep the untaken one unacknowledged, wake waiters.
        Returns how many were left unacknowledged (0 or 1)."""
        with self._cond:
            self._stopped = True
            in_hand = list(self._in_hand.values())
            self._in_hand.clear()
            left = 1 if self._pending is not None else 0
            self._pending = None
            self._cond.notify_all()
        self._acknowledge(in_hand)
        return left

    @property
    def unacknowledged(self) -> int:
        with self._cond:
            return len(self._in_hand) + (self._pending is not None)

    def _acknowledge(self, held: list[_Held]) -> None:
        # outside our lock: the ack goes through the MQTT client's own locks
        for item in held:
            if item.token is not None:
                self._ack(item.token)
