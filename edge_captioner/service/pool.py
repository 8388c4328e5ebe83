"""A camera's captions when several daemons (a pool, `workers:` in config.yaml) caption its frames.

The broker deals a camera's frames round robin over the pool's members, so two members can finish
frames of one camera out of order (by up to one caption's latency). Each member follows the
camera's caption topic (not shared: every member sees every caption, its own included) and keeps
the newest caption published there in a `CaptionFence`:

* a caption of a frame OLDER than the newest published caption's frame is not published (it would
  replace the retained, newer scene): `admits` says no, and the worker counts it as superseded;
* the published `seq` is one above the larger of the member's own last and the highest seen, so a
  consumer sees `seq` grow per camera across members (two members may publish the same seq within
  one round trip of the broker; `timestamp` orders those);
* "publish when the text changes", and the heartbeat, go by the newest caption seen, whoever
  published it.

A frame's `timestamp` is the member's clock when the frame arrived: the boards' clocks must agree
(NTP), as they must for the timestamps anyway.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SeenCaption:
    seq: int
    timestamp: datetime
    caption: str


def seen_caption(payload: object) -> SeenCaption | None:
    """The parts of a caption payload (worker.CaptionEvent.payload) the fence needs; None when it
    is not one (a consumer's stray message on the topic)."""
    if not isinstance(payload, dict):
        return None
    seq, stamp, caption = payload.get("seq"), payload.get("timestamp"), payload.get("caption")
    if isinstance(seq, bool) or not isinstance(seq, int) or not isinstance(caption, str) \
            or not isinstance(stamp, str):
        return None
    try:
        timestamp = datetime.fromisoformat(stamp)
    except ValueError:
        return None
    if timestamp.tzinfo is None:
        return None
    return SeenCaption(seq, timestamp, caption)


class CaptionFence:
    """The newest caption published for one camera, by any member (see the module doc).
    `observe` comes from the MQTT thread, the rest from the camera's worker."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._seen_at = -math.inf
        self._lock = threading.Lock()
        self._newest: SeenCaption | None = None
        self._top_seq = 0

    def observe(self, seen: SeenCaption) -> None:
        now = self.clock()
        with self._lock:
            self._seen_at = now
            self._top_seq = max(self._top_seq, seen.seq)
            if self._newest is None or seen.timestamp >= self._newest.timestamp:
                self._newest = seen

    def admits(self, timestamp: datetime) -> bool:
        """Whether a caption of the frame taken at `timestamp` may be published."""
        with self._lock:
            return self._newest is None or timestamp >= self._newest.timestamp

    def next_seq(self, own_last: int) -> int:
        with self._lock:
            return max(own_last, self._top_seq) + 1

    @property
    def seen_at(self) -> float:
        """When (this member's clock) a caption of the camera was last seen; -inf: never."""
        with self._lock:
            return self._seen_at

    @property
    def last_caption(self) -> str | None:
        with self._lock:
            return None if self._newest is None else self._newest.caption
