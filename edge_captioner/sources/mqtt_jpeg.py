"""A camera whose frames arrive as JPEG payloads on an MQTT topic (ESP32-CAM style).

`MQTTFrameSource` offers what the daemon's worker uses of `camera.Camera`: start(), stop(timeout),
state ("starting" / "streaming" / "lost"), last_progress, frames_read, bad_frames, reopen_count,
latest(newer_than, timeout), wait_for_readers(timeout) and an on_state(name, state) callback. So
the gate, the camera's state topic, captions and Home Assistant entities work as for any camera.

* Frames: each QoS 1 message is acknowledged by us, when the worker is done with it
  (frame_slot.py): at least once. A message that is not a whole JPEG under MAX_JPEG_BYTES, whose
  header says more than `max_pixels`, or whose data the decoder reports corrupt is dropped and
  acknowledged, with one log line per kind per minute (jpeg_payload.py); the camera goes on. A
  retained frame is dropped: it is whatever the camera sent last, maybe days ago.
* Worker pools: with `share_group`, the subscription is `$share/<group>/<topic>`, so that each
  frame goes to one of the daemons in the group. A session that outlives a crash (MQTT 5,
  `session_expiry_s` > 0, a client id of its own per daemon) is what keeps a killed worker's
  unacknowledged frames: Mosquitto gives them back to that worker when it reconnects, not to the
  other members (docs/topology.md, with the measurements).
* Lost: not connected to the broker (nothing can arrive), or connected with no frame for
  `stall_timeout_s`: a camera that stopped publishing and a dead one look the same from here, so
  time is the only signal; a camera that publishes rarely needs a stall_timeout_s above its period.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ..config import MQTTConfig
from ..mqtt.client import connect_async, make_client
from .camera import TICK_S, StateCallback, report_state
from .frame_slot import FrameSlot
from .frames import Frame, SourceState, fit_within
from .image_header import DEFAULT_MAX_PIXELS
from .jpeg_payload import MAX_JPEG_BYTES, RejectLog, decode_jpeg

if TYPE_CHECKING:
    from ..frigate.events import FrigateEvent

log = logging.getLogger(__name__)

SHARE_PREFIX = "$share/"
RECONNECT_DELAY_S = (1.0, 30.0)
FRAME_ID_PROPERTY = "frame"  # an MQTT 5 user property: the sender's own id of the frame
FRAME_ID_MAX_CHARS = 64


@dataclass(frozen=True)
class FrameTopic:
    """Where a camera's frames come from and how they are taken."""

    topic: str  # e.g. "esp32cam/porch/jpeg"; MQTT wildcards allowed
    share_group: str | None = None  # None: every daemon gets every frame
    qos: int = 1
    stall_timeout_s: float = 10.0
    max_bytes: int = MAX_JPEG_BYTES
    max_pixels: int = DEFAULT_MAX_PIXELS  # a frame whose header says more is dropped undecoded
    resolution: tuple[int, int] | None = None  # shrink larger frames to fit (width, height)


def subscription_filter(topic: str, share_group: str | None) -> str:
    """The filter to subscribe to: the topic, or the shared subscription on it."""
    return f"{SHARE_PREFIX}{share_group}/{topic}" if share_group else topic


def frame_id(message: mqtt.MQTTMessage) -> str | None:
    """The frame's id as the sender gave it (a firmware counter, a benchmark's frame number):
    the MQTT 5 user property `frame`; None without one."""
    properties = getattr(message, "properties", None)
    for key, value in getattr(properties, "UserProperty", None) or ():
        if key == FRAME_ID_PROPERTY and value:
            return str(value)[:FRAME_ID_MAX_CHARS]
    return None


def source_state(connected: bool, since_frame: float | None, since_connect: float | None,
                 stall_timeout_s: float) -> tuple[SourceState, str]:
    """(state, reason) of an MQTT-fed camera from what is known now: seconds since the last frame
    and since the current connection came up (None: never)."""
    if not connected:
        if since_connect is None and since_frame is None:
            return SourceState.STARTING, "connecting to the broker"
        return SourceState.LOST, "not connected to the broker"
    if since_frame is not None and since_frame <= stall_timeout_s:
        return SourceState.STREAMING, "frames are arriving"
    if since_frame is None and (since_connect is None or since_connect <= stall_timeout_s):
        return SourceState.STARTING, "waiting for the first frame"
    idle = since_frame if since_frame is not None else since_connect
    return SourceState.LOST, f"no frame for {idle:.1f} s (stalled)"


class MQTTFrameSource:
    """The latest frame published on a topic; see the module doc. Subclasses (frigate/source.py)
    change what is subscribed to and how a message becomes a frame."""

    def __init__(self, name: str, frames: FrameTopic, mqtt_config: MQTTConfig, client_id: str,
                 on_state: StateCallback | None = None, *, session_expiry_s: int = 0,
                 reconnect_delay: tuple[float, float] = RECONNECT_DELAY_S,
                 clock: Callable[[], float] = time.monotonic):
        self.name = name
        self.frames = frames
        self.mqtt_config = mqtt_config
        self.client_id = client_id
        self.on_state = on_state
        self.session_expiry_s = session_expiry_s
        self.clock = clock
        self.slot = FrameSlot(self._ack)
        self.rejects = RejectLog(name, log)
        self._state = SourceState.STARTING
        self._seq = itertools.count(1)
        self._frames_read = 0
        self._bad_frames = 0
        self._connections = 0
        self._generation = 0  # acknowledgements are only valid on the connection that delivered
        self._connected = False
        self._connected_at: float | None = None
        self._last_frame_at: float | None = None
        self._last_progress = clock()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=f"camera-{name}", daemon=True)
        self.client = make_client(mqtt_config, client_id, log)
        self.client.manual_ack_set(True)
        self.client.reconnect_delay_set(*reconnect_delay)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    # -- the Camera interface -----------------------------------------------------------------------
    @property
    def state(self) -> SourceState:
        return self._state

    @property
    def last_progress(self) -> float:
        return self._last_progress

    @property
    def frames_read(self) -> int:
        return self._frames_read

    @property
    def bad_frames(self) -> int:
        return self._bad_frames

    @property
    def connected(self) -> bool:
        return self._connected

    @property
    def reopen_count(self) -> int:
        """Connections to the broker after the first one."""
        return max(self._connections - 1, 0)

    def start(self) -> None:
        connect_async(self.client, self.mqtt_config, self.session_expiry_s)
        self.client.loop_start()
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Acknowledge the frame the worker finished, then leave the broker, ending a kept session:
        a member stopped on purpose must not keep being dealt frames (Mosquitto deals a group's
        messages to a kept session's member while it is away) until its session expires. Only a
        crash leaves a session waiting for the member's return."""
        self._stopping.set()
        left = self.slot.stop()
        if left:
            log.debug("camera %s: %d frame not started at the stop", self.name, left)
        if self.mqtt_config.protocol == "5" and self.session_expiry_s > 0:
            properties = Properties(PacketTypes.DISCONNECT)
            properties.SessionExpiryInterval = 0
            self.client.disconnect(properties=properties)
        else:
            self.client.disconnect()
        self.client.loop_stop()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def wait_for_readers(self, timeout: float) -> bool:
        return True  # no thread of ours is inside OpenCV once stop() returned

    def latest(self, newer_than: int = 0, timeout: float | None = None) -> Frame | None:
        return self.slot.latest(newer_than, timeout)

    # -- what subclasses change --------------------------------------------------------------------
    def subscriptions(self) -> list[tuple[str, int]]:
        return [(subscription_filter(self.frames.topic, self.frames.share_group), self.frames.qos)]

    def handle(self, message: mqtt.MQTTMessage, token: Hashable | None) -> None:
        """A message arrived: make a frame of it (`deliver`) or drop it (`drop`)."""
        if message.retain:
            log.debug("camera %s: retained frame on %s ignored (stale)", self.name, message.topic)
            self.drop(token)
            return
        self.deliver_jpeg(bytes(message.payload), message.topic, token, frame_id=frame_id(message))

    def liveness(self, since_frame: float | None, since_connect: float | None) -> tuple[SourceState, str]:
        return source_state(self._connected, since_frame, since_connect, self.frames.stall_timeout_s)

    def tick(self, now: float) -> None:
        """Called by the supervisor every TICK_S (for timeouts of a subclass's own)."""

    # -- for handle() ---------------------------------------------------------------------------------
    def deliver_jpeg(self, payload: bytes, topic: str, token: Hashable | None,
                     frame_id: str | None = None, event: FrigateEvent | None = None) -> bool:
        image, rejection = decode_jpeg(payload, self.frames.max_bytes, self.frames.max_pixels)
        if rejection is not None:
            self._bad_frames += 1
            self.rejects.note(rejection, topic)
            self.drop(token)
            return False
        self.deliver(fit_within(image, self.frames.resolution), token, event=event, frame_id=frame_id)
        return True

    def deliver(self, image, token: Hashable | None, event: FrigateEvent | None = None,
                frame_id: str | None = None) -> None:
        now = self.clock()
        with self._lock:
            frame = Frame(image, next(self._seq), now, datetime.now(UTC), frame_id=frame_id, event=event)
            self._frames_read += 1
            self._last_frame_at = now
        replaced = self.slot.put(frame, token)
        if replaced is not None:  # latest frame wins: not a loss (benchmarks/worker_pool.py counts it)
            log.debug("camera %s: frame %s superseded before it was captioned", self.name,
                      replaced.frame_id or replaced.seq)

    def drop(self, token: Hashable | None) -> None:
        self._ack(token)

    # -- paho callbacks (network thread) --------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            log.warning("camera %s: broker %s:%d refused us: %s", self.name, self.mqtt_config.host,
                        self.mqtt_config.port, reason_code)
            return
        with self._lock:
            self._generation += 1
            self._connections += 1
            self._connected = True
            self._connected_at = self.clock()
        client.subscribe(self.subscriptions())

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            self._connected = False

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        token = (self._generation, message.mid, message.qos) if message.qos > 0 else None
        try:
            self.handle(message, token)
        except Exception:  # noqa: BLE001 - one odd message must not end the source
            log.exception("camera %s: message on %s failed", self.name, message.topic)
            self.drop(token)

    def _ack(self, token: Hashable | None) -> None:
        if token is None:
            return
        generation, mid, qos = token
        # A message id is only meaningful on the connection that delivered it: after a reconnect
        # the broker resends what is unacknowledged (with new ids) or, clean session, forgot it.
        if generation == self._generation and self._connected:
            self.client.ack(mid, qos)

    # -- the supervisor --------------------------------------------------------------------------------
    def _supervise(self) -> None:
        while not self._stopping.is_set():
            now = self.clock()
            self._last_progress = now
            with self._lock:
                since_frame = None if self._last_frame_at is None else now - self._last_frame_at
                since_connect = None if self._connected_at is None else now - self._connected_at
            state, reason = self.liveness(since_frame, since_connect)
            self._set_state(state, reason)
            try:
                self.tick(now)
            except Exception:  # noqa: BLE001 - the supervisor must keep ticking
                log.exception("camera %s: tick failed", self.name)
            self._stopping.wait(TICK_S)

    def _set_state(self, state: SourceState, reason: str) -> None:
        if state == self._state:
            return
        self._state = state
        report_state(log, self.name, state, reason, self.on_state)
