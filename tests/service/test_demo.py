"""The demo, only when asked for: `edge-captioner run --demo` on the broker of this machine, and
`scripts/demo.sh` (the README's first command) with a broker of its own, which ends quietly: the
daemon stops, publishing `offline`, before the script stops its broker."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import pytest

from support.daemons import STARTUP_S, child_env
from support.mosquitto import MQTTCollector, clear_retained
from support.paths import REPO

pytestmark = pytest.mark.slow

DEMO_DEVICE = "edge-captioner-demo"
DEMO_BASE = f"edge_captioner/{DEMO_DEVICE}"


def test_run_demo_captions_the_sample_clip_without_discovery(shared_port, tmp_path):
    """The built-in demo publishes to 127.0.0.1:1883 (a broker on this machine), under a device id
    no one takes for a real one, and announces nothing to Home Assistant."""
    if shared_port != 1883:
        pytest.skip("the built-in demo publishes to 127.0.0.1:1883, and no broker listens there")
    log = tmp_path / "demo.log"
    with MQTTCollector(shared_port, [f"{DEMO_BASE}/#", f"homeassistant/+/{DEMO_DEVICE}/#"]) as sub, \
            open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "edge_captioner.cli", "run", "--demo"],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                env=child_env(), cwd=REPO)
        try:
            caption = sub.wait_for(lambda m: m.topic == f"{DEMO_BASE}/front_door/caption",
                                   timeout=STARTUP_S)[0]
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(20) == 0, log.read_text()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
            clear_retained(shared_port, [f"{DEMO_BASE}/#"])
    assert json.loads(caption.payload)["camera"] == "front_door"
    announced = [m.topic for m in sub.messages if m.topic.startswith("homeassistant/") and m.payload]
    assert announced == [], "the demo announced entities to Home Assistant"
    assert "demo" in log.read_text()


BROKER_THAT_GOES_AT_ONCE = """#!/usr/bin/env bash
# the real broker, except that it is gone the moment it is told to stop (SIGKILL): as on a slow
# board, where the daemon takes longer to stop than Mosquitto
"$REAL_MOSQUITTO" "$@" &
child=$!
trap 'kill -KILL "$child"; exit 0' TERM INT
wait "$child"
"""


def test_demo_script_runs_and_ends_quietly(tmp_path):
    """`DEMO_SECONDS=N bash scripts/demo.sh`: captions arrive, and at the end the daemon stops
    while its broker is still up: `offline` is published, nothing is said about a lost
    connection. The broker is one that goes at once when stopped, so that stopping both together
    (the bug) is seen on a fast machine too."""
    real = shutil.which("mosquitto") or pytest.fail("mosquitto not on the PATH")
    shim = tmp_path / "bin" / "mosquitto"
    shim.parent.mkdir()
    shim.write_text(BROKER_THAT_GOES_AT_ONCE)
    shim.chmod(0o755)
    env = child_env(DEMO_SECONDS="10", REAL_MOSQUITTO=real)
    env["PATH"] = f"{shim.parent}{os.pathsep}{env['PATH']}"
    proc = subprocess.Popen(["bash", "scripts/demo.sh"], cwd=REPO, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        stderr_lines = []
        port = None
        deadline = time.monotonic() + 120  # setup.sh (pip) first
        while port is None and time.monotonic() < deadline:
            line = proc.stderr.readline()
            if not line:
                break
            stderr_lines.append(line)
            found = re.search(r"broker on port (\d+)", line)
            port = int(found.group(1)) if found else None
        assert port is not None, "".join(stderr_lines)
        with MQTTCollector(port, ["edge_captioner/+/status"]) as sub:
            stdout, rest = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    stderr = "".join(stderr_lines) + rest
    assert proc.returncode == 0, stderr
    assert " a person at the front door" in stdout or " no one at the front door" in stdout, stdout
    for noise in (" lost ", "could not publish", "Traceback", "WARNING", "ERROR"):
        assert noise not in stderr, stderr
    assert [m.payload for m in sub.messages if not m.retain][-1:] == [b"offline"], \
        f"the daemon did not publish offline before the broker stopped\n{stderr}"
