"""The MQTT session (edge_captioner/mqtt/) and `edge-captioner watch` against REAL Mosquitto brokers.

Simple cases use the shared broker on 127.0.0.1:1883 (a private one when none runs there) under a
unique base topic and discovery prefix per test, and delete their retained messages afterwards.
Tests that need control (restart, authentication, TLS) start a private broker (tests/support/mosquitto.py).
When a subscriber must be listening before the publisher reconnects, the broker's password file is
the gate: the publisher is refused until the test adds its user and makes mosquitto reload, so the
order of events is certain rather than a race against the publisher's backoff.
"""

from __future__ import annotations

import io
import json
import logging
import os
import queue
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge_captioner.cli.watch import format_message, watch
from edge_captioner.config import DiscoveryConfig, MQTTConfig, TLSConfig
from edge_captioner.errors import BadInput
from edge_captioner.mqtt.commands import ACTIONS, Command, parse_command
from edge_captioner.mqtt.discovery import discovery_messages
from edge_captioner.mqtt.session import Publisher
from edge_captioner.service.caption_event import CaptionEvent
from support.mosquitto import (
    MosquittoBroker,
    MQTTCollector,
    clear_retained,
    free_port,
    publish,
)
from support.paths import REPO as ROOT

DEVICE = "dev1"
CAMERAS = [("front_door", True), ("garden", False)]
FAST_BACKOFF = (0.2, 1.0)  # tests wait less; the production default is (1, 60)
MQTT_LOG = "edge_captioner.mqtt"


# -- fixtures --------------------------------------------------------------------------------------
@dataclass
class Names:
    base_topic: str
    prefix: str

    @property
    def base(self) -> str:
        return f"{self.base_topic}/{DEVICE}"


@pytest.fixture  # the session tests' own names (a fixed device id), over service/conftest.py's
def names(shared_port) -> Names:
    unique = uuid.uuid4().hex[:10]
    result = Names(f"test_{unique}", f"ha_{unique}")
    yield result
    clear_retained(shared_port, [f"{result.base_topic}/#", f"{result.prefix}/#"])


@pytest.fixture
def make_publisher(names):
    """make_publisher(port, **MQTTConfig fields / Publisher options) -> a Publisher, stopped after."""
    made: list[Publisher] = []

    def make(port: int, *, commands: list | None = None, on_command=None, cameras=CAMERAS,
             reconnect_delay=FAST_BACKOFF, **fields) -> Publisher:
        fields.setdefault("base_topic", names.base_topic)
        fields.setdefault("discovery", DiscoveryConfig(prefix=names.prefix))
        config = MQTTConfig(host=fields.pop("host", "127.0.0.1"), port=port, **fields)
        handler = on_command or (commands.append if commands is not None else (lambda command: None))
        publisher = Publisher(config, DEVICE, list(cameras), "tiny-en", on_command=handler,
                              sw_version="0.1.0", reconnect_delay=reconnect_delay)
        made.append(publisher)
        return publisher

    yield make
    for publisher in made:
        publisher.stop(timeout=1.0)


def caption(seq: int, camera: str = "front_door", text: str | None = None) -> CaptionEvent:
    return CaptionEvent(camera=camera, caption=text or f"caption number {seq}", confidence=0.91,
                        language="en", timestamp=datetime(2026, 11, 27, 9, 30, 1, 123456, tzinfo=UTC),
                        model="tiny-en", latency_ms=43.2, seq=seq)


def seqs(messages) -> list[int]:
    return [json.loads(m.payload)["seq"] for m in messages]


def first_occurrences(values: list[int]) -> list[int]:
    seen: set[int] = set()
    return [v for v in values if not (v in seen or seen.add(v))]


def wait_until(predicate, timeout: float = 5.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout} s")
        time.sleep(0.02)


def retained(port: int, topic_filter: str, settle: float = 0.3) -> dict[str, object]:
    """What a NEW subscriber gets from the retained store: {topic: Received}."""
    with MQTTCollector(port, [topic_filter]) as sub:
        time.sleep(settle)
    return {m.topic: m for m in sub.messages if m.retain}


def log_lines(caplog, level: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(MQTT_LOG) and r.levelno == level]


# -- commands (pure) -------------------------------------------------------------------------------
@pytest.mark.parametrize("payload, expected", [
    (b'{"action": "caption_now"}', Command("cam", "caption_now")),
    (b'{"action": "pause"}', Command("cam", "pause")),
    (b' {"action":"resume"} \n', Command("cam", "resume")),
    (b'{"interval_s": 2.5}', Command("cam", "set_interval", 2.5)),
    (b'{"interval_s": 86400}', Command("cam", "set_interval", 86400.0)),
    (b'{"action": "set_interval", "interval_s": 10}', Command("cam", "set_interval", 10.0)),
])
def test_parse_command_valid(payload, expected):
    assert parse_command(payload, "cam") == expected


@pytest.mark.parametrize("payload", [
    b"", b"pause", b"not json", b"\xff\xfe", b"[]", b'"pause"', b"null", b"{}", b"{" * 5000,
    b"[" * 3000, b'{"action": "explode"}', b'{"action": 1}', b'{"action": ["pause"]}',
    b'{"action": "pause", "extra": 1}', b'{"action": "pause", "interval_s": 5}',
    b'{"action": "set_interval"}', b'{"interval_s": "x"}', b'{"interval_s": -1}', b'{"interval_s": 0}',
    b'{"interval_s": 1e9}', b'{"interval_s": true}', b'{"interval_s": NaN}', b'{"interval_s": Infinity}',
    b'{"interval_s": null}', b'{"action": "pause"' + b" " * 5000 + b"}",
])
def test_parse_command_rejects(payload):
    with pytest.raises(ValueError):
        parse_command(payload, "cam")


def _check_parse(payload: bytes) -> None:
    try:
        command = parse_command(payload, "cam")
    except ValueError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(command, Command) and command.camera == "cam" and command.action in ACTIONS
    if command.action == "set_interval":
        assert isinstance(command.interval_s, float) and 0 < command.interval_s <= 86400
    else:
        assert command.interval_s is None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=5000))
def test_parse_command_arbitrary_bytes(payload):
    _check_parse(payload)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    | st.sampled_from(ACTIONS),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["action", "interval_s", "Action", "x"]), _json_values, max_size=3))
def test_parse_command_json_objects(obj):
    _check_parse(json.dumps(obj).encode())


# -- discovery (pure) ------------------------------------------------------------------------------
def test_discovery_messages_payloads():
    messages = dict(discovery_messages("dev1", "edge_captioner/dev1", CAMERAS, "tiny-en", "0.1.0",
                                       "homeassistant", True))
    sensor = json.loads(messages["homeassistant/sensor/dev1/front_door_caption/config"])
    assert sensor["name"] == "Front door caption"
    assert sensor["unique_id"] == "dev1_front_door_caption"
    # the entity id it always had, as Home Assistant 2026 wants it (no deprecated object_id)
    assert sensor["default_entity_id"] == "sensor.dev1_front_door_caption"
    assert "object_id" not in sensor
    assert sensor["origin"] == {"name": "edge-captioner", "sw_version": "0.1.0"}
    caption_topic = "edge_captioner/dev1/front_door/caption"
    assert sensor["state_topic"] == sensor["json_attributes_topic"] == caption_topic
    assert sensor["value_template"] == "{{ value_json.caption[:255] }}"
    # unavailable while the daemon is offline OR the camera is lost: no stale caption
    online, seeing = sensor["availability"]
    assert sensor["availability_mode"] == "all"
    assert online == {"topic": "edge_captioner/dev1/status", "payload_available": "online",
                      "payload_not_available": "offline"}
    assert seeing["topic"] == "edge_captioner/dev1/front_door/state"
    assert sensor["icon"] == "mdi:image-text"
    assert sensor["device"] == {"identifiers": ["edge_captioner_dev1"], "name": "edge-captioner dev1",
                                "manufacturer": "edge-captioner", "model": "tiny-en", "sw_version": "0.1.0"}
    image = json.loads(messages["homeassistant/image/dev1/front_door_snapshot/config"])
    assert image["image_topic"] == "edge_captioner/dev1/front_door/snapshot"
    assert image["content_type"] == "image/jpeg"
    assert image["unique_id"] == "dev1_front_door_snapshot"
    assert image["default_entity_id"] == "image.dev1_front_door_snapshot"
    assert image["availability"] == sensor["availability"] and image["device"] == sensor["device"]
    assert json.loads(messages["homeassistant/sensor/dev1/garden_caption/config"])["name"] == "Garden caption"
    # snapshots off: any image entity from an earlier configuration is deleted
    assert messages["homeassistant/image/dev1/garden_snapshot/config"] == b""

    # every control an entity, on the existing topics
    entity = lambda component, key: json.loads(  # noqa: E731
        messages[f"homeassistant/{component}/dev1/front_door_{key}/config"])
    command = "edge_captioner/dev1/front_door/set"
    button = entity("button", "caption_now")
    assert (button["command_topic"], json.loads(button["payload_press"])) == (
        command, {"action": "caption_now"})
    switch = entity("switch", "paused")
    assert json.loads(switch["payload_on"]) == {"action": "pause"}
    assert json.loads(switch["payload_off"]) == {"action": "resume"}
    assert switch["state_topic"] == "edge_captioner/dev1/front_door/state"
    number = entity("number", "interval")
    assert number["command_topic"] == command and number["unit_of_measurement"] == "s"
    assert (number["min"], number["step"]) == (0.1, 0.1) and number["max"] >= 300
    rendered = number["command_template"].replace("{{ value }}", "2.5")
    assert parse_command(rendered.encode(), "front_door").interval_s == 2.5
    connectivity = entity("binary_sensor", "camera")
    assert connectivity["device_class"] == "connectivity"
    event = entity("event", "captioned")
    assert event["state_topic"] == caption_topic and event["event_types"] == ["caption"]
    confidence, latency = entity("sensor", "confidence"), entity("sensor", "latency")
    assert (confidence["unit_of_measurement"], confidence["state_class"]) == ("%", "measurement")
    assert (latency["unit_of_measurement"], latency["device_class"]) == ("ms", "duration")
    for payload in messages.values():
        if payload:
            assert set(json.loads(payload)) >= {"unique_id", "default_entity_id", "name", "device",
                                                "origin"}

    disabled = discovery_messages("dev1", "edge_captioner/dev1", CAMERAS, "tiny-en", "0.1.0", "homeassistant",
                                  False)
    assert {topic for topic, _ in disabled} == set(messages)
    assert all(payload == b"" for _, payload in disabled)


# -- status, captions, state, snapshot (shared broker) --------------------------------------------------
def test_online_retained_then_offline_on_clean_stop(shared_port, names, make_publisher):
    status = f"{names.base}/status"
    with MQTTCollector(shared_port, [status]) as sub:
        publisher = make_publisher(shared_port)
        publisher.start()
        assert publisher.wait_connected(5)
        sub.wait_for(lambda m: m.payload == b"online")
        got = retained(shared_port, status)[status]
        assert (got.payload, got.qos, got.retain) == (b"online", 1, True)

        publisher.stop(timeout=3)
        sub.wait_for(lambda m: m.payload == b"offline")
    got = retained(shared_port, status)[status]
    assert (got.payload, got.qos, got.retain) == (b"offline", 1, True)
    assert publisher.stats["connected"] is False


CHILD = textwrap.dedent("""
    import sys, time
    from edge_captioner.config import DiscoveryConfig, MQTTConfig
    from edge_captioner.mqtt.session import Publisher
    port, base_topic, prefix = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    config = MQTTConfig(port=port, base_topic=base_topic, discovery=DiscoveryConfig(prefix=prefix))
    publisher = Publisher(config, "dev1", [("cam", False)], "tiny-en", print, "0.1.0")
    publisher.start()
    assert publisher.wait_connected(10)
    print("ready", flush=True)
    time.sleep(60)
""")


def test_last_will_offline_when_the_process_is_killed(shared_port, names):
    status = f"{names.base}/status"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with MQTTCollector(shared_port, [status]) as sub:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(shared_port), names.base_topic, names.prefix],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            assert child.stdout.readline().strip() == "ready"
            sub.wait_for(lambda m: m.payload == b"online")
            child.send_signal(signal.SIGKILL)  # no chance to say goodbye: the broker's will speaks
            child.wait(10)
            sub.wait_for(lambda m: m.payload == b"offline")
        finally:
            if child.poll() is None:
                child.kill()
                child.wait(10)
    got = retained(shared_port, status)[status]
    assert (got.payload, got.retain) == (b"offline", True)


def test_caption_state_and_snapshot_topics(shared_port, names, make_publisher):
    publisher = make_publisher(shared_port)
    publisher.start()
    assert publisher.wait_connected(5)
    jpeg = b"\xff\xd8\xff\xe0 not really a jpeg \xff\xd9"
    publisher.publish_state("front_door", "streaming")
    publisher.publish_caption(caption(1, text="a person at the front door"), jpeg)
    wait_until(lambda: publisher.stats["sent"] == 1 and publisher.stats["queued"] == 0, what="PUBACK")

    store = retained(shared_port, f"{names.base}/#")
    got = store[f"{names.base}/front_door/caption"]
    assert (got.qos, got.retain) == (1, True)
    assert json.loads(got.payload) == caption(1, text="a person at the front door").payload()
    snap = store[f"{names.base}/front_door/snapshot"]
    assert (snap.payload, snap.qos, snap.retain) == (jpeg, 0, True)
    state = store[f"{names.base}/front_door/state"]
    assert (state.payload, state.qos, state.retain) == (b"streaming", 1, True)
    assert store[f"{names.base}/status"].payload == b"online"

    # latest value only: the newest state wins, none is lost on the way
    for value in ("lost", "streaming", "paused"):
        publisher.publish_state("front_door", value)
    wait_until(lambda: retained(shared_port, f"{names.base}/front_door/state", 0.1)
               .get(f"{names.base}/front_door/state", None) is not None
               and retained(shared_port, f"{names.base}/front_door/state", 0.1)
               [f"{names.base}/front_door/state"].payload == b"paused", what="state paused")
    with pytest.raises(ValueError):
        publisher.publish_state("front_door", "exploded")
    assert publisher.stats == {"queued": 0, "inflight": 0, "sent": 1, "dropped": 0, "reconnects": 0,
                               "connected": True}


def test_caption_qos_and_retain_follow_the_config(shared_port, names, make_publisher):
    publisher = make_publisher(shared_port, qos=0, retain=False)
    publisher.start()
    assert publisher.wait_connected(5)
    topic = f"{names.base}/garden/caption"
    with MQTTCollector(shared_port, [topic]) as sub:
        publisher.publish_caption(caption(7, "garden"))
        got = sub.wait_for(lambda m: True)[0]
    assert got.qos == 0 and json.loads(got.payload)["seq"] == 7
    assert topic not in retained(shared_port, topic)


def test_mqtt5_session(shared_port, names, make_publisher):
    commands: list[Command] = []
    publisher = make_publisher(shared_port, protocol="5", commands=commands)
    publisher.start()
    assert publisher.wait_connected(5)
    with MQTTCollector(shared_port, [f"{names.base}/+/caption"]) as sub:
        publisher.publish_caption(caption(1))
        assert seqs(sub.wait_for(lambda m: True)) == [1]
    publish(shared_port, f"{names.base}/front_door/set", b'{"action": "pause"}')
    wait_until(lambda: commands == [Command("front_door", "pause")], what="command over MQTT 5")


# -- Home Assistant discovery -------------------------------------------------------------------------
def test_discovery_published_resent_on_birth_and_removed_when_disabled(shared_port, names, make_publisher):
    sensor_topic = f"{names.prefix}/sensor/{DEVICE}/front_door_caption/config"
    image_topic = f"{names.prefix}/image/{DEVICE}/front_door_snapshot/config"
    garden_topic = f"{names.prefix}/sensor/{DEVICE}/garden_caption/config"

    def configs(m) -> bool:
        return m.topic.endswith("/config") and bool(m.payload)

    with MQTTCollector(shared_port, [f"{names.prefix}/#"]) as sub:
        publisher = make_publisher(shared_port)
        publisher.start()
        assert publisher.wait_connected(5)
        # per camera 8 entities, and the image of the one with snapshots
        first = sub.wait_for(configs, count=17)
        assert {m.topic for m in first} >= {sensor_topic, image_topic, garden_topic}
        assert len({m.topic for m in first}) == 17
        sensor = json.loads(sub.on(sensor_topic)[0].payload)
        assert sensor["state_topic"] == f"{names.base}/front_door/caption"
        assert sensor["value_template"] == "{{ value_json.caption[:255] }}"
        assert sensor["availability"][0]["topic"] == f"{names.base}/status"
        assert sensor["device"]["identifiers"] == [f"edge_captioner_{DEVICE}"]
        assert sensor["unique_id"] == f"{DEVICE}_front_door_caption"
        image = json.loads(sub.on(image_topic)[0].payload)
        assert image["image_topic"] == f"{names.base}/front_door/snapshot"
        assert sub.on(sensor_topic)[0].qos == 1

        # Home Assistant restarts and announces itself: every config comes again
        publish(shared_port, f"{names.prefix}/status", b"online")
        sub.wait_for(configs, count=34)
        assert len(sub.on(sensor_topic)) == 2
        store = retained(shared_port, f"{names.prefix}/#")
        assert store[sensor_topic].retain and json.loads(store[sensor_topic].payload) == sensor

        # discovery switched off: empty retained payloads delete the entities
        publisher.stop(timeout=2)
        disabled = make_publisher(shared_port, discovery=DiscoveryConfig(enabled=False, prefix=names.prefix))
        disabled.start()
        assert disabled.wait_connected(5)
        sub.wait_for(lambda m: m.topic == sensor_topic and m.payload == b"")
        sub.wait_for(lambda m: m.topic == image_topic and m.payload == b"")
    assert not any(topic.endswith("/config") for topic in retained(shared_port, f"{names.prefix}/#"))


# -- commands over the broker ---------------------------------------------------------------------------
def test_commands_valid_and_malformed(shared_port, names, make_publisher, caplog):
    caplog.set_level(logging.DEBUG, logger=MQTT_LOG)
    commands: list[Command] = []

    def on_command(command: Command) -> None:
        commands.append(command)
        if command.action == "resume":
            raise RuntimeError("the handler broke")  # must be logged, not kill the network thread

    set_topic = f"{names.base}/front_door/set"
    # A retained command reaches a new subscription from the retained store: it would run again
    # after every reconnect, so it is refused.
    publish(shared_port, set_topic, b'{"action": "pause"}', retain=True)
    publisher = make_publisher(shared_port, on_command=on_command)
    publisher.start()
    assert publisher.wait_connected(5)
    wait_until(lambda: any("retained command" in r.getMessage() for r in log_lines(caplog, logging.WARNING)),
               what="the retained command refused")
    publish(shared_port, set_topic, None, retain=True)  # clearing it arrives as an empty command
    set_topic = f"{names.base}/front_door/set"
    valid = [b'{"action": "caption_now"}', b'{"action": "pause"}', b'{"action": "resume"}',
             b'{"interval_s": 2.5}', b'{"action": "set_interval", "interval_s": 10}']
    for payload in valid:
        publish(shared_port, set_topic, payload)
    wait_until(lambda: len(commands) == 5, what="5 commands")
    assert commands == [Command("front_door", "caption_now"), Command("front_door", "pause"),
                        Command("front_door", "resume"), Command("front_door", "set_interval", 2.5),
                        Command("front_door", "set_interval", 10.0)]
    assert any("handler for command" in r.getMessage() for r in caplog.records if r.levelno == logging.ERROR)

    caplog.clear()
    malformed = [b"not json", b"\xff\xfe", b"{" * 100_000, b'{"action": "explode"}',
                 b'{"interval_s": "x"}', b'{"interval_s": -1}', b'{"interval_s": 1e9}', b"[]",
                 b'{"action": "pause", "extra": "junk"}']  # (an empty one clears: not malformed)
    for payload in malformed:
        publish(shared_port, set_topic, payload)
    publish(shared_port, f"{names.base}/no_such_camera/set", b'{"action": "pause"}')
    publish(shared_port, set_topic, b'{"action": "caption_now"}')  # still listening after all that
    wait_until(lambda: len(commands) == 6, what="the command after the junk")
    assert commands[-1] == Command("front_door", "caption_now")
    warnings = log_lines(caplog, logging.WARNING)
    assert len(warnings) == len(malformed) + 1  # + the wrong camera
    for record in warnings:
        message = record.getMessage()
        assert "\n" not in message and len(message) < 400  # one line, the payload cut short
    assert any("no_such_camera" in r.getMessage() for r in warnings)
    assert any("too large" in r.getMessage() for r in warnings)

    with MQTTCollector(shared_port, [f"{names.base}/+/caption"]) as sub:
        publisher.publish_caption(caption(99))
        assert seqs(sub.wait_for(lambda m: True)) == [99]


def test_interval_commands_out_of_range_or_with_a_key_twice_are_refused(shared_port, names,
                                                                        make_publisher, caplog):
    """The range is the one the interval number declares (Home Assistant cannot send less than
    0.1); a key given twice would leave the parser to pick a value."""
    caplog.set_level(logging.WARNING, logger=MQTT_LOG)
    commands: list[Command] = []
    publisher = make_publisher(shared_port, commands=commands)
    publisher.start()
    assert publisher.wait_connected(5)
    set_topic = f"{names.base}/front_door/set"
    refused = [b'{"interval_s": 1e-300}', b'{"interval_s": 0.05}', b'{"interval_s": 86400.5}',
               b'{"interval_s": 5, "interval_s": 1e-300}', b'{"action": "pause", "action": "resume"}']
    for payload in refused:
        publish(shared_port, set_topic, payload)
    publish(shared_port, set_topic, b'{"interval_s": 0.1}')  # the number's minimum
    wait_until(lambda: commands, what="the command after the refused ones")
    assert commands == [Command("front_door", "set_interval", 0.1)]
    warnings = [r.getMessage() for r in log_lines(caplog, logging.WARNING)]
    assert len(warnings) == len(refused), warnings
    assert sum("interval_s: expected a number 0.1..86400" in w for w in warnings) == 3, warnings
    assert sum("duplicate key" in w for w in warnings) == 2, warnings
    assert all("\n" not in w for w in warnings)


def test_the_interval_is_retained_for_home_assistants_number(shared_port, names, make_publisher):
    topic = f"{names.base}/front_door/interval"
    publisher = make_publisher(shared_port)
    publisher.start()
    assert publisher.wait_connected(5)
    publisher.publish_interval("front_door", 1.0)
    publisher.publish_interval("front_door", 2.5)  # only the newest counts
    wait_until(lambda: topic in retained(shared_port, topic, 0.1)
               and retained(shared_port, topic, 0.1)[topic].payload == b"2.5", what="interval 2.5")
    got = retained(shared_port, topic)[topic]
    assert (got.payload, got.qos, got.retain) == (b"2.5", 1, True)
    number = json.loads(retained(shared_port, f"{names.prefix}/number/#")
                        [f"{names.prefix}/number/{DEVICE}/front_door_interval/config"].payload)
    assert number["state_topic"] == topic
    assert float(got.payload) == 2.5 and number["min"] <= 2.5 <= number["max"]


def test_a_command_handler_runs_off_the_network_thread_and_may_publish(shared_port, names, make_publisher):
    """The handler publishes and waits for the broker's confirmation: inside paho's on_message it
    would wait in vain (the network thread that reads the PUBACK would be the one waiting)."""
    ran: list[tuple[str, bool]] = []
    publisher = None

    def on_command(command: Command) -> None:
        sent = publisher.stats["sent"]
        publisher.publish_state(command.camera, "paused")
        publisher.publish_caption(caption(1))
        deadline = time.monotonic() + 3
        while publisher.stats["sent"] == sent and time.monotonic() < deadline:
            time.sleep(0.02)
        ran.append((threading.current_thread().name, publisher.stats["sent"] > sent))

    publisher = make_publisher(shared_port, on_command=on_command)
    publisher.start()
    assert publisher.wait_connected(5)
    state = f"{names.base}/front_door/state"
    with MQTTCollector(shared_port, [state]) as sub:
        publish(shared_port, f"{names.base}/front_door/set", b'{"action": "pause"}')
        wait_until(lambda: ran, what="the handler")
        sub.wait_for(lambda m: m.payload == b"paused")
    assert ran == [("mqtt-commands", True)]
    assert retained(shared_port, state)[state].payload == b"paused"


# -- broker down, restarted, full queue (private brokers) ------------------------------------------
GATE = {"watcher": "watch-pw"}  # the test's subscriber; the publisher is "cam"
BOTH = {**GATE, "cam": "cam-pw"}
WATCHER = {"username": "watcher", "password": "watch-pw"}


def open_gate(broker: MosquittoBroker) -> None:
    """Let the publisher in: add its user and make the running broker re-read the password file."""
    broker.set_users(BOTH)
    broker.reload()


def test_broker_down_at_start_then_everything_arrives_in_order(mosquitto_broker, make_publisher, names):
    broker = mosquitto_broker(start=False, allow_anonymous=False, users=GATE)
    publisher = make_publisher(broker.port, username="cam", password="cam-pw", retain=False)
    started = time.monotonic()
    publisher.start()
    assert time.monotonic() - started < 1.0  # never blocks on an unreachable broker
    for seq in range(1, 11):
        publisher.publish_caption(caption(seq))
    assert publisher.stats["queued"] == 10 and publisher.stats["connected"] is False

    broker.start()
    with MQTTCollector(broker.port, [f"{names.base}/+/caption"], **WATCHER) as sub:
        open_gate(broker)
        got = sub.wait_for(lambda m: True, count=10, timeout=10)
    assert seqs(got) == list(range(1, 11))
    wait_until(lambda: publisher.stats["sent"] == 10 and publisher.stats["queued"] == 0, what="PUBACKs")


def _restart_scenario(mosquitto_broker, make_publisher, names, queue_limit: int, down_count: int):
    broker = mosquitto_broker(allow_anonymous=False, users=BOTH)  # persistence off: nothing survives
    publisher = make_publisher(broker.port, username="cam", password="cam-pw", retain=False,
                               queue_limit=queue_limit)
    publisher.start()
    assert publisher.wait_connected(5)
    publisher.publish_state("front_door", "streaming")
    sub = MQTTCollector(broker.port, [f"{names.base}/+/caption"], username="watcher", password="watch-pw")
    sub.start()
    try:
        for seq in (1, 2, 3):
            publisher.publish_caption(caption(seq))
        sub.wait_for(lambda m: True, count=3)
        wait_until(lambda: publisher.stats["queued"] == 0, what="captions 1-3 confirmed")

        broker.stop()
        wait_until(lambda: not publisher.stats["connected"], what="the publisher noticing")
        last = 3 + down_count
        for seq in range(4, last + 1):
            publisher.publish_caption(caption(seq))
        time.sleep(0.5)  # down "for a while": a few reconnect attempts fail
        broker.set_users(GATE)
        broker.start()
        sub.wait_subscribed(2, timeout=10)
        open_gate(broker)
        expected = list(range(max(4, last + 1 - queue_limit), last + 1))
        sub.wait_for(lambda m: True, count=3 + len(expected), timeout=15)
        time.sleep(0.2)  # nothing more is coming
        return publisher, broker, seqs(sub.messages), expected
    finally:
        sub.stop()


def test_broker_restart_loses_nothing_and_keeps_order(mosquitto_broker, make_publisher, names, caplog):
    caplog.set_level(logging.INFO, logger=MQTT_LOG)
    publisher, broker, received, expected = _restart_scenario(mosquitto_broker, make_publisher, names,
                                                              queue_limit=100, down_count=30)
    assert first_occurrences(received) == [1, 2, 3] + expected  # all of them, in order (duplicates allowed)
    assert expected == list(range(4, 34))
    stats = publisher.stats
    assert stats["dropped"] == 0 and stats["queued"] == 0 and stats["reconnects"] == 1
    lost = [r for r in caplog.records if "lost" in r.getMessage() and r.name.startswith(MQTT_LOG)]
    restored = [r for r in caplog.records if "restored" in r.getMessage() and r.name.startswith(MQTT_LOG)]
    assert len(lost) == 1 and len(restored) == 1  # once per transition
    # the broker forgot its retained store; the publisher put status and state back
    with MQTTCollector(broker.port, [f"{names.base}/#"], username="watcher", password="watch-pw") as fresh:
        time.sleep(0.3)
    repaired = {m.topic: m.payload for m in fresh.messages if m.retain}
    assert repaired[f"{names.base}/status"] == b"online"
    assert repaired[f"{names.base}/front_door/state"] == b"streaming"
    assert f"{names.prefix}/sensor/{DEVICE}/front_door_caption/config" not in repaired  # other prefix


def test_full_queue_drops_exactly_the_oldest(mosquitto_broker, make_publisher, names, caplog):
    caplog.set_level(logging.INFO, logger=MQTT_LOG)
    publisher, _, received, expected = _restart_scenario(mosquitto_broker, make_publisher, names,
                                                         queue_limit=5, down_count=12)
    assert expected == [11, 12, 13, 14, 15]  # 4..10 were the oldest: dropped
    assert first_occurrences(received) == [1, 2, 3, 11, 12, 13, 14, 15]
    assert publisher.stats["dropped"] == 7
    drops = [r for r in log_lines(caplog, logging.WARNING) if "dropped" in r.getMessage()]
    assert drops and "queue_limit 5" in drops[0].getMessage()
    assert any("7 in total" in r.getMessage() for r in drops)  # the summary at reconnect


def test_captions_in_flight_when_the_broker_dies_are_sent_again(mosquitto_broker, make_publisher, names):
    broker = mosquitto_broker(allow_anonymous=False, users=BOTH)
    publisher = make_publisher(broker.port, username="cam", password="cam-pw", retain=False)
    publisher.start()
    assert publisher.wait_connected(5)
    broker.freeze()  # the broker takes our packets (the kernel does) but confirms nothing
    for seq in range(1, 31):
        publisher.publish_caption(caption(seq))
    wait_until(lambda: publisher.stats["inflight"] == 20, what="a full window in flight")
    assert publisher.stats["queued"] == 30 and publisher.stats["sent"] == 0
    broker.kill()  # ...and dies with them: no persistence, nothing survives on its side
    wait_until(lambda: not publisher.stats["connected"], what="the publisher noticing")
    broker.set_users(GATE)
    broker.start()
    with MQTTCollector(broker.port, [f"{names.base}/+/caption"], **WATCHER) as sub:
        open_gate(broker)
        sub.wait_for(lambda m: True, count=30, timeout=15)
        time.sleep(0.2)
    # exactly once here: the frozen broker forwarded nothing before it died, and paho's own copies
    # of the unconfirmed messages were taken back rather than sent a second time
    assert seqs(sub.messages) == list(range(1, 31))
    wait_until(lambda: publisher.stats["sent"] == 30 and publisher.stats["queued"] == 0, what="PUBACKs")


def test_captions_from_several_threads(shared_port, names, make_publisher):
    publisher = make_publisher(shared_port, retain=False)
    publisher.start()
    assert publisher.wait_connected(5)
    cameras = ["front_door", "garden", "porch", "drive"]
    with MQTTCollector(shared_port, [f"{names.base}/+/caption"]) as sub:
        def camera_thread(name: str) -> None:
            for seq in range(50):
                publisher.publish_caption(caption(seq, name))
                if seq % 10 == 0:
                    publisher.publish_state(name, "streaming")

        threads = [threading.Thread(target=camera_thread, args=(name,)) for name in cameras]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        sub.wait_for(lambda m: True, count=200, timeout=15)
    for name in cameras:
        assert seqs(sub.on(f"{names.base}/{name}/caption")) == list(range(50))  # per-camera order kept
    wait_until(lambda: publisher.stats["sent"] == 200 and publisher.stats["queued"] == 0, what="PUBACKs")


# -- authentication ---------------------------------------------------------------------------------------
def test_bad_credentials_logged_and_retried_with_growing_delays(mosquitto_broker, make_publisher, caplog):
    caplog.set_level(logging.INFO, logger=MQTT_LOG)
    broker = mosquitto_broker(allow_anonymous=False, users={"cam": "right"})
    good = make_publisher(broker.port, username="cam", password="right")
    good.start()
    assert good.wait_connected(5)
    good.stop(timeout=2)

    bad = make_publisher(broker.port, username="cam", password="wrong", reconnect_delay=(0.25, 60))
    bad.start()
    wait_until(lambda: len(log_lines(caplog, logging.ERROR)) >= 4, timeout=10, what="4 refusals")
    assert not bad.stats["connected"]
    bad.stop(timeout=1)
    errors = log_lines(caplog, logging.ERROR)
    assert all("right" not in r.getMessage() and "wrong" not in r.getMessage() for r in errors)  # no secrets
    for record in errors:
        assert f"127.0.0.1:{broker.port}" in record.getMessage()
        assert "refused" in record.getMessage()
        assert "Not authorized" in record.getMessage() or "Bad user name or password" in record.getMessage()
    times = [r.created for r in errors]
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) >= 3
    # paho's backoff doubles: 0.25, 0.5, 1.0 ... (plus the time a refused attempt takes)
    for shorter, longer in zip(gaps, gaps[1:], strict=False):
        assert longer > shorter * 1.4, gaps
    assert gaps[0] >= 0.2


# -- TLS ------------------------------------------------------------------------------------------------
def _make_certs(directory: Path) -> dict[str, Path]:
    """A CA and a server certificate for DNS:localhost only (not 127.0.0.1), with openssl."""
    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory, timeout=60)

    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key")
    run("req", "-x509", "-new", "-key", "ca.key", "-days", "2", "-subj", "/CN=test CA", "-out", "ca.crt")
    run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "server.key")
    run("req", "-new", "-key", "server.key", "-subj", "/CN=localhost", "-out", "server.csr")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost\n")
    run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-days", "2", "-extfile", "san.ext", "-out", "server.crt")
    return {name: directory / name for name in ("ca.crt", "server.crt", "server.key")}


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_verifies_the_host_name_unless_insecure(mosquitto_broker, make_publisher, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger=MQTT_LOG)
    certs = _make_certs(tmp_path)
    broker = mosquitto_broker(extra=f"cafile {certs['ca.crt']}\ncertfile {certs['server.crt']}\n"
                                    f"keyfile {certs['server.key']}")
    tls = TLSConfig(ca_certs=str(certs["ca.crt"]))

    by_name = make_publisher(broker.port, host="localhost", tls=tls)
    by_name.start()
    assert by_name.wait_connected(5)

    by_ip = make_publisher(broker.port, host="127.0.0.1", tls=tls)  # the certificate does not name it
    by_ip.start()
    wait_until(lambda: any("certificate" in r.getMessage().lower() and "TLS" in r.getMessage()
                               for r in log_lines(caplog, logging.ERROR)), what="a TLS error")
    assert not by_ip.stats["connected"]
    by_ip.stop(timeout=1)
    by_name.stop(timeout=1)  # same client id as the next one: the broker would kick one of them

    insecure = make_publisher(broker.port, host="127.0.0.1",
                              tls=TLSConfig(ca_certs=str(certs["ca.crt"]), insecure=True))
    assert any("insecure" in r.getMessage() for r in log_lines(caplog, logging.WARNING))
    insecure.start()
    assert insecure.wait_connected(5)


# -- watch ------------------------------------------------------------------------------------------------
def test_format_message_shows_events():
    from edge_captioner.service.events import Event, EventObject

    start = datetime(2026, 11, 27, 9, 30, 1, tzinfo=UTC)
    event = Event("ab", "box_left", "end", "front_door", "front_door", start, start, (
        EventObject("box", 3),), "a box was left at the front door", "en", "m", True)
    payload = json.dumps(event.payload()).encode()
    line = format_message("edge_captioner/d/front_door/event", payload, "edge_captioner")
    assert line.endswith("d/front_door  event box_left end: a box was left at the front door")
    as_json = json.loads(format_message("edge_captioner/d/front_door/event", payload,
                                        "edge_captioner", json_mode=True))
    assert as_json == {"topic": "edge_captioner/d/front_door/event", **event.payload()}


def test_format_message_lines():
    received = datetime(2026, 11, 27, 9, 30, 5)
    long_caption = caption(1, text="a person at the front door " + "very " * 80 + "long")
    payload = json.dumps(long_caption.payload()).encode()
    line = format_message("edge_captioner/demo-house/front_door/caption", payload, "edge_captioner",
                          received=received)
    assert "  demo-house/front_door  a person at the front door very" in line
    assert line.endswith("long  (0.91, 43 ms)")  # long captions whole
    assert format_message("edge_captioner/demo-house/front_door/state", b"lost", "edge_captioner",
                          received=received) == "2026-11-27 09:30:05  demo-house/front_door  state: lost"
    assert format_message("edge_captioner/demo-house/status", b"online", "edge_captioner", retained=True,
                          received=received) == "2026-11-27 09:30:05  demo-house  status: online  (retained)"
    # hostile payloads stay on one printable line
    evil = json.dumps({"caption": "two\nlines \x1b[31mred"}).encode()
    line = format_message("home/edge/dev/cam/caption", evil, "home/edge", received=received)
    assert "\n" not in line and "\x1b" not in line and "two lines" in line
    assert format_message("home/edge/dev/cam/caption", b"\xff", "home/edge", received=received)
    assert format_message("elsewhere/dev/cam/caption", payload, "edge_captioner") is None
    as_json = json.loads(format_message("edge_captioner/d/front_door/caption", payload, "edge_captioner",
                                        json_mode=True))
    assert as_json["seq"] == 1 and as_json["topic"] == "edge_captioner/d/front_door/caption"
    assert json.loads(format_message("edge_captioner/d/c/state", b"paused", "edge_captioner",
                                     json_mode=True)) == {"topic": "edge_captioner/d/c/state", "device": "d",
                                                          "camera": "c", "state": "paused"}


def _watch_in_thread(config: MQTTConfig, **kwargs):
    out, err, stop = io.StringIO(), io.StringIO(), threading.Event()
    result: dict = {}

    def run() -> None:
        try:
            result["rc"] = watch(config, out=out, err=err, stop=stop, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, stop, out, err, result


def test_watch_json_and_unreachable_broker(shared_port, names, make_publisher):
    # unreachable: one line on stderr, keeps trying, stops cleanly
    nowhere = MQTTConfig(port=free_port(), base_topic=names.base_topic)
    thread, stop, out, err, result = _watch_in_thread(nowhere)
    time.sleep(1.5)
    stop.set()
    thread.join(5)
    assert result == {"rc": 0}
    assert err.getvalue().count("cannot reach broker") == 1 and out.getvalue() == ""

    config = MQTTConfig(port=shared_port, base_topic=names.base_topic)
    thread, stop, out, err, result = _watch_in_thread(config, json_mode=True)
    wait_until(lambda: "connected" in err.getvalue(), what="watch connected")
    publisher = make_publisher(shared_port)
    publisher.start()
    publisher.publish_state("front_door", "lost")
    publisher.publish_caption(caption(5, text="长城"))
    wait_until(lambda: "长城" in out.getvalue(), what="the caption line")
    stop.set()
    thread.join(5)
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert {"topic": f"{names.base}/status", "device": DEVICE, "status": "online"} in lines
    assert {"topic": f"{names.base}/front_door/state", "device": DEVICE, "camera": "front_door",
            "state": "lost"} in lines
    assert [line["seq"] for line in lines if "seq" in line] == [5]


def test_watch_refused_credentials_is_bad_input(mosquitto_broker, names):
    broker = mosquitto_broker(allow_anonymous=False, users={"cam": "right"})
    config = MQTTConfig(port=broker.port, base_topic=names.base_topic, username="cam", password="wrong")
    thread, stop, out, err, result = _watch_in_thread(config)
    thread.join(10)
    assert isinstance(result.get("error"), BadInput)
    assert "refused" in str(result["error"]) and "wrong" not in str(result["error"])


def test_watch_cli_prints_captions_and_exits_0_on_sigterm(shared_port, names, tmp_path):
    config_file = tmp_path / "config.yaml"
    config_file.write_text(textwrap.dedent(f"""\
        device_id: {DEVICE}
        mqtt:
          host: 127.0.0.1
          port: {shared_port}
          base_topic: {names.base_topic}
        cameras:
          - name: front_door
            source: sample
        """))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "edge_captioner.cli", "watch", "--config", str(config_file)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines: queue.Queue = queue.Queue()

    def pump(stream, name) -> None:
        for line in stream:
            lines.put((name, line.rstrip("\n")))

    for stream, name in ((process.stdout, "out"), (process.stderr, "err")):
        threading.Thread(target=pump, args=(stream, name), daemon=True).start()

    def next_line(kind: str, timeout: float = 15.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                name, line = lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if name == kind:
                return line
        raise TimeoutError(f"no {kind} line from watch")

    try:
        assert "connected to" in next_line("err")
        long_caption = "a person at the front door holding a parcel " * 8
        publish(shared_port, f"{names.base}/front_door/caption",
                json.dumps(caption(3, text=long_caption.strip()).payload()).encode())
        line = next_line("out")
        assert f"{DEVICE}/front_door  {long_caption.strip()}  (0.91, 43 ms)" in line
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_stop_without_broker_is_quick(make_publisher):
    publisher = make_publisher(free_port())
    publisher.start()
    publisher.publish_caption(caption(1))
    started = time.monotonic()
    publisher.stop(timeout=5)
    assert time.monotonic() - started < 2
    assert publisher.stats["queued"] == 1 and publisher.stats["sent"] == 0


def test_snapshots_off_clears_the_retained_jpeg_of_an_earlier_run(shared_port, names,
                                                                  make_publisher):
    topic = f"{names.base}/garden/snapshot"  # "garden" has snapshots off in CAMERAS
    publish(shared_port, topic, b"\xff\xd8 an old JPEG", retain=True)
    publisher = make_publisher(shared_port)
    publisher.start()
    assert publisher.wait_connected(5)
    time.sleep(0.5)
    with MQTTCollector(shared_port, [topic]) as sub:
        time.sleep(0.5)
        assert sub.on(topic) == [], "a retained snapshot is still there"


def test_an_empty_set_payload_is_not_a_malformed_command(shared_port, names, make_publisher,
                                                         caplog):
    commands: list = []
    publisher = make_publisher(shared_port, commands=commands)
    publisher.start()
    assert publisher.wait_connected(5)
    time.sleep(0.3)
    with caplog.at_level(logging.DEBUG, logger="edge_captioner.mqtt"):
        # clearing a retained command: an empty retained payload
        publish(shared_port, f"{names.base}/front_door/set", b"", retain=True)
        publish(shared_port, f"{names.base}/front_door/set", b'{"action": "pause"}')
        wait_until(lambda: commands, what="the pause command")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    assert "empty payload" in caplog.text


def test_a_broker_never_reached_is_not_disconnected_from(names, make_publisher, caplog):
    publisher = make_publisher(free_port())
    with caplog.at_level(logging.INFO, logger="edge_captioner.mqtt"):
        publisher.start()
        time.sleep(0.3)
        publisher.stop(timeout=0.5)
    assert "disconnected" not in caplog.text and "connecting to" in caplog.text


def test_captions_queued_at_a_stop_are_delivered_by_the_next_run(tmp_path, names, make_publisher,
                                                                  mosquitto_broker):
    """The broker is down while captions are made and across a restart: the next run delivers
    them first, in order, as they were (timestamp and seq), and the journal then holds none."""
    broker = mosquitto_broker(start=False)
    spool_dir = str(tmp_path / "state")
    first = make_publisher(broker.port, spool_dir=spool_dir)
    first.start()
    made = [caption(seq) for seq in range(1, 6)]
    for payload in made:
        first.publish_caption(payload)
    first.stop(timeout=0.5)
    spooled = tmp_path / "state" / f"captions-{DEVICE}.jsonl"
    assert len(spooled.read_text().splitlines()) == 5

    broker.start()
    with MQTTCollector(broker.port, [f"{names.base}/+/caption"]) as sub:
        second = make_publisher(broker.port, spool_dir=spool_dir)
        second.start()
        second.publish_caption(caption(1, text="the next run's own"))
        got = sub.wait_for(lambda m: True, count=6)
    assert [json.loads(m.payload) for m in got[:5]] == [event.payload() for event in made]
    assert json.loads(got[5].payload)["caption"] == "the next run's own"
    from edge_captioner.mqtt import journal
    deadline = time.monotonic() + 5  # the PUBACKs are on their way
    while journal.parse(spooled.read_bytes(), names.base, 100).entries and time.monotonic() < deadline:
        time.sleep(0.05)
    assert journal.parse(spooled.read_bytes(), names.base, 100).entries == []
