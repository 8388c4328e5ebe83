"""A camera fed by Frigate: the snapshot of each Frigate event on one Frigate camera is a frame.

It subscribes to `<prefix>/events` (shared with the worker pool when `share_group` is set: each
event message goes to one daemon), to `<prefix>/<camera>/<label>/snapshot` (NOT shared: every
daemon keeps the latest picture of each label, so that whichever gets the event has it; and a
shared subscription gets no retained messages on Mosquitto 2.0.13 and later) and to
`<prefix>/available`. Events are paired with snapshots by frigate.SnapshotPairer; each pair
becomes a `Frame` carrying the event, for the caption payload's `frigate` object.

The event message is acknowledged when its frame is done (or at once when it asks for no caption,
or when no snapshot came for it in the pairing window); snapshots at once.

Lost: not connected to the broker, or Frigate says it is not online. No frame for a while is
normal here (no one at the door), so there is no stall timeout.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Hashable
from dataclasses import dataclass

import paho.mqtt.client as mqtt

from ..sources.frames import SourceState
from ..sources.image_header import DEFAULT_MAX_PIXELS
from ..sources.jpeg_payload import MAX_JPEG_BYTES, Rejection
from ..sources.mqtt_jpeg import FrameTopic, MQTTFrameSource, subscription_filter
from .events import (
    DEFAULT_PREFIX,
    PAIR_WINDOW_S,
    PairerOutput,
    SnapshotPairer,
    available_topic,
    events_topic,
    parse_event,
    snapshot_key,
    snapshot_topic,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FrigateCamera:
    camera: str  # the camera's name in Frigate's configuration
    labels: tuple[str, ...] = ()  # only these objects ("person", "car"); () for all
    prefix: str = DEFAULT_PREFIX  # Frigate's mqtt.topic_prefix
    share_group: str | None = None
    pair_window_s: float = PAIR_WINDOW_S
    max_bytes: int = MAX_JPEG_BYTES  # a larger snapshot is dropped
    max_pixels: int = DEFAULT_MAX_PIXELS  # a snapshot whose header says more is dropped undecoded
    resolution: tuple[int, int] | None = None  # shrink larger snapshots to fit (width, height)


class FrigateSource(MQTTFrameSource):
    def __init__(self, name: str, frigate: FrigateCamera, *args, **kwargs):
        super().__init__(name, FrameTopic(events_topic(frigate.prefix), frigate.share_group,
                                          max_bytes=frigate.max_bytes, max_pixels=frigate.max_pixels,
                                          resolution=frigate.resolution),
                         *args, **kwargs)
        self.frigate = frigate
        self.pairer = SnapshotPairer(frigate.pair_window_s)
        self._pairer_lock = threading.Lock()  # the network thread and the supervisor both use it
        self.frigate_state: str | None = None  # what <prefix>/available last said

    def subscriptions(self) -> list[tuple[str, int]]:
        prefix = self.frigate.prefix
        snapshots = [snapshot_topic(self.frigate.camera, label, prefix)
                     for label in (self.frigate.labels or ("+",))]
        return [(subscription_filter(events_topic(prefix), self.frigate.share_group), 1),
                *[(topic, 1) for topic in snapshots],
                (available_topic(prefix), 1)]

    def handle(self, message: mqtt.MQTTMessage, token: Hashable | None) -> None:
        payload = bytes(message.payload)
        now = self.clock()
        if message.topic == available_topic(self.frigate.prefix):
            self.frigate_state = payload.decode("utf-8", "replace").strip() or None
            self.drop(token)
            return
        key = snapshot_key(message.topic, self.frigate.prefix)
        if key is not None:
            self.drop(token)  # kept in memory; every daemon of the pool has it too
            if payload:  # an empty retained message clears the topic
                with self._pairer_lock:
                    out = self.pairer.snapshot(*key, payload, now, retained=bool(message.retain))
                self._settle(out, message.topic)
            return
        try:
            event = parse_event(payload)
        except ValueError as exc:
            self._bad_frames += 1
            self.rejects.note(Rejection("bad_event", f"not a Frigate event: {exc}"), message.topic)
            self.drop(token)
            return
        if event.camera != self.frigate.camera or (self.frigate.labels and
                                                   event.label not in self.frigate.labels):
            self.drop(token)  # another camera's, or a label not asked for
            return
        with self._pairer_lock:
            out = self.pairer.event(event, now, token)
        self._settle(out, message.topic)

    def liveness(self, since_frame: float | None, since_connect: float | None) -> tuple[SourceState, str]:
        if not self._connected:
            return (SourceState.STARTING, "connecting to the broker") if since_connect is None else \
                (SourceState.LOST, "not connected to the broker")
        if self.frigate_state not in (None, "online"):
            return SourceState.LOST, f"Frigate is {self.frigate_state}"
        return SourceState.STREAMING, "listening for Frigate events"

    def tick(self, now: float) -> None:
        with self._pairer_lock:
            out = self.pairer.expire(now)
        self._settle(out, events_topic(self.frigate.prefix))

    def _settle(self, out: PairerOutput, topic: str) -> None:
        for token in out.done:
            self.drop(token)
        for event in out.unpaired:
            log.info("camera %s: no snapshot of %s %s came within %.0f s; event %s not captioned",
                     self.name, event.camera, event.label, self.frigate.pair_window_s, event.id)
        for pair in out.pairs:
            self.deliver_jpeg(pair.jpeg, topic, pair.token, event=pair.event)
