"""The daemon as a subprocess for the service tests: its configuration, its environment, a runner
that keeps its log, and waits on what it publishes (see service/test_daemon.py's docstring)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from support.mosquitto import (
    MQTTCollector,
)
from support.paths import REPO as ROOT
from support.paths import SAMPLE_CLIP

CAMERA = "front_door"
STARTUP_S = 40.0  # interpreter + TFLite + first connection, on a busy 2-core machine
REQUIRED_FIELDS = {"camera", "caption", "confidence", "language", "timestamp", "model", "latency_ms",
                   "seq"}


# -- brokers and names ---------------------------------------------------------------------------------------
@dataclass
class Names:
    device_id: str
    base_topic: str
    prefix: str  # Home Assistant discovery prefix

    @property
    def base(self) -> str:
        return f"{self.base_topic}/{self.device_id}"

    def topic(self, leaf: str) -> str:
        return f"{self.base}/{CAMERA}/{leaf}"

    @property
    def status(self) -> str:
        return f"{self.base}/status"


def write_config(path: Path, names: Names, bundle: Path, port: int, *, mqtt: dict | None = None,
                 **camera) -> Path:
    camera = {"name": CAMERA, "source": "sample", "interval_s": 0.3, "heartbeat_s": 1.0, **camera}
    document = {
        "device_id": names.device_id,
        "mqtt": {"host": "127.0.0.1", "port": port, "base_topic": names.base_topic,
                 "discovery": {"enabled": True, "prefix": names.prefix}, **(mqtt or {})},
        "model": {"bundle": str(bundle)},
        "cameras": [camera],
        "logging": {"level": "INFO"},
    }
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# -- the daemon as a subprocess ------------------------------------------------------------------------------
def child_env(**extra: str) -> dict[str, str]:
    """This environment without anything that would change the child's behaviour behind our back
    (systemd's variables, the daemon's own), plus PYTHONPATH to this checkout."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
           and not key.startswith("EDGE_CAPTIONER_")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env.update(extra)
    return env


def cli(*args: object, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edge_captioner.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env or child_env(),
                          cwd=ROOT)


class Daemon:
    """`edge-captioner run --config FILE` in the background; stderr goes to `log_path`."""

    def __init__(self, config: Path, log_path: Path, env: dict[str, str],
                 extra_args: tuple[str, ...] = ()):
        self.config = config
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edge_captioner.cli", "run", *extra_args, "--config",
                 str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def tail(self, chars: int = 4000) -> str:
        return f"\n--- daemon log ({self.log_path}) ---\n{self.log()[-chars:]}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_log(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """The first match of the regular expression `pattern` in the log, waiting for it."""
        deadline = time.monotonic() + timeout
        while True:
            found = re.search(pattern, self.log())
            if found:
                return found
            if not self.alive():
                raise AssertionError(f"daemon exited ({self.proc.returncode}) before logging "
                                     f"{pattern!r}{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{pattern!r} not in the daemon log after {timeout} s{self.tail()}")
            time.sleep(0.05)

    def signal(self, signum: int, timeout: float = 15.0) -> int:
        """Send `signum`, return the exit code (the test fails if it does not exit in `timeout`)."""
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"daemon still running {timeout} s after {signal.Signals(signum).name}"
                                 f"{self.tail()}") from None

    def kill(self) -> None:
        if self.alive():
            self.proc.kill()
        self.proc.wait(10)

    def cpu_seconds(self) -> float:
        """utime + stime of the whole process (all threads) from /proc/<pid>/stat."""
        stat = Path(f"/proc/{self.pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()  # fields[0] is field 3 (state); comm may hold spaces
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- helpers -------------------------------------------------------------------------------------------------
def captions(sub: MQTTCollector, names: Names) -> list[dict]:
    return [json.loads(m.payload) for m in sub.on(names.topic("caption"))]


def wait_captions(sub: MQTTCollector, names: Names, count: int, timeout: float,
                  daemon: Daemon | None = None) -> list[dict]:
    """At least `count` captions in all; the daemon's log in the message when they do not come."""
    try:
        sub.wait_for(lambda m: m.topic == names.topic("caption"), count=count, timeout=timeout)
    except TimeoutError as exc:
        raise AssertionError(f"{exc}{daemon.tail() if daemon else ''}") from None
    return captions(sub, names)


def wait_payload(sub: MQTTCollector, topic: str, payload: bytes, timeout: float,
                 daemon: Daemon | None = None, after: int = 0) -> None:
    """`payload` on `topic` among the messages received from index `after` on."""
    def arrived() -> bool:
        return any(m.topic == topic and m.payload == payload for m in sub.messages[after:])

    try:
        wait_until(arrived, timeout, f"{payload!r} on {topic}", daemon)
    except AssertionError as exc:
        seen = [(m.topic, m.payload[:40]) for m in sub.messages[after:][-8:]]
        raise AssertionError(f"{exc}\nlast seen: {seen}") from None


def retained(port: int, topic_filter: str, settle: float = 0.4, **auth) -> dict:
    """What a NEW subscriber gets from the retained store: {topic: Received}."""
    with MQTTCollector(port, [topic_filter], **auth) as sub:
        time.sleep(settle)
    return {m.topic: m for m in sub.messages if m.retain}


def wait_until(predicate, timeout: float, what: str, daemon: Daemon | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout} s{daemon.tail() if daemon else ''}")
        time.sleep(0.05)


def sample_frames(*indices: int) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(SAMPLE_CLIP))
    frames, i = {}, 0
    while len(frames) < len(indices):
        ok, image = capture.read()
        assert ok, f"sample clip has no frame {i}"
        if i in indices:
            frames[i] = image
        i += 1
    capture.release()
    return [frames[i] for i in indices]


class SceneSource:
    """Frames for MJPEGServer: scene A only (static), or A and B alternating every 5 frames."""

    def __init__(self, scenes: tuple[bytes, bytes]):
        self.scenes = scenes
        self.alternate = False

    def __call__(self, i: int) -> bytes:
        return self.scenes[1] if self.alternate and (i // 5) % 2 else self.scenes[0]


def static_clip(path: Path, seconds: float = 2.0, fps: int = 10) -> Path:
    """A clip of one picture with a little sensor noise on every frame (Motion-JPEG in AVI)."""
    rng = np.random.default_rng(5)
    image = np.full((240, 320, 3), 90, np.uint8)
    cv2.rectangle(image, (40, 60), (140, 200), (30, 160, 30), -1)
    cv2.circle(image, (230, 110), 50, (200, 80, 20), -1)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (320, 240))
    assert writer.isOpened(), "this OpenCV cannot write Motion-JPEG AVI"
    for _ in range(int(seconds * fps)):
        noise = rng.normal(0, 2.0, image.shape)
        writer.write(np.clip(image + noise, 0, 255).astype(np.uint8))
    writer.release()
    return path
