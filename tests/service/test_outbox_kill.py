"""The persistent outbox against a real Mosquitto: the broker is away while the daemon captions,
the daemon is killed with SIGKILL (no clean stop, no spooling at exit), the broker comes back and
the daemon is started again: every caption made before the kill is delivered once, in order, with
its own timestamp and seq, ahead of the new run's. Also with a torn last journal line (a crash
while writing it) and with one invalid byte in the middle of the journal (that line alone lost)."""

from __future__ import annotations

import base64
import json
import time

import pytest

from edge_captioner.mqtt import journal
from support.daemons import CAMERA, STARTUP_S, captions, cli, wait_captions, write_config
from support.mosquitto import MQTTCollector

pytestmark = pytest.mark.slow

CAPTIONING_S = 10.0


@pytest.mark.parametrize("damage", ["none", "torn last line", "invalid byte in the middle"])
def test_captions_survive_sigkill_and_are_delivered_once_in_order(
        damage, names, tmp_path, run_daemon, mosquitto_broker):
    broker = mosquitto_broker(start=False)
    config = write_config(tmp_path / "config.yaml", names, "default-en", broker.port,
                          mqtt={"retain": False}, source="sample", interval_s=0.3,
                          heartbeat_s=0.6,
                          # the journal's captions alone: the sample clip's visitor would also
                          # queue event messages (QoS 1, the same journal), which this test does
                          # not count
                          events={"enabled": False})
    state = tmp_path / "state"
    path = state / f"captions-{names.device_id}.jsonl"

    first = run_daemon(config, STATE_DIRECTORY=str(state))
    first.wait_log(rf"{CAMERA}: (no one|a person)", STARTUP_S)
    time.sleep(CAPTIONING_S)
    first.kill()  # SIGKILL

    data = path.read_bytes()
    made = [json.loads(e.payload) for e in journal.parse(data, names.base, 10_000).entries]
    seqs = [c["seq"] for c in made]
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) >= 5, seqs
    logged = first.log().count(f"{CAMERA}: ")
    assert len(seqs) >= logged - 1, (len(seqs), logged)  # at most the one being queued at the kill

    expected = made
    if damage == "torn last line":
        path.write_bytes(data + b'{"id":99999,"topic":"' + names.base.encode() + b'/cam/cap')
    elif damage == "invalid byte in the middle":
        lines = data.split(b"\n")
        middle = len(lines) // 2
        lines[middle] = lines[middle][:30] + b"\xff" + lines[middle][31:]
        path.write_bytes(b"\n".join(lines))
        lost = json.loads(base64.b64decode(json.loads(data.split(b"\n")[middle])["payload"]))
        expected = [c for c in made if c != lost]
        assert len(expected) == len(made) - 1

    broker.start()
    with MQTTCollector(broker.port, [names.topic("caption")]) as sub:
        second = run_daemon(config, STATE_DIRECTORY=str(state))
        wait_captions(sub, names, len(expected) + 2, STARTUP_S + 20, second)
        time.sleep(1.5)  # room for any duplicate to arrive
        got = captions(sub, names)
    assert got[:len(expected)] == expected  # in order, as made: timestamps and seq
    later = got[len(expected):]
    assert not [c for c in later if c in made], "a caption from before the kill came twice"
    log = second.log()
    assert f"{len(expected)} caption(s) the last run could not deliver are queued first" in log
    if damage == "torn last line":
        assert "cut short" in log
    if damage == "invalid byte in the middle":
        assert "1 invalid line(s) skipped" in log
    print(f"{damage}: {len(seqs)} caption(s) made before SIGKILL, {len(expected)} delivered "
          f"after the restart, seqs {[c['seq'] for c in expected]}")


@pytest.mark.parametrize("command", ["check-config", "run"])
def test_a_spool_dir_that_cannot_hold_the_journal_is_refused_at_start(command, names, tmp_path):
    """`spool_dir: /proc/nope` used to pass check-config and start-up and lose the captions at the
    stop: now exit 2 with one line naming the key."""
    config = write_config(tmp_path / "config.yaml", names, "default-en", 1,
                          mqtt={"spool_dir": "/proc/nope"}, source="sample")
    result = cli(command, "--config", config, timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "mqtt.spool_dir" in result.stderr and "/proc/nope" in result.stderr
