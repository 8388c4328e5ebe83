"""The MQTT package's pure parts, without a broker: the topic layout, the outbox's delivery model
driven through a fake client (paho's side of the seam: it numbers what it takes and holds it until
the test confirms it), and the daemon's command table. tests/service/test_mqtt.py runs the whole session
against real brokers."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import paho.mqtt.client as mqtt
import pytest

from edge_captioner.mqtt import topics
from edge_captioner.mqtt.commands import ACTIONS, Command, parse_command
from edge_captioner.mqtt.discovery import discovery_entities
from edge_captioner.mqtt.outbox import Closed, Latest, Message, Outbox, Reconnected
from edge_captioner.service.daemon import COMMAND_HANDLERS

BASE = "edge_captioner/dev1"
STATUS = "edge_captioner/dev1/status"
CAPTION = "edge_captioner/dev1/cam/caption"
STATE = "edge_captioner/dev1/cam/state"
SNAPSHOT = "edge_captioner/dev1/cam/snapshot"
ONLINE = (STATUS, b"online")


# -- the topic layout (the literals are docs/contract.md's) ------------------------------------------
def test_topics_build_the_spec_layout():
    base = topics.device_base("home/edge", "dev1")
    assert base == "home/edge/dev1"
    assert topics.status_topic(base) == "home/edge/dev1/status"
    assert [topics.camera_topic(base, "porch", leaf) for leaf in topics.CAMERA_LEAVES] == [
        "home/edge/dev1/porch/caption", "home/edge/dev1/porch/state", "home/edge/dev1/porch/snapshot",
        "home/edge/dev1/porch/withheld", "home/edge/dev1/porch/set", "home/edge/dev1/porch/interval",
        "home/edge/dev1/porch/event", "home/edge/dev1/porch/occupancy"]
    assert topics.camera_topic(base, "porch", topics.EVENT_SNAPSHOT) == \
        "home/edge/dev1/porch/event/snapshot"
    assert topics.command_filter(base) == "home/edge/dev1/+/set"
    assert topics.ha_status_topic("homeassistant") == "homeassistant/status"
    assert (topics.discovery_topic("homeassistant", "sensor", "dev1", "porch_caption")
            == "homeassistant/sensor/dev1/porch_caption/config")
    assert topics.all_devices_filters("home/edge", (topics.CAPTION, topics.STATUS)) == [
        "home/edge/+/+/caption", "home/edge/+/status"]


@pytest.mark.parametrize("topic, camera", [
    ("home/edge/dev1/porch/set", "porch"),
    ("home/edge/dev1/porch/state", None),
    ("home/edge/dev2/porch/set", None),
    ("home/edge/dev1/set", None),
    ("other/home/edge/dev1/porch/set", None),
])
def test_command_camera_parses_only_a_set_topic(topic, camera):
    assert topics.command_camera("home/edge/dev1", topic) == camera


def test_split_is_the_inverse_of_the_builders():
    base = topics.device_base("home/edge", "dev1")
    for leaf in topics.CAMERA_LEAVES:
        assert topics.split(topics.camera_topic(base, "porch", leaf), "home/edge") == ("dev1", "porch", leaf)
    assert topics.split(topics.status_topic(base), "home/edge") == ("dev1", None, "status")
    assert topics.split("home/edge/dev1/porch/other", "home/edge") is None
    assert topics.split("home/edge/dev1/porch", "home/edge") is None
    assert topics.split("elsewhere/dev1/status", "home/edge") is None


# -- Home Assistant's interval number and the `/set` command agree ---------------------------------------
def interval_number(base: str = BASE, camera: str = "cam") -> dict:
    (config,) = [c for component, key, c in discovery_entities(base, camera, False)
                 if (component, key) == ("number", "interval")]
    return config


def test_the_interval_number_reads_a_retained_state_topic():
    """Without a state topic Home Assistant shows the last value it sent, even after the daemon
    restarted with its configured interval."""
    number = interval_number()
    assert number["state_topic"] == topics.camera_topic(BASE, "cam", topics.INTERVAL)
    assert number["state_topic"] == "edge_captioner/dev1/cam/interval"


def test_set_interval_takes_exactly_the_range_discovery_declares():
    number = interval_number()
    lo, hi = number["min"], number["max"]
    assert (lo, hi) == (0.1, 86400)
    for accepted in (lo, 2.5, hi):
        assert parse_command(json.dumps({"interval_s": accepted}).encode()).interval_s == accepted
    for refused in (1e-300, 0.05, math.nextafter(lo, 0), math.nextafter(hi, math.inf)):
        with pytest.raises(ValueError, match="interval_s: expected a number 0.1..86400"):
            parse_command(json.dumps({"interval_s": refused}).encode())


@pytest.mark.parametrize("payload", [
    b'{"action": "pause", "action": "resume"}',
    b'{"interval_s": 5, "interval_s": 1e-300}',
    b'{"interval_s": 5, "interval_s": 5}',
    b'{"action": "set_interval", "interval_s": 5, "action": "set_interval"}',
])
def test_a_command_with_a_duplicate_key_is_refused(payload):
    """Which of two values would win is the parser's choice, not the sender's: refused."""
    with pytest.raises(ValueError, match="duplicate key") as caught:
        parse_command(payload, "cam")
    assert "\n" not in str(caught.value)


# -- the outbox, against a fake client ------------------------------------------------------------------
@dataclass
class Info:
    rc: int
    mid: int


class FakeClient:
    """Numbers what it takes (`published`, in order) and holds it until confirmed or dropped."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.held: dict[int, tuple[str, bytes]] = {}  # mid -> not confirmed yet
        self.rc = mqtt.MQTT_ERR_SUCCESS
        self.during_publish = None  # called with the mid inside publish(): an ack that overtakes it
        self._mid = 0

    def publish(self, topic: str, payload: bytes, qos: int, retain: bool) -> Info:
        if "+" in topic:
            raise ValueError("Publish topic cannot contain wildcards.")
        self._mid += 1
        if self.rc == mqtt.MQTT_ERR_SUCCESS:
            self.published.append((topic, payload))
            self.held[self._mid] = (topic, payload)
        if self.during_publish is not None:
            self.during_publish(self._mid)
        return Info(self.rc, self._mid)

    def drop_out_messages(self) -> None:
        self.held.clear()

    def mid_of(self, topic: str, payload: bytes) -> int:
        return next(mid for mid, held in self.held.items() if held == (topic, payload))


def caption(n: int) -> Message:
    return Message(CAPTION, str(n).encode(), 1, True)


def captions_out(client: FakeClient) -> list[int]:
    return [int(payload) for topic, payload in client.published if topic == CAPTION]


def make_outbox(queue_limit: int = 100, window: int = 20, connect: bool = True):
    client = FakeClient()
    outbox = Outbox(client, status_topic=STATUS, queue_limit=queue_limit, window=window)
    if connect:
        outbox.connected()
        outbox.pump()
    return client, outbox


def test_status_online_goes_first_at_a_connect():
    client, outbox = make_outbox()
    assert client.published == [ONLINE]
    assert outbox.stats() == {"queued": 0, "inflight": 0, "sent": 0, "dropped": 0, "connected": True}


def test_order_holds_across_a_disconnect_and_the_take_back():
    client, outbox = make_outbox(window=3)
    for n in range(1, 6):
        outbox.add_caption(caption(n))
    assert captions_out(client) == [1, 2, 3]  # the window
    outbox.confirm(client.mid_of(CAPTION, b"1"))
    assert captions_out(client) == [1, 2, 3, 4]

    assert outbox.disconnected() == (True, 4)  # 2, 3, 4 in flight and 5 waiting stay on the books
    outbox.add_caption(caption(6))
    assert captions_out(client) == [1, 2, 3, 4]  # nothing is handed over while disconnected
    client.published.clear()
    assert outbox.connected() == Reconnected(queued=5, unreported_drops=0, dropped=0)
    assert client.held == {}  # the client's copies were taken back: ours go first, in order
    outbox.pump()
    assert client.published == [ONLINE, (CAPTION, b"2"), (CAPTION, b"3"), (CAPTION, b"4")]
    for n in (2, 3, 4, 5):
        outbox.confirm(client.mid_of(CAPTION, str(n).encode()))
    assert captions_out(client) == [2, 3, 4, 5, 6]
    assert outbox.stats()["sent"] == 5 and outbox.stats()["queued"] == 1  # 1 to 5; 6 in flight


def test_a_full_queue_drops_the_oldest_waiting_and_counts():
    client, outbox = make_outbox(queue_limit=3, connect=False)
    for n in range(1, 6):
        outbox.add_caption(caption(n))
    assert outbox.stats() == {"queued": 3, "inflight": 0, "sent": 0, "dropped": 2, "connected": False}
    # the first drop was logged at once; the second waits for the report at the reconnect
    assert outbox.connected() == Reconnected(queued=3, unreported_drops=1, dropped=2)
    outbox.pump()
    assert captions_out(client) == [3, 4, 5]


def test_captions_handed_over_are_never_dropped():
    client, outbox = make_outbox(queue_limit=3, window=2)
    for n in range(1, 5):
        outbox.add_caption(caption(n))
    assert captions_out(client) == [1, 2]  # in flight: kept
    assert outbox.stats()["dropped"] == 1  # 3, the oldest waiting
    outbox.confirm(client.mid_of(CAPTION, b"1"))
    assert captions_out(client) == [1, 2, 4]


def test_the_window_bounds_what_is_in_flight():
    client, outbox = make_outbox(window=2)
    for n in range(1, 6):
        outbox.add_caption(caption(n))
    assert captions_out(client) == [1, 2]
    assert outbox.stats() == {"queued": 5, "inflight": 2, "sent": 0, "dropped": 0, "connected": True}
    outbox.confirm(client.mid_of(CAPTION, b"2"))  # any confirmation makes room for one
    assert captions_out(client) == [1, 2, 3]
    assert outbox.stats()["inflight"] == 2 and outbox.stats()["sent"] == 1


def test_a_latest_value_set_while_a_copy_is_in_flight_goes_after_the_confirm():
    client, outbox = make_outbox()
    outbox.set_latest(Latest(STATE, b"lost", qos=1, retain=True, republish=True))
    outbox.set_latest(Latest(STATE, b"streaming", qos=1, retain=True, republish=True))
    outbox.set_latest(Latest(STATE, b"paused", qos=1, retain=True, republish=True))
    assert client.published == [ONLINE, (STATE, b"lost")]  # one copy in flight at a time
    outbox.confirm(client.mid_of(STATE, b"lost"))
    # the newest, never the older "streaming" after it
    assert client.published == [ONLINE, (STATE, b"lost"), (STATE, b"paused")]
    outbox.confirm(client.mid_of(STATE, b"paused"))
    assert client.published[-1] == (STATE, b"paused") and len(client.published) == 3


def test_a_reconnect_sends_the_republish_slots_again_and_not_the_others():
    client, outbox = make_outbox(connect=False)
    outbox.declare("ha/sensor/dev1/cam_caption/config", qos=1, retain=True, republish=True, payload=b"{}")
    outbox.declare(STATE, qos=1, retain=True, republish=True)
    outbox.set_latest(Latest(SNAPSHOT, b"jpeg", qos=0, retain=True))
    outbox.set_latest(Latest(STATE, b"streaming", qos=1, retain=True, republish=True))
    outbox.connected()
    outbox.pump()
    first = [ONLINE, ("ha/sensor/dev1/cam_caption/config", b"{}"), (STATE, b"streaming"),
             (SNAPSHOT, b"jpeg")]
    assert client.published == first  # in the order the slots were made
    for topic, payload in first:
        outbox.confirm(client.mid_of(topic, payload))
    outbox.disconnected()
    outbox.connected()
    outbox.pump()
    assert client.published[4:] == first[:3]  # the snapshot is not sent again


def test_resend_sends_a_slot_again():
    client, outbox = make_outbox()
    outbox.set_latest(Latest(STATE, b"streaming", qos=1, retain=True))
    outbox.confirm(client.mid_of(STATE, b"streaming"))
    outbox.resend([STATE])
    assert client.published == [ONLINE, (STATE, b"streaming"), (STATE, b"streaming")]


def test_an_ack_before_publish_returns_is_not_lost():
    client, outbox = make_outbox()
    acks: list = []
    client.during_publish = lambda mid: acks.append(outbox.confirm(mid))  # the network thread, early
    outbox.add_caption(caption(1))
    assert acks == [None]  # the mid was not on the books yet: kept as an early ack
    assert outbox.stats() == {"queued": 0, "inflight": 0, "sent": 1, "dropped": 0, "connected": True}


def test_a_message_the_client_does_not_take_is_retried_and_one_it_refuses_is_dropped():
    client, outbox = make_outbox()
    client.rc = mqtt.MQTT_ERR_QUEUE_SIZE
    outbox.add_caption(caption(1))
    assert captions_out(client) == [] and outbox.stats()["queued"] == 1
    client.rc = mqtt.MQTT_ERR_SUCCESS
    outbox.pump()
    assert captions_out(client) == [1]

    outbox.add_caption(Message("edge_captioner/dev1/+/caption", b"2", 1, True))  # a wildcard: never
    outbox.add_caption(caption(3))
    assert captions_out(client) == [1, 3]
    assert outbox.stats()["dropped"] == 1


def test_no_conn_means_the_client_holds_it_for_the_reconnect():
    client, outbox = make_outbox()
    client.rc = mqtt.MQTT_ERR_NO_CONN
    outbox.add_caption(caption(1))
    assert outbox.stats()["inflight"] == 1  # on our books, in flight; a reconnect takes it back
    client.rc = mqtt.MQTT_ERR_SUCCESS
    outbox.disconnected()
    outbox.connected()
    outbox.pump()
    assert captions_out(client) == [1]


def test_close_says_offline_and_returns_what_was_not_delivered_in_order():
    client, outbox = make_outbox(window=2)
    for n in range(1, 5):
        outbox.add_caption(caption(n))
    outbox.confirm(client.mid_of(CAPTION, b"1"))
    assert captions_out(client) == [1, 2, 3]
    outbox.confirm(client.mid_of(*ONLINE))  # else "offline" would wait behind "online" in flight
    client.during_publish = lambda mid: outbox.confirm(mid) if client.held[mid][0] == STATUS else None
    closed = outbox.close(drain_until=0.0, deadline=0.0)  # no time to drain: in the past
    assert client.published[-1] == (STATUS, b"offline")
    assert isinstance(closed, Closed) and closed.status_delivered
    assert [int(m.payload) for m in closed.undelivered] == [2, 3, 4]  # in flight first, then waiting
    assert outbox.add_caption(caption(5)) is False
    assert outbox.close(0.0, 0.0) is None
    # a reconnect after the close does not say online again; the captions still go
    client.during_publish = None
    outbox.disconnected()
    outbox.connected()
    outbox.pump()
    assert client.published[-3:] == [(STATUS, b"offline"), (CAPTION, b"2"), (CAPTION, b"3")]


# -- the daemon's command table --------------------------------------------------------------------------
class FakeWorker:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def caption_now(self) -> None:
        self.calls.append(("caption_now",))

    def pause(self) -> None:
        self.calls.append(("pause",))

    def resume(self) -> None:
        self.calls.append(("resume",))

    def set_interval(self, seconds: float) -> None:
        self.calls.append(("set_interval", seconds))


@pytest.mark.parametrize("command, call", [
    (Command("cam", "caption_now"), ("caption_now",)),
    (Command("cam", "pause"), ("pause",)),
    (Command("cam", "resume"), ("resume",)),
    (Command("cam", "set_interval", 2.5), ("set_interval", 2.5)),
])
def test_each_command_calls_its_worker_method(command, call):
    worker = FakeWorker()
    COMMAND_HANDLERS[command.action](worker, command)
    assert worker.calls == [call]


def test_every_action_has_a_handler():
    assert set(COMMAND_HANDLERS) == set(ACTIONS)
