"""The daemon's MQTT session (paho-mqtt 2.x): captions, states, snapshots, status and Home Assistant
discovery out; commands in. docs/contract.md ("MQTT") is the contract for topics, payloads, QoS and retain.

The parts: the topic layout (topics.py), the client and its connection (client.py), what is to be
delivered and in which order (outbox.py: the delivery model), command parsing (commands.py) and
discovery payloads (discovery.py). The session ties them to paho's callbacks, logs the connection's
news, and keeps captions the last run could not deliver (spool.py).

Threading: paho calls back on its network thread while holding its own locks; captions and states
come from camera threads. Nothing re-enters the session from its own callbacks: a command is
checked and parsed there, then queued; the session's dispatcher thread runs the handler, which may
publish (a pause publishes the camera's state) like any other thread. `_lock` guards only the
connection bookkeeping here and is never held while calling into paho or the outbox.
"""

from __future__ import annotations

import json
import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import paho.mqtt.client as mqtt
from paho.mqtt.reasoncodes import ReasonCode

from ..config import MQTTConfig
from . import journal, topics
from .client import REFUSED, connect_async, describe_connect_error, make_client, reason_text
from .commands import MAX_COMMAND_BYTES, Command, parse_command, preview
from .discovery import discovery_messages
from .outbox import CAPTION_WINDOW, Latest, Message, Outbox
from .topics import CameraState

if TYPE_CHECKING:
    from ..service.caption_event import CaptionEvent
    from ..service.events import Event

log = logging.getLogger(__name__)

RECONNECT_DELAY_S = (1.0, 60.0)  # paho's exponential backoff: first wait, cap
DISPATCHER_EXIT_S = 1.0  # at stop, how long a command handler still running is waited for


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
        on_caption: Callable[[str, dict], None] | None = None,
        reconnect_delay: tuple[float, float] = RECONNECT_DELAY_S,
        caption_window: int = CAPTION_WINDOW,
        events: tuple[str, ...] = (),
    ) -> None:
        self.config = config
        self.device_id = device_id
        self.base = topics.device_base(config.base_topic, device_id)
        self.cameras = {name: snapshot for name, snapshot in cameras}
        self.event_cameras = tuple(events)  # the cameras that track and publish events
        self.model_name = model_name
        self.on_command = on_command
        # a pool member (pool.py): every caption of our cameras, any member's, and the status topic
        # that all members share (one member's last will must not say the device is offline)
        self.on_caption = on_caption
        self.sw_version = sw_version
        self.reconnect_delay = reconnect_delay
        self.client_id = config.client_id or f"edge-captioner-{device_id}"
        self.status_topic = topics.status_topic(self.base)
        self.ha_status_topic = topics.ha_status_topic(config.discovery.prefix)

        self._lock = threading.Lock()
        self._connected_event = threading.Event()
        self._connections = 0
        self._failures = 0  # consecutive failed connection attempts
        self._outage_logged = False
        self._lost_at = 0.0
        self._commands: queue.SimpleQueue[Command | None] = queue.SimpleQueue()  # None: stop
        self._dispatcher: threading.Thread | None = None

        # captions: on disk from queued to acknowledged; the last run's first (journal.py)
        self._spool = journal.journal_path(config.spool_dir, device_id)
        self.journal = journal.Journal(self._spool, config.queue_limit)
        self._caption_order = threading.Lock()  # taken only by the threads that queue captions
        spooled = self.journal.load(self.base)
        if spooled:
            log.info("MQTT: %d caption(s) the last run could not deliver are queued first (%s)",
                     len(spooled), self._spool)
        self.client = make_client(config, self.client_id, log)
        self.outbox = Outbox(self.client, status_topic=self.status_topic, queue_limit=config.queue_limit,
                             window=caption_window,
                             captions=[Message(*caption, journal_id=jid) for jid, caption
                                       in zip(self.journal.loaded_ids, spooled, strict=True)])

        # latest-value topics, in the order they go out at a connect (after the status)
        self._discovery_topics: list[str] = []
        discovery = config.discovery
        for topic, payload in discovery_messages(device_id, self.base, cameras, model_name, sw_version,
                                                 discovery.prefix, discovery.enabled,
                                                 events=self.event_cameras):
            self.outbox.declare(topic, qos=1, retain=True, republish=True, payload=payload)
            self._discovery_topics.append(topic)
        for name, snapshot in cameras:
            self.outbox.declare(self._topic(name, topics.STATE), qos=1, retain=True, republish=True)
            self.outbox.declare(self._topic(name, topics.INTERVAL), qos=1, retain=True, republish=True)
            if snapshot:
                self.outbox.declare(self._topic(name, topics.SNAPSHOT), qos=0, retain=True,
                                    republish=False)
            else:
                # snapshots off: clear the JPEG an earlier run with them on left retained
                self.outbox.set_latest(Latest(self._topic(name, topics.SNAPSHOT), b"", qos=1, retain=True))
            if name in self.event_cameras:
                self.outbox.declare(self._topic(name, topics.EVENT_SNAPSHOT), qos=0, retain=True,
                                    republish=False)
                # nothing is present until the tracker says so: not what a last run left retained
                self.outbox.declare(self._topic(name, topics.OCCUPANCY), qos=1, retain=True,
                                    republish=True,
                                    payload=topics.json_bytes(topics.EMPTY_OCCUPANCY))

        self.client.will_set(self.status_topic, topics.OFFLINE, qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=reconnect_delay[0], max_delay=reconnect_delay[1])
        # paho's own window only has to be large enough never to queue: ours decides.
        self.client.max_inflight_messages_set(self.outbox.window + self.outbox.slot_count + 10)
        self.client.on_connect = self._on_connect
        self.client.on_connect_fail = self._on_connect_fail
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    # -- public API --------------------------------------------------------------------------------
    def start(self) -> None:
        """Connect in the background; returns at once, broker or not."""
        self._dispatcher = threading.Thread(target=self._dispatch, name="mqtt-commands", daemon=True)
        self._dispatcher.start()
        log.info("MQTT: connecting to %s:%d as %s (base topic %s)", self.config.host, self.config.port,
                 self.client_id, self.base)
        connect_async(self.client, self.config)
        self.client.loop_start()

    def publish_caption(self, event: CaptionEvent, snapshot: bytes | None = None) -> None:
        """Queue a caption (and its JPEG snapshot, if any) for `<base>/<camera>/...`."""
        camera = event.camera
        message = Message(self._topic(camera, topics.CAPTION), topics.json_bytes(event.payload()),
                          self.config.qos, self.config.retain)
        if self.outbox.closed:
            log.warning("MQTT: publisher stopped; caption for %s not sent", camera)
            return
        jpeg = (None if snapshot is None else
                Latest(self._topic(camera, topics.SNAPSHOT), bytes(snapshot), qos=0, retain=True))
        with self._caption_order:  # journal order = queue order, whichever camera's thread
            message.journal_id = self.journal.add(message.topic, message.payload, message.qos,
                                                  message.retain)
            queued = self.outbox.add_caption(message, jpeg)
        if not queued:
            log.warning("MQTT: publisher stopped; caption for %s not sent", camera)

    def publish_event(self, event: Event, snapshot: bytes | None = None) -> None:
        """An event message (service/events.py) for `<base>/<camera>/event`: QoS 1, not retained,
        queued and journaled like a caption (in order with them, at least once); its snapshot, if
        any, goes to the retained `<base>/<camera>/event/snapshot` just before it."""
        camera = event.camera
        message = Message(self._topic(camera, topics.EVENT), topics.json_bytes(event.payload()),
                          1, False)
        if self.outbox.closed:
            log.warning("MQTT: publisher stopped; event for %s not sent", camera)
            return
        jpeg = (None if snapshot is None else
                Latest(self._topic(camera, topics.EVENT_SNAPSHOT), bytes(snapshot), qos=0,
                       retain=True))
        with self._caption_order:
            message.journal_id = self.journal.add(message.topic, message.payload, message.qos,
                                                  message.retain)
            queued = self.outbox.add_caption(message, jpeg)
        if not queued:
            log.warning("MQTT: publisher stopped; event for %s not sent", camera)

    def publish_occupancy(self, camera: str, occupancy: dict) -> None:
        """What is present on the camera now (`<base>/<camera>/occupancy`, retained JSON); only
        the newest counts."""
        self.outbox.set_latest(Latest(self._topic(camera, topics.OCCUPANCY),
                                      topics.json_bytes(occupancy), qos=1, retain=True,
                                      republish=True))

    def publish_withheld(self, event: CaptionEvent) -> None:
        """A caption under the camera's min_confidence, on `<base>/<camera>/withheld`: QoS 0, not
        retained, only the newest counts (it is not the camera's state)."""
        self.outbox.set_latest(Latest(self._topic(event.camera, topics.WITHHELD),
                                      topics.json_bytes(event.payload()),
                                      qos=0, retain=False))

    def publish_state(self, camera: str, state: CameraState) -> None:
        """The camera's state (streaming / lost / paused), retained; only the newest one counts."""
        if state not in tuple(CameraState):
            raise ValueError(f"unknown camera state {state!r} (expected one of {', '.join(CameraState)})")
        self.outbox.set_latest(Latest(self._topic(camera, topics.STATE), state.encode(), qos=1,
                                      retain=True, republish=True))

    def publish_interval(self, camera: str, seconds: float) -> None:
        """The interval the camera uses (its `interval_s`, or the last `/set` one), retained: Home
        Assistant's interval number shows it; only the newest one counts."""
        self.outbox.set_latest(Latest(self._topic(camera, topics.INTERVAL),
                                      topics.interval_bytes(seconds), qos=1, retain=True,
                                      republish=True))

    def stop(self, timeout: float = 5.0) -> None:
        """Deliver what we can within `timeout`: queued captions (while connected), then `offline`
        (retained, QoS 1, confirmed by the broker); then disconnect and stop the network thread."""
        timeout = max(timeout, 0.0)
        now = time.monotonic()
        # leave a third of the time for `offline`
        closed = self.outbox.close(drain_until=now + timeout * 2 / 3, deadline=now + timeout)
        if closed is None:
            return  # stopped before
        left = len(closed.undelivered)
        kept = self.journal.close()
        if left and self._spool is not None:
            log.warning("MQTT: stopping with %d caption(s) not delivered: %d kept in %s for the "
                        "next run", left, kept, self._spool)
        elif left:
            log.warning("MQTT: stopping with %d caption(s) not delivered (no spool: set "
                        "mqtt.spool_dir, or run as the service, whose StateDirectory= keeps them)",
                        left)
        with self._lock:
            ever_connected = self._connections > 0
        if not closed.status_delivered and ever_connected:
            log.info("MQTT: could not publish offline before stopping; the broker publishes the last "
                     "will (offline) when it notices we are gone")
        self.client.disconnect()
        self.client.loop_stop()
        self.outbox.disconnected()
        self._connected_event.clear()
        if self._dispatcher is not None:  # no command can arrive any more: the ones queued run
            self._commands.put(None)
            self._dispatcher.join(DISPATCHER_EXIT_S)
        if ever_connected:  # "disconnected" from a broker never reached would be untrue
            log.info("MQTT: disconnected from %s:%d", self.config.host, self.config.port)

    @property
    def stats(self) -> dict:
        books = self.outbox.stats()
        with self._lock:
            reconnects = max(self._connections - 1, 0)
        return {
            "queued": books["queued"],  # captions accepted, not yet confirmed by the broker
            "inflight": books["inflight"],  # of which handed to paho
            "sent": books["sent"],
            "dropped": books["dropped"],
            "reconnects": reconnects,
            "connected": books["connected"],
        }

    def wait_connected(self, timeout: float | None = None) -> bool:
        """True once connected AND subscribed (commands can arrive); False after `timeout`."""
        return self._connected_event.wait(timeout)

    def _topic(self, camera: str, leaf: str) -> str:
        return topics.camera_topic(self.base, camera, leaf)

    # -- commands (the dispatcher thread) ------------------------------------------------------------
    def _dispatch(self) -> None:
        while (command := self._commands.get()) is not None:
            log.debug("MQTT: command %s", command)
            try:
                self.on_command(command)
            except Exception:  # noqa: BLE001 - a failing handler must not end the dispatcher
                log.exception("MQTT: the handler for command %s failed", command)

    # -- paho callbacks (network thread) -------------------------------------------------------------
    def _on_connect(self, client, userdata, flags, reason_code: ReasonCode, properties) -> None:
        if reason_code.is_failure:
            self._connect_failed(f"the broker refused us: {reason_text(reason_code)}",
                                 refused=str(reason_code) in REFUSED)
            return
        books = self.outbox.connected()
        with self._lock:
            self._connections += 1
            self._failures = 0
            reconnected = self._connections > 1
            self._outage_logged = False
            lost_at = self._lost_at
        if reconnected:
            log.warning("MQTT: connection to %s:%d restored after %.0f s; %d caption(s) queued",
                        self.config.host, self.config.port, time.monotonic() - lost_at, books.queued)
        else:
            log.info("MQTT: connected to %s:%d", self.config.host, self.config.port)
        if books.unreported_drops > 0:
            log.warning("MQTT: %d more caption(s) dropped while the broker was away (%d in total)",
                        books.unreported_drops, books.dropped)
        subscriptions = [(topics.command_filter(self.base), 1), (self.ha_status_topic, 1)]
        if self.on_caption is not None:
            subscriptions += [(topics.camera_topic(self.base, topics.ANY, topics.CAPTION), 1),
                              (self.status_topic, 1)]
        client.subscribe(subscriptions)
        self.outbox.pump()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if getattr(code, "is_failure", False)]
        if refused:
            log.error("MQTT: broker %s:%d refused our subscriptions to %s and %s (%s): commands "
                      "will not arrive; check the broker's ACL", self.config.host, self.config.port,
                      topics.command_filter(self.base), self.ha_status_topic, ", ".join(refused))
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
        was_connected, queued = self.outbox.disconnected()
        if was_connected:
            with self._lock:
                self._lost_at = time.monotonic()
                self._outage_logged = True  # the WARNING below covers this outage
        self._connected_event.clear()
        if was_connected and not self.outbox.closed:
            log.warning("MQTT: connection to %s:%d lost (%s); reconnecting with backoff, %d caption(s) "
                        "queued", self.config.host, self.config.port, reason_text(reason_code), queued)

    def _on_publish(self, client, userdata, mid: int, reason_code, properties) -> None:
        message = self.outbox.confirm(mid)
        if message is not None and message.slot is None:
            self.journal.ack(message.journal_id)
        if message is not None and getattr(reason_code, "is_failure", False):
            # MQTT 5 brokers say so when they refuse a message (e.g. the ACL); no use retrying.
            log.warning("MQTT: broker refused the message on %s: %s", message.topic, reason_text(reason_code))

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self._handle_message(message)
        except Exception:  # noqa: BLE001 - nothing may escape into paho's network thread
            log.exception("MQTT: error handling a message on %r", getattr(message, "topic", "?"))

    def _pool_message(self, topic: str, payload: bytes) -> bool:
        """A caption or status message that a pool member follows; False for any other topic."""
        if topic == self.status_topic:
            if payload == topics.OFFLINE.encode() and not self.outbox.closed:
                log.info("MQTT: another member of the pool went offline; saying online again")
                self.outbox.resend([self.status_topic])
            return True
        camera = topics.leaf_camera(self.base, topic, topics.CAPTION)
        if camera is None:
            return False
        if camera in self.cameras and payload:
            try:
                caption = json.loads(payload)
            except ValueError:
                log.debug("MQTT: not a caption on %s ignored", topic)
                return True
            self.on_caption(camera, caption)
        return True

    def _handle_message(self, message: mqtt.MQTTMessage) -> None:
        topic, payload = message.topic, bytes(message.payload)
        if topic == self.ha_status_topic:
            if payload.strip() == b"online":  # Home Assistant's birth message
                log.info("MQTT: Home Assistant is online: re-sending discovery")
                self.outbox.resend(self._discovery_topics)
            return
        if self.on_caption is not None and self._pool_message(topic, payload):
            return
        camera = topics.command_camera(self.base, topic)
        if camera is None:
            log.debug("MQTT: ignoring a message on %r", topic)
            return
        if camera not in self.cameras:
            log.warning("MQTT: command for unknown camera %r ignored (cameras: %s): %s", camera,
                        ", ".join(self.cameras), preview(payload))
            return
        if not payload:
            # an empty (retained) payload is how a retained command is cleared: not a command
            log.debug("MQTT: empty payload on %s (a cleared retained command) ignored", topic)
            return
        if message.retain:
            # A retained command would run again at every reconnect of ours.
            log.warning("MQTT: retained command on %s ignored (commands must not be retained; clear it "
                        "with: mosquitto_pub -r -n -t '%s'): %s", topic, topic, preview(payload))
            return
        if len(payload) > MAX_COMMAND_BYTES:
            log.warning("MQTT: command on %s ignored: payload too large (%d bytes, at most %d): %s", topic,
                        len(payload), MAX_COMMAND_BYTES, preview(payload))
            return
        try:
            command = parse_command(payload, camera)
        except ValueError as exc:
            log.warning("MQTT: malformed command on %s ignored: %s: %s", topic, exc, preview(payload))
            return
        self._commands.put(command)  # run by the dispatcher, not inside paho's callback
