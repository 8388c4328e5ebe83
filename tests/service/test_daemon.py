"""`edge-captioner run` end to end: the REAL daemon as a subprocess, a real Mosquitto broker, the
tiny real int8 bundle, real video files and a real MJPEG-over-HTTP camera. No mocks.

Each test writes its own config.yaml (unique device_id, base topic and discovery prefix) and starts
the daemon through the `run_daemon` fixture, which kills whatever is still running at teardown and
prints the daemon's stderr log there (pytest shows it for a failing test). Tests on the shared broker
(127.0.0.1:1883, or a private one when none runs there) delete their retained messages afterwards;
the broker-outage test uses a private broker whose password file gates the daemon's reconnect, so
that the test's subscriber is always listening first.

The daemon logs at INFO: a model caption that is published is logged ("front_door: <text> (...)"),
a heartbeat (the same caption re-published, without running the model) only at DEBUG. Tests that
must tell "the model captioned a fresh frame" from a heartbeat use a long heartbeat_s, so that any
caption that arrives is a new one.
"""

from __future__ import annotations

import base64
import json
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import pytest
import yaml

from support.daemons import (
    CAMERA,
    REQUIRED_FIELDS,
    STARTUP_S,
    SceneSource,
    captions,
    child_env,
    cli,
    retained,
    static_clip,
    wait_captions,
    wait_payload,
    wait_until,
    write_config,
)
from support.mjpeg_server import MJPEGServer
from support.mosquitto import (
    MQTTCollector,
    publish,
)
from support.paths import REPO as ROOT

pytestmark = pytest.mark.slow

# -- 1, 2, 3: captions, status, state, discovery; SIGTERM and SIGKILL ----------------------------------------
def test_captions_status_state_discovery_then_sigterm(tiny_bundles, shared_port, names, tmp_path,
                                                      run_daemon):
    bundle = tiny_bundles[0]
    manifest = json.loads((bundle / "manifest.json").read_text())
    config = write_config(tmp_path / "config.yaml", names, bundle, shared_port,
                          interval_s=0.3, heartbeat_s=1.0)
    with MQTTCollector(shared_port, [f"{names.base}/#"]) as sub:
        daemon = run_daemon(config)
        wait_payload(sub, names.status, b"online", STARTUP_S, daemon)
        got = wait_captions(sub, names, 4, 20, daemon)
        wait_payload(sub, names.topic("state"), b"streaming", 5, daemon)

        for caption in got:
            assert set(caption) == REQUIRED_FIELDS, caption
            assert caption["camera"] == CAMERA
            assert isinstance(caption["caption"], str) and caption["caption"].strip()
            assert isinstance(caption["confidence"], float) and 0.0 <= caption["confidence"] <= 1.0
            assert caption["language"] == manifest["language"] == "en"
            assert caption["model"] == manifest["name"]
            assert isinstance(caption["latency_ms"], int | float) and caption["latency_ms"] >= 0
            stamp = datetime.fromisoformat(caption["timestamp"])
            assert stamp.utcoffset() == timedelta(0), caption["timestamp"]  # UTC, said so
            assert abs(datetime.now(UTC) - stamp) < timedelta(minutes=2)
        seqs = [c["seq"] for c in got]
        assert all(isinstance(s, int) for s in seqs) and seqs == sorted(set(seqs)), seqs
        assert seqs[0] == 1

        # what a client that connects now gets: the latest caption, online, streaming; retained
        stored = retained(shared_port, f"{names.base}/#")
        assert stored[names.status].payload == b"online"
        assert stored[names.topic("state")].payload == b"streaming"
        latest = json.loads(stored[names.topic("caption")].payload)
        assert set(latest) == REQUIRED_FIELDS and latest["seq"] >= seqs[-1]

        discovery_topic = f"{names.prefix}/sensor/{names.device_id}/{CAMERA}_caption/config"
        discovered = retained(shared_port, f"{names.prefix}/#")
        assert discovery_topic in discovered, sorted(discovered)
        sensor = json.loads(discovered[discovery_topic].payload)
        assert sensor["state_topic"] == names.topic("caption")
        assert sensor["json_attributes_topic"] == names.topic("caption")
        online = sensor["availability"][0]
        assert online["topic"] == names.status
        assert (online["payload_available"], online["payload_not_available"]) == ("online", "offline")
        assert sensor["unique_id"] == f"{names.device_id}_{CAMERA}_caption"
        assert sensor["device"]["model"] == manifest["name"]

        count = len(sub.messages)
        started = time.monotonic()
        assert daemon.signal(signal.SIGTERM, timeout=10) == 0, daemon.tail()
        stopped_in = time.monotonic() - started
        wait_payload(sub, names.status, b"offline", 5, daemon, after=count)
    assert retained(shared_port, names.status)[names.status].payload == b"offline"
    log = daemon.log()
    assert "SIGTERM received" in log and "stopped: 1 camera(s)" in log
    assert "could not publish offline" not in log  # said by the daemon itself, not by its will
    assert "Traceback" not in log, daemon.tail()
    print(f"SIGTERM -> exit 0 in {stopped_in:.1f} s")


def test_sigkill_leaves_the_last_will(tiny_bundles, shared_port, names, tmp_path, run_daemon):
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port)
    with MQTTCollector(shared_port, [names.status]) as sub:
        daemon = run_daemon(config)
        wait_payload(sub, names.status, b"online", STARTUP_S, daemon)
        count = len(sub.messages)
        assert daemon.signal(signal.SIGKILL, timeout=10) == -signal.SIGKILL
        # the kernel closes the socket; the broker publishes the will at once
        wait_payload(sub, names.status, b"offline", 10, after=count)
    assert retained(shared_port, names.status)[names.status].payload == b"offline"


# -- 4: commands ---------------------------------------------------------------------------------------------
def test_commands_caption_now_pause_resume_and_junk(tiny_bundles, shared_port, names, tmp_path,
                                                    run_daemon, two_scenes):
    scene = SceneSource(two_scenes)
    set_topic = names.topic("set")
    with MJPEGServer(scene, fps=10) as camera:
        # heartbeat_s 60: every caption in this test comes from the model, none is a heartbeat
        config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port,
                              source=camera.url, interval_s=0.3, heartbeat_s=60, stall_timeout_s=5)
        with MQTTCollector(shared_port, [f"{names.base}/#"]) as sub:
            daemon = run_daemon(config)
            wait_payload(sub, names.topic("state"), b"streaming", STARTUP_S, daemon)
            first = wait_captions(sub, names, 1, 20, daemon)[-1]

            # a static scene: nothing more is published... until caption_now
            time.sleep(1.0)
            assert len(captions(sub, names)) == 1, captions(sub, names)
            asked = time.monotonic()
            publish(shared_port, set_topic, b'{"action": "caption_now"}')
            forced = wait_captions(sub, names, 2, 5, daemon)[-1]
            print(f"caption_now -> caption in {time.monotonic() - asked:.2f} s")
            assert forced["seq"] == first["seq"] + 1
            assert forced["caption"] == first["caption"]  # same scene, same model: same words
            assert forced["timestamp"] > first["timestamp"]  # a frame taken after the first one

            # a changing scene: captions flow
            scene.alternate = True
            flowing = wait_captions(sub, names, 5, 15, daemon)
            assert len({c["caption"] for c in flowing}) >= 2

            # pause: state "paused", and no caption while paused
            mark = len(sub.messages)
            publish(shared_port, set_topic, b'{"action": "pause"}')
            wait_payload(sub, names.topic("state"), b"paused", 5, daemon, after=mark)
            time.sleep(0.5)  # a caption already inside the model when the command came may land
            during_pause = len(captions(sub, names))
            time.sleep(2.5)  # ~5 scene changes at an interval of 0.3 s
            assert len(captions(sub, names)) == during_pause, "captions while paused"
            assert retained(shared_port, names.topic("state"))[names.topic("state")].payload == b"paused"

            # resume: "streaming" again and captions again
            mark = len(sub.messages)
            publish(shared_port, set_topic, b'{"action":"resume"}')
            wait_payload(sub, names.topic("state"), b"streaming", 5, daemon, after=mark)
            resumed = wait_captions(sub, names, during_pause + 2, 10, daemon)

            # junk on the command topic: logged, ignored, and the daemon carries on captioning
            for junk in (b"not json", b"\xff", b'{"action":"explode"}'):
                publish(shared_port, set_topic, junk)
            wait_until(lambda: daemon.log().count("malformed command") >= 3, 5,
                       "three 'malformed command' warnings", daemon)
            wait_captions(sub, names, len(resumed) + 3, 10, daemon)
            assert daemon.alive()
            seqs = [c["seq"] for c in captions(sub, names)]
            assert seqs == list(range(1, len(seqs) + 1))  # nothing published twice, none skipped
            assert daemon.signal(signal.SIGTERM) == 0
    log = daemon.log()
    warnings = [line for line in log.splitlines() if "malformed command" in line]
    assert len(warnings) == 3, warnings
    assert "not UTF-8" in warnings[1] and "'explode'" in warnings[2]
    assert "Traceback" not in log, daemon.tail()


def test_the_interval_number_follows_the_daemon_across_a_restart(tiny_bundles, shared_port, names,
                                                                tmp_path, run_daemon):
    """`<base>/<camera>/interval` (the interval number's state) is the configured interval at
    start, each `/set` one after, and the configured one again after a restart: a number with no
    state of its own would keep showing 2.5."""
    interval = names.topic("interval")
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port,
                          interval_s=0.3, heartbeat_s=60)
    with MQTTCollector(shared_port, [interval]) as sub:
        daemon = run_daemon(config)
        wait_payload(sub, interval, b"0.3", STARTUP_S, daemon)
        mark = len(sub.messages)
        publish(shared_port, names.topic("set"), b'{"interval_s": 2.5}')
        wait_payload(sub, interval, b"2.5", 5, daemon, after=mark)
        # out of the number's range, or a key twice: refused, the interval stays
        for refused in (b'{"interval_s": 1e-300}', b'{"interval_s": 5, "interval_s": 0.01}'):
            publish(shared_port, names.topic("set"), refused)
        wait_until(lambda: daemon.log().count("malformed command") >= 2, 5,
                   "two 'malformed command' warnings", daemon)
        assert retained(shared_port, interval)[interval].payload == b"2.5"
        assert daemon.signal(signal.SIGTERM) == 0

        mark = len(sub.messages)
        again = run_daemon(config)
        wait_payload(sub, interval, b"0.3", STARTUP_S, again, after=mark)
        assert again.signal(signal.SIGTERM) == 0
    got = retained(shared_port, interval)[interval]
    assert (got.payload, got.qos, got.retain) == (b"0.3", 1, True)
    log = daemon.log()
    assert "interval_s: expected a number 0.1..86400" in log and "duplicate key 'interval_s'" in log


# -- 5: the scene-change gate on a static scene, and what it costs -------------------------------------------
def test_static_scene_is_captioned_once_then_only_heartbeats(tiny_bundles, shared_port, names,
                                                             tmp_path, run_daemon):
    heartbeat_s = 2.0
    periods = 3
    clip = static_clip(tmp_path / "static.avi")
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port,
                          source=str(clip), interval_s=0.5, heartbeat_s=heartbeat_s)
    with MQTTCollector(shared_port, [names.topic("caption")]) as sub:
        daemon = run_daemon(config)
        wait_captions(sub, names, 1, STARTUP_S, daemon)
        first = sub.messages[0]
        cpu_before, clock_before = daemon.cpu_seconds(), time.monotonic()
        window_end = first.at + periods * heartbeat_s
        time.sleep(max(window_end + 0.3 - time.monotonic(), 0))
        cpu_after, clock_after = daemon.cpu_seconds(), time.monotonic()
        assert daemon.signal(signal.SIGTERM) == 0
    in_window = [json.loads(m.payload) for m in sub.messages if m.at <= window_end]
    everything = [json.loads(m.payload) for m in sub.messages]
    assert {c["caption"] for c in everything} == {everything[0]["caption"]}  # never changes
    assert [c["seq"] for c in everything] == list(range(1, len(everything) + 1))
    assert len({c["timestamp"] for c in everything}) == len(everything)  # each one re-stamped
    assert 1 + periods - 1 <= len(in_window) <= 1 + periods + 1, in_window
    # the model ran once: every later message was a heartbeat
    stopped = re.search(r"stopped: 1 camera\(s\), 1 frames captioned, (\d+) captions published",
                        daemon.log())
    assert stopped and int(stopped.group(1)) >= len(everything), daemon.tail()
    pct = 100.0 * (cpu_after - cpu_before) / (clock_after - clock_before)
    print(f"static-scene CPU: {pct:.1f}% of one core "
          f"(over {clock_after - clock_before:.1f} s, 320x240 at 10 fps)")
    assert pct < 50.0


# -- 6: an MJPEG camera goes away and comes back -------------------------------------------------------------
def test_mjpeg_camera_lost_and_back(tiny_bundles, shared_port, names, tmp_path, run_daemon, two_scenes):
    scene = SceneSource(two_scenes)
    scene.alternate = True  # a new caption at every interval while frames arrive
    state = names.topic("state")
    with MJPEGServer(scene, fps=10) as camera:
        config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port,
                              source=camera.url, interval_s=0.3, heartbeat_s=60, stall_timeout_s=1.5)
        with MQTTCollector(shared_port, [f"{names.base}/#"]) as sub:
            daemon = run_daemon(config)
            wait_payload(sub, state, b"streaming", STARTUP_S, daemon)
            wait_captions(sub, names, 3, 20, daemon)

            mark = len(sub.messages)
            camera.stop()
            wait_payload(sub, state, b"lost", 10, daemon, after=mark)
            time.sleep(0.5)  # a caption of the last frames may still land
            while_lost = len(captions(sub, names))
            time.sleep(1.0)
            assert len(captions(sub, names)) == while_lost, "captions without frames"

            mark = len(sub.messages)
            camera.start()  # the same port
            wait_payload(sub, state, b"streaming", 15, daemon, after=mark)
            back = wait_captions(sub, names, while_lost + 2, 10, daemon)
            assert daemon.signal(signal.SIGTERM) == 0
    assert [c["seq"] for c in back] == list(range(1, len(back) + 1))
    log = daemon.log()
    assert re.search(r"camera front_door: lost: .+", log), daemon.tail()
    assert "reopening in" in log


# -- 7: the broker goes down and comes back ------------------------------------------------------------------
GATE = {"watcher": "watch-pw"}  # the test's subscriber; the daemon is "cam"
BOTH = {**GATE, "cam": "cam-pw"}
WATCHER = {"username": "watcher", "password": "watch-pw"}


def test_broker_outage_queues_captions_and_delivers_them_in_order(tiny_bundles, names, tmp_path,
                                                                  run_daemon, mosquitto_broker):
    queue_limit = 200
    broker = mosquitto_broker(allow_anonymous=False, users=BOTH)  # no persistence: nothing survives
    # retain false: the subscriber must see every caption live, none stands in for another
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], broker.port,
                          mqtt={"username": "cam", "password": "cam-pw", "retain": False,
                                "queue_limit": queue_limit},
                          source="sample", interval_s=0.3, heartbeat_s=1.0)
    sub = MQTTCollector(broker.port, [names.topic("caption")], **WATCHER).start()
    try:
        daemon = run_daemon(config)
        wait_captions(sub, names, 3, STARTUP_S, daemon)

        broker.stop()
        daemon.wait_log(r"MQTT: connection to 127\.0\.0\.1:\d+ lost", 10)
        before_outage = len(sub.messages)
        time.sleep(3.0)  # the daemon keeps captioning; its reconnect attempts fail
        # Back, but the daemon's user is refused until our subscriber is in again: then nothing it
        # sends after reconnecting can reach the broker before someone listens.
        broker.set_users(GATE)
        broker.start()
        sub.wait_subscribed(2, timeout=10)
        assert len(sub.messages) == before_outage
        broker.set_users(BOTH)
        broker.reload()
        restored = daemon.wait_log(r"connection to \S+ restored after \d+ s; (\d+) caption\(s\) queued",
                                   30)
        queued = int(restored.group(1))
        assert 2 <= queued <= queue_limit, restored.group(0)
        sub.wait_for(lambda m: True, count=before_outage + queued, timeout=10)
        time.sleep(0.5)
        assert daemon.signal(signal.SIGTERM) == 0
    finally:
        sub.stop()
    seqs = [json.loads(m.payload)["seq"] for m in sub.messages]
    assert seqs == sorted(seqs), seqs  # in order (a QoS 1 duplicate may repeat one)
    assert sorted(set(seqs)) == list(range(1, max(seqs) + 1)), seqs  # no gap
    outage = seqs[before_outage:]
    assert len(set(outage)) >= queued, (queued, outage)
    print(f"broker outage: {queued} caption(s) queued, seqs {outage[0]}..{outage[queued - 1]} "
          f"delivered after the reconnect, then live up to {seqs[-1]}")
    log = daemon.log()
    assert "dropped" not in log.split("stopped:")[0], daemon.tail()
    assert re.search(r"stopped: .*, 0 dropped", log), daemon.tail()


def test_captions_queued_while_the_broker_is_down_survive_a_daemon_restart(
        names, tmp_path, run_daemon, mosquitto_broker):
    """The broker is down from the start and across a restart of the daemon: the first run's
    captions are journalled under the state directory and the second run delivers them
    first, in order, with their own timestamps and seq."""
    broker = mosquitto_broker(start=False)
    config = write_config(tmp_path / "config.yaml", names, "default-en", broker.port,
                          mqtt={"retain": False}, source="sample", interval_s=0.3,
                          heartbeat_s=0.6)
    state = tmp_path / "state"
    first = run_daemon(config, STATE_DIRECTORY=str(state))
    first.wait_log(rf"{CAMERA}: (no one|a person)", STARTUP_S)  # a caption made and queued
    time.sleep(1.5)
    assert first.signal(signal.SIGTERM) == 0
    kept = int(re.search(r"(\d+) kept in ", first.log()).group(1))
    spooled = [json.loads(base64.b64decode(json.loads(line)["payload"]))
               for line in (state / f"captions-{names.device_id}.jsonl").read_text().splitlines()]
    assert len(spooled) == kept >= 2

    broker.start()
    with MQTTCollector(broker.port, [names.topic("caption")]) as sub:
        second = run_daemon(config, STATE_DIRECTORY=str(state))
        got = wait_captions(sub, names, kept + 1, STARTUP_S, second)
        assert second.signal(signal.SIGTERM) == 0
    assert got[:kept] == spooled  # as they were made: timestamps and seq
    assert [c["seq"] for c in spooled] == list(range(1, kept + 1))
    assert (state / f"captions-{names.device_id}.jsonl").read_bytes() == b""  # all acknowledged


# -- 8: bad input: exit 2, one line --------------------------------------------------------------------------
@pytest.mark.parametrize("camera, key", [
    ({"interval_s": -1}, "cameras[0].interval_s"),
    ({"fps": 10}, "cameras[0].fps"),
    ({"heartbeat_s": "often"}, "cameras[0].heartbeat_s"),
])
def test_bad_config_is_exit_2_with_one_line_naming_the_key(tiny_bundles, names, tmp_path, camera, key):
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], 1883, **camera)
    done = cli("run", "--config", config, timeout=60)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("edge-captioner: error: ") and key in lines[0], lines
    assert "Traceback" not in done.stderr


def test_corrupt_bundle_is_exit_2_before_connecting(tiny_bundles, shared_port, names, tmp_path):
    bundle = tmp_path / "bundle"
    shutil.copytree(tiny_bundles[0], bundle)
    with open(bundle / "encoder.tflite", "r+b") as handle:
        handle.truncate(1000)
    config = write_config(tmp_path / "config.yaml", names, bundle, shared_port)
    with MQTTCollector(shared_port, [f"{names.base}/#", f"{names.prefix}/#"]) as sub:
        done = cli("run", "--config", config, timeout=60)
        time.sleep(0.5)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("edge-captioner: error: ")
    assert str(bundle / "encoder.tflite") in lines[0], lines
    assert "Traceback" not in done.stderr
    assert sub.messages == []  # not even "online": it never connected


# -- 9: check-config and watch -------------------------------------------------------------------------------
def test_check_config_prints_the_resolved_yaml(tiny_bundles, shared_port, names, tmp_path):
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port,
                          mqtt={"password": "s3cret", "username": "cam"})
    done = cli("check-config", "--config", config, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"# edge-captioner configuration from {config}")
    resolved = yaml.safe_load(done.stdout)
    assert resolved["device_id"] == names.device_id
    assert resolved["mqtt"]["client_id"] == f"edge-captioner-{names.device_id}"  # filled in
    assert resolved["mqtt"]["password"] == "***" and "s3cret" not in done.stdout
    assert resolved["model"]["bundle"] == str(tiny_bundles[0])
    assert resolved["cameras"][0]["name"] == CAMERA
    assert resolved["cameras"][0]["stall_timeout_s"] == 10.0  # a default, written out


def test_watch_prints_the_daemons_captions(tiny_bundles, shared_port, names, tmp_path, run_daemon):
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port,
                          interval_s=0.5, heartbeat_s=2.0)
    watch = subprocess.Popen([sys.executable, "-m", "edge_captioner.cli", "watch", "--config",
                              str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=child_env(), cwd=ROOT)
    out: queue.Queue[str] = queue.Queue()
    err: list[str] = []
    readers = [threading.Thread(target=lambda s=stream, put=sink: [put(line) for line in s], daemon=True)
               for stream, sink in ((watch.stdout, out.put), (watch.stderr, err.append))]
    for reader in readers:
        reader.start()
    try:
        # listening before the daemon publishes anything: what it prints is live, not retained
        wait_until(lambda: any("connected to" in line for line in err), 30, f"watch connected: {err}")
        with MQTTCollector(shared_port, [names.topic("caption")]) as sub:
            daemon = run_daemon(config)
            caption = wait_captions(sub, names, 1, STARTUP_S, daemon)[0]["caption"]
        where = f"{names.device_id}/{CAMERA}"
        seen: list[str] = []
        deadline = time.monotonic() + 10
        while not any(where in line and caption in line for line in seen):
            try:
                seen.append(out.get(timeout=max(deadline - time.monotonic(), 0.01)))
            except queue.Empty:
                raise AssertionError(f"no caption line from watch in 10 s: {seen} {err}") from None
        line = next(line for line in seen if where in line and caption in line)
        assert "(retained)" not in line, line
        watch.send_signal(signal.SIGTERM)
        assert watch.wait(10) == 0, err
        readers[1].join(5)  # all of stderr
        assert not any("Traceback" in line for line in err), err
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait(10)
        for reader in readers:
            reader.join(5)
        watch.stdout.close()
        watch.stderr.close()


# -- 10: systemd notifications -------------------------------------------------------------------------------
def test_systemd_ready_watchdog_and_stopping(tiny_bundles, shared_port, names, tmp_path, run_daemon):
    sock_dir = tmp_path
    if len(str(tmp_path / "notify.sock")) > 100:  # AF_UNIX paths are limited to 108 bytes
        sock_dir = Path(tempfile.mkdtemp(prefix="ec-notify-"))
    path = sock_dir / "notify.sock"
    config = write_config(tmp_path / "config.yaml", names, tiny_bundles[0], shared_port)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(path))
    received: list[tuple[float, str]] = []

    def receive_until(predicate, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{what} not received in {timeout} s: {received}{daemon.tail()}")
            notify.settimeout(min(left, 0.5))
            try:
                data = notify.recv(4096)
            except TimeoutError:
                continue
            received.extend((time.monotonic(), line) for line in data.decode().splitlines())

    def count(line: str, after: float = 0.0) -> int:
        return sum(1 for at, got in received if got == line and at >= after)

    try:
        # WATCHDOG_PID stays unset: it would have to be the child's pid, unknown before the start,
        # and notify.watchdog_interval_s() takes "unset" as "this process is the one watched".
        daemon = run_daemon(config, NOTIFY_SOCKET=str(path), WATCHDOG_USEC="2000000")
        receive_until(lambda: count("READY=1"), STARTUP_S, "READY=1")
        ready_at = next(at for at, line in received if line == "READY=1")
        receive_until(lambda: count("WATCHDOG=1", after=ready_at) >= 3, 6,
                      "3 WATCHDOG=1 pings (every 1 s) after READY=1")
        assert any(line.startswith("STATUS=captioning 1 camera(s)") for _, line in received)
        daemon.proc.send_signal(signal.SIGTERM)
        receive_until(lambda: count("STOPPING=1"), 10, "STOPPING=1")
        assert daemon.proc.wait(10) == 0
    finally:
        notify.close()
        if sock_dir != tmp_path:
            shutil.rmtree(sock_dir, ignore_errors=True)
    pings = [at for at, line in received if line == "WATCHDOG=1"]
    gaps = [b - a for a, b in zip(pings, pings[1:], strict=False)]
    print(f"watchdog pings: {len(pings)}, gaps {', '.join(f'{g:.2f}' for g in gaps)} s")


def photo_clip(path: Path, name: str) -> Path:
    """Two seconds of one of the real package photos (conversion/pretrained/photos.py)."""
    from conversion.pretrained import photos

    frame = photos.load_photo(name)  # at its own size: a camera does not stretch the scene
    height, width = frame.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (width, height))
    for _ in range(20):
        writer.write(frame)
    writer.release()
    return path


def test_the_default_bundle_says_what_its_real_world_encoder_found(shared_port, names,
                                                                    tmp_path, run_daemon):
    """A driveway camera looking at a real photo of a person: the caption says so, with the
    configured place, and its JSON says what was found, with a box."""
    clip = photo_clip(tmp_path / "astronaut.avi", "astronaut")
    config = write_config(tmp_path / "config.yaml", names, "default-en", shared_port,
                          source=str(clip), interval_s=0.3, heartbeat_s=1.0, place="driveway")
    with MQTTCollector(shared_port, [f"{names.base}/#"]) as sub:
        daemon = run_daemon(config)
        caption = wait_captions(sub, names, 1, STARTUP_S, daemon)[0]
    assert set(caption) == REQUIRED_FIELDS | {"found"}, caption
    assert caption["caption"] == "a person in the driveway"
    assert caption["found"]["kinds"] == {"person": 1}, caption["found"]
    person = caption["found"]["objects"][0]
    assert person["label"] == "person" and len(person["box"]) == 4
    # the caption's confidence is the detector's score of the person (times the decoder's ~1)
    assert abs(caption["confidence"] - person["score"]) < 0.05


def test_a_caption_under_min_confidence_is_withheld_with_the_reason(shared_port, names,
                                                                     tmp_path, run_daemon):
    clip = photo_clip(tmp_path / "chelsea.avi", "chelsea")
    config = write_config(tmp_path / "config.yaml", names, "default-en", shared_port,
                          source=str(clip), interval_s=0.3, heartbeat_s=1.0,
                          place="living room", min_confidence=0.95)
    with MQTTCollector(shared_port, [f"{names.base}/#"]) as sub:
        daemon = run_daemon(config)
        wait_until(lambda: any(m.topic == names.topic("withheld") for m in sub.messages),
                   STARTUP_S, "a withheld caption", daemon)
        withheld = json.loads(next(m.payload for m in sub.messages
                                   if m.topic == names.topic("withheld")))
        time.sleep(1.0)  # a few more frames: none of them becomes the caption
        assert not [m for m in sub.messages if m.topic == names.topic("caption")]
    assert withheld["caption"] == "a cat in the living room"
    assert withheld["withheld"].startswith("confidence 0.") and "min_confidence 0.95" in \
        withheld["withheld"]
