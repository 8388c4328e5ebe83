"""Security end to end: a private Mosquitto that refuses anonymous clients, with a password file and
an ACL, and the REAL daemon as a subprocess (the shipped default bundle, a static clip). No mocks.

One broker and two daemons serve the whole module (start-up is the slow part):
- "file" daemon: user `captioner`, password from `mqtt.password_file`;
- "env" daemon: user `captioner`, password from $EDGE_CAPTIONER_MQTT_PASSWORD.
Both log at DEBUG (`-vv` and `logging.level: DEBUG`), so that the secret scan sees everything.
A `hub` collector subscribed to `#` (before the daemons start) records every payload.

Mosquitto silently drops a publish the ACL forbids (the client still gets its PUBACK), so what an
unauthorised client cannot do is shown by the daemon's behaviour, with the same command from an
authorised client as the positive control.
"""

from __future__ import annotations

import json
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
import yaml

from support.daemons import Daemon, child_env, static_clip  # the daemon tests' runner, env and clip
from support.mosquitto import MosquittoBroker, MQTTCollector, publish
from support.paths import REPO as ROOT

pytestmark = pytest.mark.slow

CAMERA = "front_door"
STARTUP_S = 40.0
BASE_TOPIC = "ecsec"


class Runner(Daemon):
    """test_daemon's Daemon at DEBUG (-vv), named, with its topics."""

    def __init__(self, name: str, device_id: str, config: Path, log_path: Path, env: dict):
        self.name, self.device_id = name, device_id
        super().__init__(config, log_path, env, extra_args=("-vv",))

    @property
    def base(self) -> str:
        return f"{BASE_TOPIC}/{self.device_id}"

    def topic(self, leaf: str) -> str:
        return f"{self.base}/{CAMERA}/{leaf}"


@dataclass
class Setup:
    broker: MosquittoBroker
    passwords: dict[str, str]
    hub: MQTTCollector
    daemons: dict[str, Runner]
    device_ids: dict[str, str]
    configs: dict[str, Path]
    envs: dict[str, dict]
    tmp: Path

    def launch(self, *names: str) -> None:
        """Start the daemons `names` (again), then wait for each one's status online and a first
        caption."""
        mark = len(self.hub.messages)
        for name in names:
            runs = sum(1 for _ in self.tmp.glob(f"{name}*.log"))
            self.daemons[name] = Runner(name, self.device_ids[name], self.configs[name],
                                        self.tmp / f"{name}{f'-{runs}' if runs else ''}.log",
                                        self.envs[name])
        for name in names:
            runner = self.daemons[name]
            wait_until(lambda r=runner: any(m.topic == f"{r.base}/status" and m.payload == b"online"
                                            for m in self.hub.messages[mark:]),
                       STARTUP_S, f"{name}: status online", runner)
            wait_until(lambda r=runner: any(m.topic == r.topic("caption")
                                            for m in self.hub.messages[mark:]),
                       20, f"{name}: a first caption", runner)


def acl_text(device_ids: list[str]) -> str:
    """The ACL of docs/security.md: the captioner writes its own base topic and its
    own discovery configs, and reads only its `set` topics and Home Assistant's birth message."""
    lines = ["user captioner"]
    for device_id in device_ids:
        base = f"{BASE_TOPIC}/{device_id}"
        lines += [f"topic write {base}/#", f"topic read {base}/+/set",
                  f"topic write homeassistant/+/{device_id}/#"]
    lines += ["topic read homeassistant/status", ""]
    lines += ["user hub"]
    for device_id in device_ids:
        lines += [f"topic read {BASE_TOPIC}/{device_id}/#", f"topic write {BASE_TOPIC}/{device_id}/+/set"]
    lines += ["topic read #", ""]
    lines += ["user intruder"] + [f"topic read {BASE_TOPIC}/{d}/#" for d in device_ids]
    return "\n".join(lines) + "\n"


def write_config(path: Path, device_id: str, port: int, clip: Path, **mqtt_extra) -> Path:
    document = {
        "device_id": device_id,
        "mqtt": {"host": "127.0.0.1", "port": port, "base_topic": BASE_TOPIC, "username": "captioner",
                 "discovery": {"enabled": True, "prefix": "homeassistant"}, **mqtt_extra},
        "model": {"bundle": "default"},
        # heartbeat_s 60 on a static scene: after the first caption, any caption is a forced one
        "cameras": [{"name": CAMERA, "source": str(clip), "interval_s": 0.3, "heartbeat_s": 60}],
        "logging": {"level": "DEBUG"},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def wait_until(predicate, timeout: float, what: str, runner: Runner | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if runner is not None and not runner.alive():
            raise AssertionError(f"{what}: daemon exited ({runner.proc.returncode}){runner.tail()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s{runner.tail() if runner else ''}")
        time.sleep(0.05)


def captions(hub: MQTTCollector, runner: Runner) -> list[dict]:
    return [json.loads(m.payload) for m in hub.on(runner.topic("caption"))]


def payloads_since(hub: MQTTCollector, topic: str, mark: int) -> list[bytes]:
    return [m.payload for m in hub.messages[mark:] if m.topic == topic]


@pytest.fixture(scope="module")
def started(tmp_path_factory) -> Setup:
    tmp = tmp_path_factory.mktemp("security")
    passwords = {user: f"{user}-{secrets.token_urlsafe(24)}" for user in ("captioner", "hub", "intruder")}
    unique = uuid.uuid4().hex[:8]
    device_ids = {"file": f"sec-file-{unique}", "env": f"sec-env-{unique}"}
    broker = MosquittoBroker(tmp / "mosquitto", allow_anonymous=False, users=passwords,
                             acl=acl_text(list(device_ids.values()))).start()
    daemons: dict[str, Runner] = {}
    hub = None
    try:
        hub = MQTTCollector(broker.port, ["#"], username="hub", password=passwords["hub"]).start()
        clip = static_clip(tmp / "static.avi")
        password_file = tmp / "mqtt-password"
        password_file.write_text(passwords["captioner"] + "\n")
        password_file.chmod(0o600)
        configs = {
            "file": write_config(tmp / "file.yaml", device_ids["file"], broker.port, clip,
                                 password_file=str(password_file)),
            "env": write_config(tmp / "env.yaml", device_ids["env"], broker.port, clip),
        }
        envs = {"file": child_env(),
                "env": child_env(EDGE_CAPTIONER_MQTT_PASSWORD=passwords["captioner"])}
        setup = Setup(broker, passwords, hub, daemons, device_ids, configs, envs, tmp)
        setup.launch("file", "env")
        yield setup
    finally:
        for runner in daemons.values():
            if runner.alive():
                runner.proc.kill()
            runner.proc.wait(10)
        if hub is not None:
            hub.stop()
        broker.stop()


@pytest.fixture
def setup(started) -> Setup:
    """The module's broker, hub and daemons, both daemons running: test_password_never_leaks
    stops them (for complete logs), so a test that runs after it starts them again."""
    stopped = [name for name, runner in started.daemons.items() if not runner.alive()]
    if stopped:
        started.launch(*stopped)
    return started


def connect_result(port: int, username: str | None, password: str | None) -> mqtt.ReasonCode:
    """The CONNACK reason code a fresh client gets."""
    got: list = []
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{uuid.uuid4().hex[:8]}")
    if username is not None:
        client.username_pw_set(username, password)

    def on_connect(client, userdata, flags, reason_code, properties):
        got.append(reason_code)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    try:
        assert done.wait(10), "no CONNACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return got[0]


# -- 1: the daemon under the ACL; who may connect; who may command -------------------------------------------
def test_daemon_works_under_the_acl_and_hub_commands_reach_it(setup):
    hub, runner = setup.hub, setup.daemons["file"]
    assert any(m.topic == runner.topic("state") and m.payload == b"streaming" for m in hub.messages)
    first = captions(hub, runner)
    assert first and first[-1]["camera"] == CAMERA and first[-1]["caption"].strip()
    assert any(m.topic.startswith(f"homeassistant/sensor/{runner.device_id}/") for m in hub.messages)
    # the daemon's subscriptions (commands, homeassistant/status) were granted
    assert "refused our subscriptions" not in runner.log(), runner.tail()

    time.sleep(1.0)  # a static scene, heartbeat 60 s: nothing more comes unless asked
    before = captions(hub, runner)
    assert len(before) == len(first), before
    asked = time.monotonic()
    publish(setup.broker.port, runner.topic("set"), b'{"action": "caption_now"}',
            username="hub", password=setup.passwords["hub"])
    wait_until(lambda: len(captions(hub, runner)) > len(before), 5, "caption_now from hub", runner)
    print(f"caption_now from hub -> caption in {time.monotonic() - asked:.2f} s")
    assert captions(hub, runner)[-1]["seq"] > before[-1]["seq"]


def test_anonymous_and_wrong_password_are_refused(setup):
    anonymous = connect_result(setup.broker.port, None, None)
    assert anonymous.is_failure and anonymous.value in (4, 5, 134, 135), anonymous
    wrong = connect_result(setup.broker.port, "captioner", "not-" + setup.passwords["captioner"])
    assert wrong.is_failure and wrong.value in (4, 5, 134, 135), wrong
    assert not connect_result(setup.broker.port, "intruder", setup.passwords["intruder"]).is_failure


def test_intruder_cannot_pause_the_daemon(setup):
    hub, runner, port = setup.hub, setup.daemons["file"], setup.broker.port
    state_topic = runner.topic("state")
    mark = len(hub.messages)
    publish(port, runner.topic("set"), b'{"action":"pause"}',
            username="intruder", password=setup.passwords["intruder"])
    time.sleep(1.5)
    assert b"paused" not in payloads_since(hub, state_topic, mark)
    # captions keep coming: a command from hub is still obeyed (and the daemon is not paused)
    before = len(captions(hub, runner))
    publish(port, runner.topic("set"), b'{"action":"caption_now"}',
            username="hub", password=setup.passwords["hub"])
    wait_until(lambda: len(captions(hub, runner)) > before, 5, "caption after the intruder's pause",
               runner)
    assert b"paused" not in payloads_since(hub, state_topic, mark)
    assert not re.search(r"command .*pause", runner.log()), runner.tail()
    assert re.search(r"command .*caption_now", runner.log()), runner.tail()  # such lines do show

    # positive control: the very same payload from hub does pause it, then resume
    mark = len(hub.messages)
    publish(port, runner.topic("set"), b'{"action":"pause"}', username="hub",
            password=setup.passwords["hub"])
    wait_until(lambda: b"paused" in payloads_since(hub, state_topic, mark), 5, "paused by hub", runner)
    mark = len(hub.messages)
    publish(port, runner.topic("set"), b'{"action":"resume"}', username="hub",
            password=setup.passwords["hub"])
    wait_until(lambda: b"streaming" in payloads_since(hub, state_topic, mark), 5, "resumed by hub", runner)


# -- 2: the password appears nowhere -------------------------------------------------------------------------
def test_password_never_leaks(setup):
    password = setup.passwords["captioner"]
    # stop both daemons cleanly first, so their logs are complete (shutdown included)
    for runner in setup.daemons.values():
        runner.proc.send_signal(signal.SIGTERM)
    for runner in setup.daemons.values():
        assert runner.proc.wait(20) == 0, runner.tail()
        log = runner.log()
        assert "DEBUG" in log, runner.tail()  # the scan did see the debug output
        assert "MQTT: connected" in log, runner.tail()
        assert password not in log, f"password in the {runner.name} daemon's log"

    for name, config in setup.configs.items():
        extra = {"EDGE_CAPTIONER_MQTT_PASSWORD": password} if name == "env" else {}
        done = subprocess.run(
            [sys.executable, "-m", "edge_captioner.cli", "check-config", "-vv", "--config", str(config)],
            capture_output=True, text=True, timeout=60, env=child_env(**extra), cwd=ROOT)
        assert done.returncode == 0, done.stderr
        assert yaml.safe_load(done.stdout)["mqtt"]["password"] == "***", done.stdout
        assert password not in done.stdout + done.stderr, f"password in check-config ({name})"

    # every message the hub saw under '#', offline status (last message of each daemon) included
    for runner in setup.daemons.values():
        wait_until(lambda r=runner: any(m.topic == f"{r.base}/status" and m.payload == b"offline"
                                        for m in setup.hub.messages), 5, f"{runner.name}: offline")
    messages = list(setup.hub.messages)
    assert len(messages) > 10
    encoded = password.encode()
    leaks = [m.topic for m in messages if encoded in m.payload or password in m.topic]
    assert not leaks, f"password in MQTT messages on {leaks}"
