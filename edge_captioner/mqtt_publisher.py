"""The daemon's MQTT session (paho-mqtt 2.x): captions, states, snapshots, status, Home Assistant
discovery out; commands in. SPEC.md ("MQTT") is the contract for topics, payloads, QoS and retain.

Delivery model
--------------
paho's own queue can neither be bounded with drop-oldest nor inspected, so captions wait in OUR
bounded deque until they are handed to paho. At most `MQTTConfig.queue_limit` captions are held
unconfirmed; beyond that the OLDEST waiting one is dropped, counted (`stats["dropped"]`) and logged.
A single "pump" hands captions over in order while connected, at most `CAPTION_WINDOW` at a time.
A handed-over caption stays on our books (`_inflight`, by message id) until paho's `on_publish`
confirms it (the PUBACK for QoS 1). When the connection drops first, paho would re-send its copy
after the next CONNACK, but only after our `on_connect` returned, behind anything published there:
so `on_connect` takes paho's copies back (`drop_out_messages`) and puts ours back at the head of
the queue, in order. Nothing handed over is lost, and the order holds across reconnects; a
duplicate (the broker got it, the PUBACK got lost) is what QoS 1 allows.

Status, states, snapshots and discovery configs are latest-value topics: each has one slot that
keeps only the newest payload, with at most one copy in flight; a value set while a copy is in
flight goes out when that copy is confirmed (never an older value after a newer one). On every
(re)connect the status, state and discovery slots are sent again, so a broker that lost its
retained store (no persistence, restarted) is repaired.

Threading: paho calls back on its network thread while holding its own locks; captions and states
come from camera threads. `_lock` guards our books and is never held while calling into paho, and
only one thread pumps at a time (others leave a request the pumping thread picks up), so no lock
order between our lock and paho's can deadlock and the hand-over order is the queue order.
"""

from __future__ import annotations

import json
import logging
import math
import ssl
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from . import spool
from .config import MQTTConfig

log = logging.getLogger("edge_captioner.mqtt")

ACTIONS = ("caption_now", "pause", "resume", "set_interval")
CAMERA_STATES = ("streaming", "lost", "paused")
MAX_COMMAND_BYTES = 4096  # a command is a tiny JSON object; anything bigger is not parsed at all
MAX_INTERVAL_S = 86400.0
CAPTION_WINDOW = 20  # captions handed to paho and not yet confirmed
RECONNECT_DELAY_S = (1.0, 60.0)  # paho's exponential backoff: first wait, cap
DROP_LOG_EVERY_S = 10.0  # while dropping, one WARNING per this period (with the running count)
# Reason codes (CONNACK) that mean "the broker does not want us": a configuration problem, worth
# an ERROR per attempt, as opposed to a network problem.
REFUSED = ("Bad user name or password", "Not authorized", "Client identifier not valid", "Banned",
           "Bad authentication method", "Unsupported protocol version")


# -- commands ----------------------------------------------------------------------------------------
@dataclass
class Command:
    camera: str
    action: str  # "caption_now" | "pause" | "resume" | "set_interval"
    interval_s: float | None = None


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number")


def parse_command(payload: bytes, camera: str = "") -> Command:
    """Parse the payload of `<base>/<camera>/set`; raise ValueError (one line) if it is not one of
    {"action": "caption_now"|"pause"|"resume"}, {"interval_s": N} or
    {"action": "set_interval", "interval_s": N}, with 0 < N <= 86400. Nothing else is accepted:
    no other keys, no NaN or infinity, no booleans as numbers."""
    if not isinstance(payload, bytes | bytearray):
        raise ValueError(f"expected bytes, got {type(payload).__name__}")
    if len(payload) > MAX_COMMAND_BYTES:
        raise ValueError(f"payload too large ({len(payload)} bytes, at most {MAX_COMMAND_BYTES})")
    try:
        text = bytes(payload).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("payload is not UTF-8") from None
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise ValueError("payload is nested too deeply") from None
    except ValueError as exc:  # json.JSONDecodeError and our NaN/Infinity refusal
        raise ValueError(f"payload is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    unknown = sorted(set(data) - {"action", "interval_s"})
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(map(repr, unknown))}")
    action = data.get("action", "set_interval" if "interval_s" in data else None)
    if action is None:
        raise ValueError('expected "action" or "interval_s"')
    if not isinstance(action, str) or action not in ACTIONS:
        raise ValueError(f"unknown action {action!r} (expected one of {', '.join(ACTIONS)})")
    if action != "set_interval":
        if "interval_s" in data:
            raise ValueError(f'"interval_s" does not go with action {action!r}')
        return Command(camera, action)
    if "interval_s" not in data:
        raise ValueError('action "set_interval" needs "interval_s"')
    interval = data["interval_s"]
    if isinstance(interval, bool) or not isinstance(interval, int | float):
        raise ValueError(f"interval_s: expected a number, got {interval!r}")
    if not math.isfinite(interval) or not 0 < interval <= MAX_INTERVAL_S:
        raise ValueError(f"interval_s: expected a number > 0 and <= {MAX_INTERVAL_S:g}, got {interval!r}")
    return Command(camera, "set_interval", float(interval))


def _preview(payload: bytes, limit: int = 100) -> str:
    """A log-safe, one-line view of untrusted bytes."""
    shown = repr(bytes(payload[:limit]))
    return shown + (f"... ({len(payload)} bytes)" if len(payload) > limit else "")


# -- Home Assistant discovery --------------------------------------------------------------------------
def _title(camera: str) -> str:
    words = camera.replace("_", " ").replace("-", " ").split()
    return " ".join(words).capitalize() if words else camera


def discovery_messages(
    device_id: str,
    base: str,
    cameras: list[tuple[str, bool]],
    model_name: str,
    sw_version: str,
    prefix: str = "homeassistant",
    enabled: bool = True,
) -> list[tuple[str, bytes]]:
    """(topic, payload) for Home Assistant MQTT discovery, all to be published retained, QoS 1.

    base is `<base_topic>/<device_id>`. Per camera (discovery_entities): the caption as a sensor
    (cut to Home Assistant's 255-character limit; the whole caption JSON as attributes), its
    confidence and latency as sensors, an event entity that fires on every caption (a repeated
    one included), the camera's connectivity (streaming or paused: connected; lost: not), a
    caption-now button, a pause switch, an interval number (the `/set` commands), and when the
    camera publishes snapshots an image entity. The caption, confidence and latency are
    unavailable while the camera is lost (rather than showing a stale caption), as everything is
    while the daemon is offline. An EMPTY payload deletes an entity: that is what goes out for
    every entity when `enabled` is false, and for the image entity of a camera whose snapshots
    are off (it may exist from an earlier configuration)."""
    device = {
        "identifiers": [f"edge_captioner_{device_id}"],
        "name": f"edge-captioner {device_id}",
        "manufacturer": "edge-captioner",
        "model": model_name,
        "sw_version": sw_version,
    }
    # (no support_url: the project has no public address to give yet)
    origin = {"name": "edge-captioner", "sw_version": sw_version}
    messages: list[tuple[str, bytes]] = []
    for camera, snapshot in cameras:
        for component, key, config in discovery_entities(base, camera, snapshot):
            topic = f"{prefix}/{component}/{device_id}/{camera}_{key}/config"
            if not enabled or config is None:
                messages.append((topic, b""))
                continue
            unique_id = f"{device_id}_{camera}_{key}"
            messages.append((topic, _json_bytes({
                "unique_id": unique_id,
                # default_entity_id replaces object_id (deprecated in HA 2025.10, gone in 2026.4):
                # the same entity ids as before, now with their domain
                "default_entity_id": f"{component}.{unique_id}",
                **config,
                "device": device,
                "origin": origin,
            })))
    return messages


def discovery_entities(base: str, camera: str, snapshot: bool
                       ) -> list[tuple[str, str, dict | None]]:
    """(component, key, config without ids and device) of each entity of one camera; None for
    an entity to delete. Pure: Home Assistant's MQTT integration documents each key."""
    topic = f"{base}/{camera}"
    title = _title(camera)
    daemon_online = {"topic": f"{base}/status", "payload_available": "online",
                     "payload_not_available": "offline"}
    camera_seeing = {"topic": f"{topic}/state", "payload_available": "online",
                     "payload_not_available": "offline",
                     "value_template": "{{ 'offline' if value == 'lost' else 'online' }}"}
    while_seeing = {"availability": [daemon_online, camera_seeing], "availability_mode": "all"}
    while_online = {"availability": [daemon_online]}
    command = f"{topic}/set"
    return [
        ("sensor", "caption", {
            "name": f"{title} caption", "state_topic": f"{topic}/caption",
            "value_template": "{{ value_json.caption[:255] }}",
            "json_attributes_topic": f"{topic}/caption", "icon": "mdi:image-text",
            **while_seeing}),
        ("sensor", "confidence", {
            "name": f"{title} caption confidence", "state_topic": f"{topic}/caption",
            "value_template": "{{ (value_json.confidence * 100) | round(1) }}",
            "unit_of_measurement": "%", "state_class": "measurement", "icon": "mdi:percent",
            "entity_category": "diagnostic", **while_seeing}),
        ("sensor", "latency", {
            "name": f"{title} caption latency", "state_topic": f"{topic}/caption",
            "value_template": "{{ value_json.latency_ms }}", "unit_of_measurement": "ms",
            "device_class": "duration", "state_class": "measurement",
            "entity_category": "diagnostic", **while_seeing}),
        ("event", "captioned", {
            "name": f"{title} captioned", "state_topic": f"{topic}/caption",
            "event_types": ["caption"],
            "value_template": ('{{ {"event_type": "caption", "caption": value_json.caption, '
                               '"confidence": value_json.confidence, "seq": value_json.seq} '
                               '| tojson }}'),
            **while_online}),
        ("binary_sensor", "camera", {
            "name": f"{title} camera", "state_topic": f"{topic}/state",
            "device_class": "connectivity",
            "value_template": "{{ 'OFF' if value == 'lost' else 'ON' }}",
            "payload_on": "ON", "payload_off": "OFF", **while_online}),
        ("button", "caption_now", {
            "name": f"{title} caption now", "command_topic": command,
            "payload_press": '{"action": "caption_now"}', "icon": "mdi:camera-iris",
            **while_online}),
        ("switch", "paused", {
            "name": f"{title} paused", "command_topic": command, "state_topic": f"{topic}/state",
            "payload_on": '{"action": "pause"}', "payload_off": '{"action": "resume"}',
            "value_template": "{{ 'ON' if value == 'paused' else 'OFF' }}",
            "state_on": "ON", "state_off": "OFF", "icon": "mdi:pause", **while_online}),
        ("number", "interval", {
            "name": f"{title} caption interval", "command_topic": command,
            "command_template": '{"interval_s": {{ value }}}', "min": 0.1,
            "max": MAX_INTERVAL_S, "step": 0.1, "unit_of_measurement": "s", "mode": "box",
            "entity_category": "config", "icon": "mdi:timer-outline", **while_online}),
        ("image", "snapshot", {
            "name": f"{title} snapshot", "image_topic": f"{topic}/snapshot",
            "content_type": "image/jpeg", **while_seeing} if snapshot else None),
    ]


def _json_bytes(obj: object) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# -- client set-up shared with `watch` -----------------------------------------------------------------
class _Client(mqtt.Client):
    """paho's Client, remembering why the last connection attempt failed: paho's on_connect_fail
    callback does not say (refused TCP connection? TLS certificate? DNS?), and the log should."""

    last_connect_error: BaseException | None = None

    def reconnect(self) -> mqtt.MQTTErrorCode:
        try:
            result = super().reconnect()
        except OSError as exc:
            self.last_connect_error = exc
            raise
        self.last_connect_error = None
        return result


def make_client(config: MQTTConfig, client_id: str, logger: logging.Logger = log) -> _Client:
    """A paho client with the configured protocol, credentials and TLS (not yet connected)."""
    if config.protocol == "5":
        client = _Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    else:
        client = _Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True,
                         protocol=mqtt.MQTTv311)
    if config.username is not None:
        client.username_pw_set(config.username, config.password)
    if config.tls is not None:
        client.tls_set(
            ca_certs=config.tls.ca_certs,
            certfile=config.tls.certfile,
            keyfile=config.tls.keyfile,
            cert_reqs=ssl.CERT_REQUIRED,
            tls_version=ssl.PROTOCOL_TLS_CLIENT,
        )
        if config.tls.insecure:
            client.tls_insecure_set(True)
            logger.warning("mqtt.tls.insecure is true: the broker's certificate is NOT checked against "
                           "the host name %r (anyone with a certificate from that CA can pose as the "
                           "broker)", config.host)
    return client


def connect_async(client: mqtt.Client, config: MQTTConfig) -> None:
    """Start connecting without blocking (the network thread connects and reconnects)."""
    if config.protocol == "5":
        # No session survives us: we re-subscribe and re-publish on every connect anyway.
        client.connect_async(config.host, config.port, config.keepalive, clean_start=True)
    else:
        client.connect_async(config.host, config.port, config.keepalive)


def describe_connect_error(exc: BaseException | None) -> str:
    if exc is None:
        return "connection failed"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if type(exc).__name__ not in text else text


def reason_text(reason_code: object) -> str:
    return str(reason_code) if reason_code is not None else "unknown reason"


# -- the publisher -------------------------------------------------------------------------------------
@dataclass(eq=False)  # identity: two equal captions are still two messages
class _Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    slot: str | None = None  # the latest-value slot it belongs to; None for a caption


@dataclass(eq=False)
class _Slot:
    """The newest payload of a latest-value topic, and whether it still has to go out."""

    topic: str
    qos: int
    retain: bool
    republish: bool  # send again on every (re)connect (repairs a broker's lost retained store)
    payload: bytes | None = None
    dirty: bool = False  # `payload` has not been handed to paho since it was set
    inflight: bool = False  # a copy is with paho, not yet confirmed


class Publisher:
    """The MQTT session of the daemon. Thread-safe; never blocks on the broker (but `stop`)."""

    def __init__(
        self,
        config: MQTTConfig,
        device_id: str,
        cameras: list[tuple[str, bool]],
        model_name: str,
        on_command: Callable[[Command], None],
        sw_version: str,
        *,
        reconnect_delay: tuple[float, float] = RECONNECT_DELAY_S,
        caption_window: int = CAPTION_WINDOW,
    ) -> None:
        self.config = config
        self.device_id = device_id
        self.base = f"{config.base_topic}/{device_id}"
        self.cameras = {name: snapshot for name, snapshot in cameras}
        self.model_name = model_name
        self.on_command = on_command
        self.sw_version = sw_version
        self.reconnect_delay = reconnect_delay
        self.caption_window = max(1, caption_window)
        self.client_id = config.client_id or f"edge-captioner-{device_id}"
        self.status_topic = f"{self.base}/status"
        self.ha_status_topic = f"{config.discovery.prefix}/status"

        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # books changed: an ack, a hand-over, (dis)connect
        self._connected_event = threading.Event()
        self._connected = False
        self._connections = 0
        self._stopped = False
        self._failures = 0  # consecutive failed connection attempts
        self._outage_logged = False
        self._lost_at = 0.0
        # captions: those the last run could not deliver first (spool.py)
        self._spool = spool.spool_path(config.spool_dir, device_id)
        self._pending: deque[_Message] = deque(
            _Message(*caption) for caption in
            (spool.load(self._spool, self.base)[-max(config.queue_limit, 0):]
             if self._spool is not None else []))
        if self._pending:
            log.info("MQTT: %d caption(s) the last run could not deliver are queued first (%s)",
                     len(self._pending), self._spool)
        self._handing: list[_Message] = []  # taken from the books, inside client.publish() right now
        self._inflight: dict[int, _Message] = {}  # mid -> handed over, not yet confirmed (in order)
        self._early_acks: set[int] = set()  # confirmed before client.publish() returned the mid
        self._sent = 0
        self._dropped = 0
        self._dropped_logged = 0
        self._drop_logged_at = -math.inf
        # latest-value topics
        self._slots: dict[str, _Slot] = {}
        self._discovery_topics: list[str] = []
        self._pumping = False
        self._pump_requested = False

        self._make_slot(self.status_topic, qos=1, retain=True, republish=True)
        discovery = config.discovery
        for topic, payload in discovery_messages(device_id, self.base, cameras, model_name, sw_version,
                                                 discovery.prefix, discovery.enabled):
            self._make_slot(topic, qos=1, retain=True, republish=True).payload = payload
            self._discovery_topics.append(topic)
        for name, snapshot in cameras:
            self._make_slot(self._topic(name, "state"), qos=1, retain=True, republish=True)
            if snapshot:
                self._make_slot(self._topic(name, "snapshot"), qos=0, retain=True, republish=False)
            else:
                # snapshots off: clear the JPEG an earlier run with them on left retained
                self._set_slot(self._topic(name, "snapshot"), b"", qos=1, retain=True,
                               republish=False)

        self.client = make_client(config, self.client_id, log)
        self.client.will_set(self.status_topic, "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=reconnect_delay[0], max_delay=reconnect_delay[1])
        # paho's own window only has to be large enough never to queue: ours decides.
        self.client.max_inflight_messages_set(self.caption_window + len(self._slots) + 10)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- public API --------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; returns at once, broker or not."""
        log.info("MQTT: connecting to %s:%d as %s (base topic %s)", self.config.host, self.config.port,
                 self.client_id, self.base)
        connect_async(self.client, self.config)
        self.client.loop_start()

    def publish_caption(self, camera: str, payload: dict, snapshot: bytes | None = None) -> None:
        """Queue a caption (and its JPEG snapshot, if any) for `<base>/<camera>/...`."""
        message = _Message(self._topic(camera, "caption"), _json_bytes(payload), self.config.qos,
                           self.config.retain)
        with self._lock:
            if self._stopped:
                log.warning("MQTT: publisher stopped; caption for %s not sent", camera)
                return
            self._pending.append(message)
            # Only captions not yet handed to paho can be dropped (those handed over are bounded
            # by the window and will be delivered).
            overflow = min(self._caption_count() - max(self.config.queue_limit, 0), len(self._pending))
            for _ in range(max(overflow, 0)):
                self._pending.popleft()
                self._dropped += 1
            if overflow > 0:
                self._log_drops()
            if snapshot is not None:
                self._set_slot(self._topic(camera, "snapshot"), bytes(snapshot), qos=0, retain=True,
                               republish=False)
        self._pump()

    def publish_withheld(self, camera: str, payload: dict) -> None:
        """A caption under the camera's min_confidence, on `<base>/<camera>/withheld`: QoS 0, not
        retained, only the newest counts (it is not the camera's state)."""
        with self._lock:
            self._set_slot(self._topic(camera, "withheld"), _json_bytes(payload), qos=0,
                           retain=False, republish=False)
        self._pump()

    def publish_state(self, camera: str, state: str) -> None:
        """The camera's state (streaming / lost / paused), retained; only the newest one counts."""
        if state not in CAMERA_STATES:
            raise ValueError(f"unknown camera state {state!r} (expected one of {', '.join(CAMERA_STATES)})")
        with self._lock:
            self._set_slot(self._topic(camera, "state"), state.encode(), qos=1, retain=True,
                           republish=True)
        self._pump()

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what we can within `timeout`: queued captions (while connected), then `offline`
        (retained, QoS 1, confirmed by the broker); then disconnect and stop the network thread."""
        timeout = max(timeout, 0.0)
        deadline = time.monotonic() + timeout
        drain_until = time.monotonic() + timeout * 2 / 3  # leave a third of the time for `offline`
        with self._lock:
            if self._stopped:
                return
            while self._connected and self._caption_count() and time.monotonic() < drain_until:
                self._changed.wait(min(0.1, max(drain_until - time.monotonic(), 0)))
            self._stopped = True
            status = self._slots[self.status_topic]
            status.payload, status.dirty = b"offline", True
        self._pump()
        with self._lock:
            while self._connected and (status.dirty or status.inflight) and time.monotonic() < deadline:
                self._changed.wait(min(0.1, max(deadline - time.monotonic(), 0)))
            delivered = not (status.dirty or status.inflight)
            left = self._caption_count()
            # in queue order: handed over (unconfirmed), being handed over, waiting
            undelivered = [(m.topic, m.payload, m.qos, m.retain) for m in
                           [*self._inflight.values(), *self._handing, *self._pending]
                           if m.slot is None]
        if left and self._spool is not None:
            kept = spool.save(self._spool, undelivered, self.config.queue_limit)
            log.warning("MQTT: stopping with %d caption(s) not delivered: %d kept in %s for the "
                        "next run", left, kept, self._spool)
        elif left:
            log.warning("MQTT: stopping with %d caption(s) not delivered (no spool: set "
                        "mqtt.spool_dir, or run as the service, whose StateDirectory= keeps them)",
                        left)
        if not delivered and self._connections:
            log.info("MQTT: could not publish offline before stopping; the broker publishes the last "
                     "will (offline) when it notices we are gone")
        self.client.disconnect()
        self.client.loop_stop()
        with self._lock:
            self._connected = False
        self._connected_event.clear()
        if self._connections:  # "disconnected" from a broker never reached would be untrue
            log.info("MQTT: disconnected from %s:%d", self.config.host, self.config.port)

    @property
    def stats(self) -> dict:
        with self._lock:
            return {
                "queued": self._caption_count(),  # captions accepted, not yet confirmed by the broker
                "inflight": self._inflight_captions(),  # of which handed to paho
                "sent": self._sent,
                "dropped": self._dropped,
                "reconnects": max(self._connections - 1, 0),
                "connected": self._connected,
            }

    def wait_connected(self, timeout: float | None = None) -> bool:
        """True once connected AND subscribed (commands can arrive); False after `timeout`."""
        return self._connected_event.wait(timeout)

    # -- books (call with _lock held) ----------------------------------------------------------------
    def _topic(self, camera: str, leaf: str) -> str:
        return f"{self.base}/{camera}/{leaf}"

    def _make_slot(self, topic: str, *, qos: int, retain: bool, republish: bool) -> _Slot:
        slot = self._slots[topic] = _Slot(topic, qos, retain, republish)
        return slot

    def _set_slot(self, topic: str, payload: bytes, *, qos: int, retain: bool, republish: bool) -> None:
        slot = self._slots.get(topic) or self._make_slot(topic, qos=qos, retain=retain, republish=republish)
        slot.payload, slot.dirty = payload, True

    def _inflight_captions(self) -> int:
        return sum(1 for m in self._inflight.values() if m.slot is None)

    def _caption_count(self) -> int:
        handing = sum(1 for m in self._handing if m.slot is None)
        return len(self._pending) + handing + self._inflight_captions()

    def _log_drops(self) -> None:
        now = time.monotonic()
        if now - self._drop_logged_at >= DROP_LOG_EVERY_S:
            log.warning("MQTT: caption queue full (queue_limit %d): dropped the oldest; %d dropped so far",
                        self.config.queue_limit, self._dropped)
            self._drop_logged_at = now
            self._dropped_logged = self._dropped

    def _take_batch(self) -> list[_Message]:
        """What may be handed to paho now, in order: dirty slots, then captions up to the window."""
        if not self._connected:
            return []
        batch = []
        for slot in self._slots.values():
            if slot.dirty and not slot.inflight and slot.payload is not None:
                slot.dirty, slot.inflight = False, True
                batch.append(_Message(slot.topic, slot.payload, slot.qos, slot.retain, slot.topic))
        room = self.caption_window - self._inflight_captions()
        while room > 0 and self._pending:
            batch.append(self._pending.popleft())
            room -= 1
        return batch

    def _confirmed(self, message: _Message) -> None:
        if message.slot is None:
            self._sent += 1
        else:
            self._slots[message.slot].inflight = False  # if dirty, the newer value goes out next
        self._changed.notify_all()

    def _take_back(self, messages: list[_Message]) -> None:
        """Messages paho does not hold (any more) go back on the books, in their order."""
        captions = [m for m in messages if m.slot is None]
        self._pending.extendleft(reversed(captions))
        for message in messages:
            if message.slot is not None:
                slot = self._slots[message.slot]
                slot.inflight = False
                slot.dirty = slot.payload is not None

    # -- the pump ----------------------------------------------------------------------------------
    def _pump(self) -> None:
        """Hand over whatever may go now. Re-entrant from paho's callbacks; one pumper at a time."""
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

    def _hand_over(self, message: _Message) -> bool:
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

    # -- paho callbacks (network thread) -------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code: ReasonCode, properties) -> None:
        if reason_code.is_failure:
            self._connect_failed(f"the broker refused us: {reason_text(reason_code)}",
                                 refused=str(reason_code) in REFUSED)
            return
        with self._lock:
            # A thread inside client.publish() (it cannot hand over more: we are not connected)
            # must be done before paho's copies are taken back, or its message would be lost.
            give_up = time.monotonic() + 5.0
            while self._handing and time.monotonic() < give_up:
                self._changed.wait(0.05)
        client.drop_out_messages()  # paho would re-send these after this callback: we do, first
        with self._lock:
            self._take_back(list(self._inflight.values()))
            self._inflight.clear()
            self._early_acks.clear()
            self._connected = True
            self._connections += 1
            self._failures = 0
            reconnected = self._connections > 1
            self._outage_logged = False
            queued = self._caption_count()
            unreported = self._dropped - self._dropped_logged
            self._dropped_logged = self._dropped
            if not self._stopped:
                self._slots[self.status_topic].payload = b"online"
            for slot in self._slots.values():
                if slot.republish and slot.payload is not None:
                    slot.dirty = True
            self._changed.notify_all()
        if reconnected:
            log.warning("MQTT: connection to %s:%d restored after %.0f s; %d caption(s) queued",
                        self.config.host, self.config.port, time.monotonic() - self._lost_at, queued)
        else:
            log.info("MQTT: connected to %s:%d", self.config.host, self.config.port)
        if unreported > 0:
            log.warning("MQTT: %d more caption(s) dropped while the broker was away (%d in total)",
                        unreported, self._dropped)
        client.subscribe([(f"{self.base}/+/set", 1), (self.ha_status_topic, 1)])
        self._pump()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if getattr(code, "is_failure", False)]
        if refused:
            log.error("MQTT: broker %s:%d refused our subscriptions to %s/+/set and %s (%s): commands "
                      "will not arrive; check the broker's ACL", self.config.host, self.config.port,
                      self.base, self.ha_status_topic, ", ".join(refused))
        # "Connected" for wait_connected() means the session is complete: commands can arrive.
        self._connected_event.set()

    def _on_connect_fail(self, client, userdata) -> None:
        exc = getattr(client, "last_connect_error", None)
        if isinstance(exc, ssl.SSLError):
            # A certificate or host name problem is a configuration problem, like a refusal.
            self._connect_failed(f"TLS handshake failed: {describe_connect_error(exc)}", refused=True)
        else:
            self._connect_failed(describe_connect_error(exc), refused=False)

    def _connect_failed(self, reason: str, refused: bool) -> None:
        with self._lock:
            self._failures += 1
            first_wait, cap = self.reconnect_delay
            next_try = min(first_wait * 2 ** (self._failures - 1), cap)  # paho's backoff
            first_of_outage = not self._outage_logged
            self._outage_logged = True
        where = f"{self.config.host}:{self.config.port}"
        if refused:
            # Retrying alone will not fix this: say so on every round of the backoff.
            log.error("MQTT: cannot connect to broker %s: %s (check mqtt.host, username, password, tls "
                      "and the broker's ACL); retrying in %g s", where, reason, next_try)
        elif first_of_outage:
            log.warning("MQTT: cannot reach broker %s (%s); retrying with backoff (up to %g s apart), "
                        "captions are queued meanwhile", where, reason, self.reconnect_delay[1])
        else:
            log.debug("MQTT: broker %s still unreachable (%s); next try in %g s", where, reason, next_try)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        with self._lock:
            was_connected, self._connected = self._connected, False
            if was_connected:
                self._lost_at = time.monotonic()
                self._outage_logged = True  # the WARNING below covers this outage
            stopping = self._stopped
            queued = self._caption_count()
            self._changed.notify_all()
        self._connected_event.clear()
        if was_connected and not stopping:
            log.warning("MQTT: connection to %s:%d lost (%s); reconnecting with backoff, %d caption(s) "
                        "queued", self.config.host, self.config.port, reason_text(reason_code), queued)

    def _on_publish(self, client, userdata, mid: int, reason_code, properties) -> None:
        with self._lock:
            message = self._inflight.pop(mid, None)
            if message is None:
                if self._handing:  # the pumping thread has not recorded this mid yet
                    self._early_acks.add(mid)
                return
            self._confirmed(message)
        if getattr(reason_code, "is_failure", False):
            # MQTT 5 brokers say so when they refuse a message (e.g. the ACL); no use retrying.
            log.warning("MQTT: broker refused the message on %s: %s", message.topic, reason_text(reason_code))
        self._pump()

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self._handle_message(message)
        except Exception:  # noqa: BLE001 - nothing may escape into paho's network thread
            log.exception("MQTT: error handling a message on %r", getattr(message, "topic", "?"))

    def _handle_message(self, message: mqtt.MQTTMessage) -> None:
        topic, payload = message.topic, bytes(message.payload)
        if topic == self.ha_status_topic:
            if payload.strip() == b"online":
                log.info("MQTT: Home Assistant is online: re-sending discovery")
                with self._lock:
                    for name in self._discovery_topics:
                        self._slots[name].dirty = True
                self._pump()
            return
        prefix = self.base + "/"
        if not (topic.startswith(prefix) and topic.endswith("/set")):
            log.debug("MQTT: ignoring a message on %r", topic)
            return
        camera = topic[len(prefix):-len("/set")]
        if camera not in self.cameras:
            log.warning("MQTT: command for unknown camera %r ignored (cameras: %s): %s", camera,
                        ", ".join(self.cameras), _preview(payload))
            return
        if not payload:
            # an empty (retained) payload is how a retained command is cleared: not a command
            log.debug("MQTT: empty payload on %s (a cleared retained command) ignored", topic)
            return
        if message.retain:
            # A retained command would run again at every reconnect of ours.
            log.warning("MQTT: retained command on %s ignored (commands must not be retained; clear it "
                        "with: mosquitto_pub -r -n -t '%s'): %s", topic, topic, _preview(payload))
            return
        if len(payload) > MAX_COMMAND_BYTES:
            log.warning("MQTT: command on %s ignored: payload too large (%d bytes, at most %d): %s", topic,
                        len(payload), MAX_COMMAND_BYTES, _preview(payload))
            return
        try:
            command = parse_command(payload, camera)
        except ValueError as exc:
            log.warning("MQTT: malformed command on %s ignored: %s: %s", topic, exc, _preview(payload))
            return
        log.debug("MQTT: command %s", command)
        try:
            self.on_command(command)
        except Exception:  # noqa: BLE001 - a failing handler must not take down the network thread
            log.exception("MQTT: the handler for command %s failed", command)


def new_watch_client_id() -> str:
    """A client id that cannot collide with (and so disconnect) a daemon's."""
    return f"edge-captioner-watch-{uuid.uuid4().hex[:8]}"
