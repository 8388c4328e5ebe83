#!/usr/bin/env python3
"""A pool of real daemons sharing one camera's frames over MQTT 5 shared subscriptions: throughput
with 1, 2 and 4 workers, and what a worker killed mid-run loses or duplicates.

    python benchmarks/worker_pool.py [--workers 1 2 4] [--rate 50] [--seconds 30]
                                     [--kill-rate 8] [--kill-frames 300] [--json FILE]

A private Mosquitto per run (tests/support/mosquitto.py, no persistence). Each worker is a real
`edge-captioner run` process with the default bundle and the same configuration but for
`workers.member_id` and its spool directory: one camera `source: mqtt:bench/cam/jpeg`, with
`scene_change_threshold: 0` and `interval_s` = `heartbeat_s` = 0.001, so that every frame a worker
takes is captioned by the model and published. A publisher sends distinct JPEGs (the sample clip's
first frame with the frame number drawn on it) at a fixed rate (a deadline loop), QoS 1, each with
its number as the MQTT 5 user property `frame`, which the caption payload carries as `frame_id`.

* Throughput: frames at --rate (above what the workers can caption) for --seconds; captions per
  second received on the caption topic, per N. The frames not captioned were superseded: a newer
  one came before a worker was free (latest frame wins).
* Kill: 2 workers, frames at --kill-rate (below their capacity) for --kill-frames frames; worker w1
  is SIGKILLed at a third of the run and, as systemd would, restarted 3 s later (same member id:
  its session resumes), or never; and the same with `session_expiry_s: 0`. Counted per frame id:
  captioned, duplicated (captioned more than once), superseded, fenced or unchanged (captioned,
  but the text equals a caption another member had published within heartbeat_s; the workers'
  logs say which: the daemons run with -vv for these runs) and lost (none of these).

This machine's core count is printed with the figures: on 2 cores, 4 workers show saturation, not
scaling.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import paho.mqtt.client as mqtt
import yaml
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from mosquitto import MosquittoBroker  # noqa: E402

FRAME_TOPIC = "bench/cam/jpeg"
DEVICE = "bench"
CAMERA = "cam"
CAPTION_TOPIC = f"{DEVICE}/{DEVICE}/{CAMERA}/caption"  # base_topic bench, device_id bench
GROUP = "bench"
STARTUP_S = 90.0
SUPERSEDED = re.compile(r"frame (\S+) superseded before it was captioned")
FENCED = re.compile(r"caption of frame (\S+) not published")
UNCHANGED = re.compile(r"caption of frame (\S+) unchanged, not published")


def config_for(workdir: Path, port: int, member: str, expiry: int) -> Path:
    document = {
        "device_id": DEVICE,
        "mqtt": {"host": "127.0.0.1", "port": port, "protocol": "5", "base_topic": DEVICE,
                 "discovery": {"enabled": False}, "spool_dir": str(workdir / f"spool-{member}")},
        "model": {"bundle": "default"},
        "workers": {"group": GROUP, "member_id": member, "session_expiry_s": expiry},
        "cameras": [{"name": CAMERA, "source": f"mqtt:{FRAME_TOPIC}", "scene_change_threshold": 0,
                     "interval_s": 0.001, "heartbeat_s": 0.001, "stall_timeout_s": 600}],
        "logging": {"level": "INFO"},
    }
    path = workdir / f"{member}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


@dataclass
class Worker:
    """`edge-captioner run` as member `member`; each start writes a log of its own."""

    workdir: Path
    port: int
    member: str
    expiry: int
    verbose: bool
    logs: list[Path] = field(default_factory=list)
    proc: subprocess.Popen | None = None

    def start(self) -> None:
        config = config_for(self.workdir, self.port, self.member, self.expiry)
        log = self.workdir / f"{self.member}.{len(self.logs)}.log"
        self.logs.append(log)
        env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
        args = [sys.executable, "-m", "edge_captioner.cli", "run", *(["-vv"] if self.verbose else []),
                "--config", str(config)]
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=ROOT)

    def wait_running(self, timeout: float = STARTUP_S) -> None:
        deadline = time.monotonic() + timeout
        while "running:" not in self.logs[-1].read_text(errors="replace"):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker {self.member} did not start:\n"
                                 f"{self.logs[-1].read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def ids(self, pattern: re.Pattern) -> list[str]:
        return [m.group(1) for log in self.logs for m in pattern.finditer(log.read_text(errors="replace"))]


class Captions:
    """Every caption of the camera, as a consumer receives them."""

    def __init__(self, port: int):
        self.received: list[tuple[float, dict]] = []
        self._subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"bench-captions-{os.getpid()}")
        self.client.on_connect = lambda c, *a: c.subscribe(CAPTION_TOPIC, qos=1)
        self.client.on_subscribe = lambda *a: self._subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if not self._subscribed.wait(10):
            raise SystemExit("the caption subscriber did not subscribe")

    def _on_message(self, client, userdata, message) -> None:
        if message.payload and not message.retain:
            self.received.append((time.monotonic(), json.loads(message.payload)))

    def count(self) -> int:
        return len(self.received)

    def wait_quiet(self, quiet_s: float = 5.0, limit_s: float = 60.0) -> None:
        """Until no caption came for quiet_s (the workers drained what they held)."""
        deadline = time.monotonic() + limit_s
        last = (self.count(), time.monotonic())
        while time.monotonic() < deadline:
            time.sleep(0.25)
            if self.count() != last[0]:
                last = (self.count(), time.monotonic())
            elif time.monotonic() - last[1] >= quiet_s:
                return

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Frames:
    """Distinct JPEGs, published at a fixed rate."""

    def __init__(self, port: int):
        capture = cv2.VideoCapture(str(ROOT / "edge_captioner" / "data" / "sample_porch.mp4"))
        ok, image = capture.read()
        capture.release()
        assert ok, "cannot read the sample clip"
        self.base = cv2.resize(image, (320, 240), interpolation=cv2.INTER_AREA)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5,
                                  client_id=f"bench-frames-{os.getpid()}")
        self.client.max_inflight_messages_set(200)
        self.client.max_queued_messages_set(0)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.next_id = 0

    def jpeg(self, number: int) -> bytes:
        image = self.base.copy()
        cv2.putText(image, str(number), (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (255, 255, 255), 2)
        return cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()

    def publish(self, rate: float, count: int, at_frame=None) -> list[str]:
        """`count` frames at `rate` per second; at_frame(i) is called before frame i is sent."""
        ids = []
        start = time.monotonic()
        for i in range(count):
            if at_frame is not None:
                at_frame(i)
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            self.next_id += 1
            frame_id = str(self.next_id)
            properties = Properties(PacketTypes.PUBLISH)
            properties.UserProperty = [("frame", frame_id)]
            self.client.publish(FRAME_TOPIC, self.jpeg(self.next_id), qos=1, properties=properties)
            ids.append(frame_id)
        return ids

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def start_workers(workdir: Path, port: int, n: int, expiry: int, verbose: bool) -> list[Worker]:
    """n workers with member ids (and so sessions) of this run's own: a session an earlier run
    left behind must not be a member of the group."""
    workdir.mkdir(parents=True, exist_ok=True)
    workers = [Worker(workdir, port, f"{workdir.name}-w{i + 1}", expiry, verbose) for i in range(n)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.wait_running()
    time.sleep(3.0)  # the frame sources' connections and shared subscriptions
    return workers


def throughput(workdir: Path, port: int, n: int, rate: float, seconds: float) -> dict:
    workers = start_workers(workdir / f"tp{n}", port, n, 3600, verbose=False)
    captions = Captions(port)
    frames = Frames(port)
    try:
        first = captions.count()
        started = time.monotonic()
        ids = frames.publish(rate, int(rate * seconds))
        elapsed = time.monotonic() - started
        window = [p for t, p in captions.received[first:] if started <= t <= started + elapsed]
        captions.wait_quiet(quiet_s=3.0, limit_s=20.0)
    finally:
        frames.stop()
        for worker in workers:
            worker.stop()
        captions.stop()
    latency = [p["latency_ms"] for p in window]
    return {
        "workers": n, "published": len(ids), "rate": rate, "seconds": round(elapsed, 1),
        "captions_per_s": round(len(window) / elapsed, 2),
        "per_worker": dict(collections.Counter(p.get("worker") for p in window)),
        "latency_ms_median": round(statistics.median(latency), 1) if latency else None,
        "not_captioned": len(ids) - len({p.get("frame_id") for _, p in captions.received}),
    }


def kill_run(workdir: Path, port: int, rate: float, count: int, expiry: int,
             restart_after_s: float | None) -> dict:
    workers = start_workers(workdir, port, 2, expiry, verbose=True)
    captions = Captions(port)
    frames = Frames(port)
    victim = workers[0]
    kill_at, events = count // 3, {}
    restart_at = None if restart_after_s is None else kill_at + int(restart_after_s * rate)

    def at_frame(i: int) -> None:
        if i == kill_at:
            victim.kill()
            events["killed_after_frame"] = frames.next_id
        if restart_at is not None and i == restart_at:
            victim.start()
            events["restarted_after_frame"] = frames.next_id

    try:
        ids = frames.publish(rate, count, at_frame)
        if restart_at is not None:
            victim.wait_running()
        captions.wait_quiet(quiet_s=5.0, limit_s=60.0)
    finally:
        frames.stop()
        for worker in workers:
            worker.stop()
        captions.stop()
    payloads = [p for _, p in captions.received]
    counts = collections.Counter(p.get("frame_id") for p in payloads)
    superseded = {i for w in workers for i in w.ids(SUPERSEDED)}
    fenced = {i for w in workers for i in w.ids(FENCED)}
    unchanged = {i for w in workers for i in w.ids(UNCHANGED)}
    lost = [i for i in ids if i not in counts and i not in superseded | fenced | unchanged]
    stamps = [p["timestamp"] for p in payloads]
    seqs = [p["seq"] for p in payloads]
    return {
        "session_expiry_s": expiry, "restart": restart_after_s is not None, "published": len(ids),
        "rate": rate, **events,
        "captioned": len(counts), "captions": len(payloads),
        "duplicates": sum(1 for c in counts.values() if c > 1),
        "superseded": len(superseded - set(counts)), "fenced": len(fenced - set(counts)),
        "unchanged": len(unchanged - set(counts)),
        "lost": len(lost), "lost_ids": f"{lost[0]}..{lost[-1]}" if lost else "",
        "out_of_order": sum(1 for a, b in zip(stamps, stamps[1:], strict=False) if b < a),
        "seq_decreases": sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b < a),
        "per_worker": dict(collections.Counter(p.get("worker") for p in payloads)),
    }


@contextlib.contextmanager
def broker(workdir: Path):
    """A Mosquitto of the run's own: a killed member's kept session stays in its share group until
    it expires, and would take its share of a later run's frames."""
    mosquitto = MosquittoBroker(workdir, extra="max_queued_messages 10000").start()
    try:
        yield mosquitto.port
    finally:
        mosquitto.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    parser.add_argument("--rate", type=float, default=50.0, help="frames/s for the throughput runs")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--kill-rate", type=float, default=8.0, help="frames/s for the kill runs")
    parser.add_argument("--kill-frames", type=int, default=300)
    parser.add_argument("--skip-kill", action="store_true")
    parser.add_argument("--json", help="write the figures here too")
    parser.add_argument("--workdir", help="keep the configurations and logs here (default: a "
                                          "temporary directory, removed)")
    args = parser.parse_args(argv)

    version = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout.splitlines()[0]
    results: dict = {"cpus": os.cpu_count(), "mosquitto": version, "throughput": [], "kill": []}
    print(f"{os.cpu_count()} CPUs, {version}", flush=True)
    with tempfile.TemporaryDirectory(prefix="worker-pool-") as tmp:
        workdir = Path(args.workdir or tmp)
        for n in args.workers:
            with broker(workdir / f"broker-tp{n}") as port:
                row = throughput(workdir, port, n, args.rate, args.seconds)
            results["throughput"].append(row)
            print(json.dumps(row), flush=True)
        kills = () if args.skip_kill else (("kept-restart", 3600, 3.0), ("kept-no-restart", 3600, None),
                                           ("clean-restart", 0, 3.0))
        for name, expiry, restart in kills:
            with broker(workdir / f"broker-{name}") as port:
                row = kill_run(workdir / name, port, args.kill_rate, args.kill_frames, expiry, restart)
            results["kill"].append(row)
            print(json.dumps(row), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
